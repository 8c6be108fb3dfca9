//! Checkout webhook signatures.
//!
//! PayPal signs `{transmission id}|{transmission time}|{webhook id}|{CRC32 of the raw body, decimal}` with
//! SHA256withRSA; the certificate is at `PAYPAL-CERT-URL`. We accept that URL only over HTTPS on a PayPal
//! host (`paypal.com` or a subdomain), fetch it once per URL (cached), check its chain to a public root
//! (webpki's path building, PayPal's certificates chain to a public CA) at the message's verification time,
//! then the signature. The simulator's CA is trusted instead only in simulator mode (see
//! [`WebhookTrust::simulator`]). Alternatively (`paypal.webhook_verification = "api"`) PayPal's
//! `verify-webhook-signature` API is asked.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};

/// The only signature algorithm PayPal uses for webhooks (`PAYPAL-AUTH-ALGO`).
const AUTH_ALGO: &str = "SHA256withRSA";
/// How many certificate chains are kept (PayPal rotates its certificate rarely; a bound keeps a flood of
/// distinct URLs from growing memory).
const CACHE_MAX: usize = 16;
/// The largest certificate file read.
const CERT_MAX_BYTES: usize = 64 * 1024;

/// The string PayPal signs for a webhook: `{transmission id}|{time}|{webhook id}|{CRC32 of the body}` (the
/// CRC32 in decimal). The simulator signs the same string (feature `simulator`).
pub fn webhook_signed_string(transmission_id: &str, transmission_time: &str, webhook_id: &str, body: &[u8]) -> String {
    format!(
        "{transmission_id}|{transmission_time}|{webhook_id}|{}",
        crc32fast::hash(body)
    )
}

/// Why a webhook's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SignatureError {
    /// A header the signature needs is missing or unusable.
    #[error("{0}")]
    Headers(String),
    /// The certificate URL is not one we fetch from.
    #[error("certificate URL refused: {0}")]
    CertUrl(String),
    /// The certificate does not chain to a trusted root, or is not valid now.
    #[error("certificate not trusted: {0}")]
    Certificate(String),
    /// The signature does not match the message (tampered body, another webhook id...).
    #[error("the signature does not match")]
    Mismatch,
}

/// The headers of one webhook, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transmission<'a> {
    pub id: &'a str,
    pub time: &'a str,
    pub signature: Vec<u8>,
    pub cert_url: &'a str,
    pub algo: &'a str,
}

impl<'a> Transmission<'a> {
    pub(crate) fn read(headers: &'a BTreeMap<String, String>) -> Result<Self, SignatureError> {
        let get = |name: &str| {
            headers
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| SignatureError::Headers(format!("header {name} is missing")))
        };
        let algo = get("paypal-auth-algo")?;
        if algo != AUTH_ALGO {
            return Err(SignatureError::Headers(format!(
                "PAYPAL-AUTH-ALGO {} is not {AUTH_ALGO}",
                algo.chars().take(32).collect::<String>()
            )));
        }
        let signature = base64::engine::general_purpose::STANDARD
            .decode(get("paypal-transmission-sig")?)
            .map_err(|_| SignatureError::Headers("PAYPAL-TRANSMISSION-SIG is not base64".into()))?;
        Ok(Transmission {
            id: get("paypal-transmission-id")?,
            time: get("paypal-transmission-time")?,
            signature,
            cert_url: get("paypal-cert-url")?,
            algo,
        })
    }
}

/// Which certificates a webhook may be signed with.
#[derive(Debug, Clone)]
pub(crate) struct WebhookTrust {
    anchors: Vec<TrustAnchor<'static>>,
    /// `None`: HTTPS on a PayPal host. `Some(prefix)`: the simulator's own URL (simulator mode only).
    cert_url_prefix: Option<String>,
}

impl WebhookTrust {
    /// PayPal's: certificates on PayPal's HTTPS hosts, chained to the public roots (Mozilla's list, as
    /// webpki-roots ships it).
    pub(crate) fn paypal() -> Self {
        WebhookTrust {
            anchors: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            cert_url_prefix: None,
        }
    }

    /// The simulator's: certificates under `cert_url_prefix`, chained to the CA in `ca_pem`. Only for a
    /// gateway in simulator mode (`PaypalGateway::with_simulator_webhook_trust` refuses any other).
    pub(crate) fn simulator(ca_pem: &[u8], cert_url_prefix: &str) -> Result<Self, String> {
        let ca = CertificateDer::from_pem_slice(ca_pem).map_err(|e| format!("simulator CA: {e}"))?;
        let anchor = webpki::anchor_from_trusted_cert(&ca)
            .map_err(|e| format!("simulator CA: {e}"))?
            .to_owned();
        Ok(WebhookTrust {
            anchors: vec![anchor],
            cert_url_prefix: Some(cert_url_prefix.to_owned()),
        })
    }

    /// Whether certificates may be fetched from `url`.
    pub(crate) fn check_cert_url(&self, url: &str) -> Result<(), SignatureError> {
        let refuse = |why: &str| Err(SignatureError::CertUrl(why.to_owned()));
        if let Some(prefix) = &self.cert_url_prefix {
            return if url.starts_with(prefix.as_str()) && !url.contains("..") {
                Ok(())
            } else {
                refuse("not the simulator's certificate")
            };
        }
        let Ok(parsed) = url::Url::parse(url) else {
            return refuse("not a URL");
        };
        if parsed.scheme() != "https" {
            return refuse("not https");
        }
        if !parsed.username().is_empty() || parsed.password().is_some() || parsed.port().is_some() {
            return refuse("credentials or a port in the URL");
        }
        match parsed.host() {
            Some(url::Host::Domain(host)) if host == "paypal.com" || host.ends_with(".paypal.com") => Ok(()),
            _ => refuse("not a PayPal host"),
        }
    }
}

/// Checks a certificate chain (PEM, leaf first) and the signature of `body`, at `now`.
pub(crate) fn check_signature(
    trust: &WebhookTrust,
    chain_pem: &[u8],
    transmission: &Transmission<'_>,
    webhook_id: &str,
    body: &[u8],
    now: UnixTime,
) -> Result<(), SignatureError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| SignatureError::Certificate(format!("unreadable PEM ({e})")))?;
    let (leaf, intermediates) = chain
        .split_first()
        .ok_or_else(|| SignatureError::Certificate("no certificate".into()))?;
    let leaf = webpki::EndEntityCert::try_from(leaf).map_err(|e| SignatureError::Certificate(e.to_string()))?;
    leaf.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &trust.anchors,
        intermediates,
        now,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(|e| SignatureError::Certificate(e.to_string()))?;
    let signed = webhook_signed_string(transmission.id, transmission.time, webhook_id, body);
    leaf.verify_signature(
        webpki::ring::RSA_PKCS1_2048_8192_SHA256,
        signed.as_bytes(),
        &transmission.signature,
    )
    .map_err(|_| SignatureError::Mismatch)
}

/// The certificate chains fetched, by URL.
#[derive(Debug, Default)]
pub(crate) struct CertCache {
    chains: tokio::sync::Mutex<HashMap<String, Arc<Vec<u8>>>>,
}

impl CertCache {
    /// The chain at `url` (already checked with [`WebhookTrust::check_cert_url`]), fetched once.
    /// `Err` is a reason to try again later (PayPal unreachable).
    pub(crate) async fn get(&self, client: &reqwest::Client, url: &str) -> Result<Arc<Vec<u8>>, String> {
        if let Some(chain) = self.chains.lock().await.get(url) {
            return Ok(chain.clone());
        }
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|_| "the certificate could not be fetched".to_owned())?;
        if !response.status().is_success() {
            return Err(format!(
                "the certificate URL answered HTTP {}",
                response.status().as_u16()
            ));
        }
        let body = response
            .bytes()
            .await
            .map_err(|_| "the certificate could not be read".to_owned())?;
        if body.len() > CERT_MAX_BYTES {
            return Err("the certificate file is too large".into());
        }
        let chain = Arc::new(body.to_vec());
        let mut chains = self.chains.lock().await;
        if chains.len() >= CACHE_MAX {
            chains.clear();
        }
        chains.insert(url.to_owned(), chain.clone());
        Ok(chain)
    }
}

#[cfg(test)]
mod tests {
    //! Vectors made with our own CA and key (tests/fixtures/paypal_webhook, see its README): a webhook
    //! signed as PayPal signs, then tampered with one piece at a time.
    use super::*;

    const CA: &[u8] = include_bytes!("../../../tests/fixtures/paypal_webhook/ca.pem");
    const CHAIN: &[u8] = include_bytes!("../../../tests/fixtures/paypal_webhook/chain.pem");
    const KEY: &[u8] = include_bytes!("../../../tests/fixtures/paypal_webhook/leaf.pk8");
    const FOREIGN_CHAIN: &[u8] = include_bytes!("../../../tests/fixtures/paypal_webhook/foreign_chain.pem");
    const FOREIGN_KEY: &[u8] = include_bytes!("../../../tests/fixtures/paypal_webhook/foreign_leaf.pk8");
    const WEBHOOK_ID: &str = "8PT597110X687430LKGECATA";
    const BODY: &[u8] = br#"{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{}}"#;

    #[test]
    fn the_signed_string_joins_the_transmission_the_webhook_id_and_the_bodys_crc32_in_decimal() {
        assert_eq!(
            webhook_signed_string("t1", "2026-12-04T10:00:00Z", "WH1", b"{}"),
            "t1|2026-12-04T10:00:00Z|WH1|2745614147"
        );
    }

    fn sign(key: &[u8], message: &str) -> String {
        let pair = ring::signature::RsaKeyPair::from_pkcs8(key).unwrap();
        let mut sig = vec![0; pair.public().modulus_len()];
        pair.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            message.as_bytes(),
            &mut sig,
        )
        .unwrap();
        base64::engine::general_purpose::STANDARD.encode(sig)
    }

    fn headers(key: &[u8], webhook_id: &str, body: &[u8]) -> BTreeMap<String, String> {
        let (id, time) = ("b2384410-f8d2-11e8-8d57-6b7d8bb7b5e6", "2026-12-04T10:00:00Z");
        [
            ("paypal-transmission-id", id.to_owned()),
            ("paypal-transmission-time", time.to_owned()),
            (
                "paypal-transmission-sig",
                sign(key, &webhook_signed_string(id, time, webhook_id, body)),
            ),
            (
                "paypal-cert-url",
                "https://api.paypal.com/v1/notifications/certs/CERT-1".to_owned(),
            ),
            ("paypal-auth-algo", "SHA256withRSA".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    fn trust() -> WebhookTrust {
        let mut trust = WebhookTrust::simulator(CA, "unused").unwrap();
        trust.cert_url_prefix = None;
        trust
    }

    fn now() -> UnixTime {
        UnixTime::now()
    }

    fn check(
        chain: &[u8],
        headers: &BTreeMap<String, String>,
        webhook_id: &str,
        body: &[u8],
        at: UnixTime,
    ) -> Result<(), SignatureError> {
        let t = Transmission::read(headers)?;
        check_signature(&trust(), chain, &t, webhook_id, body, at)
    }

    #[test]
    fn a_webhook_signed_with_a_trusted_certificate_passes() {
        let h = headers(KEY, WEBHOOK_ID, BODY);
        assert_eq!(check(CHAIN, &h, WEBHOOK_ID, BODY, now()), Ok(()));
    }

    #[test]
    fn a_tampered_body_fails() {
        let h = headers(KEY, WEBHOOK_ID, BODY);
        let tampered = br#"{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED","resource":{"x":1}}"#;
        assert_eq!(
            check(CHAIN, &h, WEBHOOK_ID, tampered, now()),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_webhook_signed_for_another_webhook_id_fails() {
        let h = headers(KEY, "OTHERWEBHOOK0000000000000", BODY);
        assert_eq!(check(CHAIN, &h, WEBHOOK_ID, BODY, now()), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_certificate_from_another_ca_fails_even_with_a_matching_signature() {
        let h = headers(FOREIGN_KEY, WEBHOOK_ID, BODY);
        assert!(matches!(
            check(FOREIGN_CHAIN, &h, WEBHOOK_ID, BODY, now()),
            Err(SignatureError::Certificate(_))
        ));
    }

    #[test]
    fn an_expired_certificate_fails() {
        let h = headers(KEY, WEBHOOK_ID, BODY);
        // The fixture's certificate is valid for ten years from its making; a hundred years on it is not.
        let later = UnixTime::since_unix_epoch(std::time::Duration::from_secs(now().as_secs() + 100 * 365 * 86400));
        assert!(matches!(
            check(CHAIN, &h, WEBHOOK_ID, BODY, later),
            Err(SignatureError::Certificate(_))
        ));
    }

    #[test]
    fn a_signature_with_another_algorithm_or_missing_headers_fails() {
        let mut h = headers(KEY, WEBHOOK_ID, BODY);
        h.insert("paypal-auth-algo".into(), "SHA1withRSA".into());
        assert!(matches!(Transmission::read(&h), Err(SignatureError::Headers(_))));
        let mut h = headers(KEY, WEBHOOK_ID, BODY);
        h.remove("paypal-transmission-sig");
        assert!(matches!(Transmission::read(&h), Err(SignatureError::Headers(_))));
    }

    #[test]
    fn certificates_are_fetched_only_over_https_from_paypal_hosts() {
        let paypal = WebhookTrust::paypal();
        for good in [
            "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77",
            "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1",
        ] {
            assert_eq!(paypal.check_cert_url(good), Ok(()), "{good}");
        }
        for bad in [
            "http://api.paypal.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com.evil.example/cert",
            "https://evilpaypal.com/cert",
            "https://paypal.com@evil.example/cert",
            "https://api.paypal.com:8443/cert",
            "https://127.0.0.1/cert",
            "file:///etc/passwd",
        ] {
            assert!(paypal.check_cert_url(bad).is_err(), "{bad}");
        }
        let simulator = WebhookTrust::simulator(CA, "http://127.0.0.1:8080/simulator/paypal/certs/").unwrap();
        assert_eq!(
            simulator.check_cert_url("http://127.0.0.1:8080/simulator/paypal/certs/webhook.pem"),
            Ok(())
        );
        assert!(
            simulator
                .check_cert_url("https://api.paypal.com/v1/notifications/certs/CERT-1")
                .is_err()
        );
    }
}

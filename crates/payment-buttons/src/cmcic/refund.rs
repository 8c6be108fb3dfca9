//! Refunds: the bank's "recrédit" service (`recredit_paiement.cgi`), called server to server.
//!
//! A refund is a form posted to [`CmcicConfig::recredit_url`], sealed with the merchant key like every
//! request ([`recredit_seal`]): the order (`reference`, `date_commande`, `montant`), the payment as the
//! bank settled it (`num_autorisation`, `date_remise`), this refund (`montant_recredit`) and what could
//! still be refunded before it (`montant_possible`). The bank answers in plain text, one `name=value` a
//! line; its `cdr` says what happened ([`interpret`]).
//!
//! The return ("CGI2") carries the authorisation number (`numauto`, the payment's gateway reference) but no
//! `date_remise`: with the immediate capture our payment form asks for, the payment is remitted on the day
//! it is authorised, so the date part of the accepted return's `date` is the remittance date.
//! [`super::status`] records it in the payment's details (`date_remise`) when the return says
//! `paiement`/`payetest`.
//!
//! The bank takes no idempotency key and sends no notification of a recredit: an answer that is missing or
//! unreadable leaves the refund [`RefundAnswer::Unknown`] (never sent again by itself); a `cdr=0` is the
//! only success, keyed [`idempotency_key`].
//!
//! Building, sealing and reading need no HTTP client; the call itself (`CmcicRefunds`) is behind the
//! `reqwest` feature, and the simulated bank reads and answers with the same code (feature `simulator`):
//! without either, only the remittance date and the idempotency key are used.
#![cfg_attr(not(any(feature = "reqwest", feature = "simulator")), allow(dead_code))]

use std::collections::BTreeMap;

use super::config::{CmcicConfig, VERSION};
use super::hand_off::ascii_safe;
use super::mac::{self, MAC_FIELD, Protocol};
use crate::gateway::{RefundAnswer, RefundRequest, StoredPaymentFacts};
use crate::money::Money;
use crate::urlencoded::FormFields;

/// The payment detail holding the remittance date (`dd/mm/yyyy`) sent as `date_remise`.
pub(crate) const DATE_REMISE_DETAIL: &str = "date_remise";

/// The language of the bank's answer (`lgue`): the `lib` texts are read by operators.
const ANSWER_LANGUAGE: &str = "FR";

/// Longest part of our refund id copied into `texte-libre`.
const TEXTE_LIBRE_MAX: usize = 64;

/// Longest bank text (`lib`) kept in a reason.
const LIB_MAX: usize = 200;

/// The key under which a successful recredit is applied once: the bank sends no notification of it, so it
/// is ours, derived from our refund id.
pub(crate) fn idempotency_key(refund_id: &str) -> String {
    format!("recredit:{refund_id}")
}

/// What the protocol needs from the stored payment to refund it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecreditBasis {
    /// The bank's authorisation number of the payment (`num_autorisation`).
    pub num_autorisation: String,
    /// The day of the order, as our payment form's `date` gave it (`date_commande`, `dd/mm/yyyy`).
    pub date_commande: String,
    /// The day the payment was remitted (`date_remise`, `dd/mm/yyyy`).
    pub date_remise: String,
}

/// Reads what a refund of `payment` needs, or says (for the operator or the shop) why it cannot be
/// refunded through the bank's service. No network.
pub(crate) fn basis(config: &CmcicConfig, payment: &StoredPaymentFacts<'_>) -> Result<RecreditBasis, String> {
    if let Some(tpe) = payment.receiver
        && tpe != config.tpe()
    {
        return Err(format!(
            "the payment was made to the bank terminal {tpe}, not to this service's ({}): refund it from that terminal's back office",
            config.tpe()
        ));
    }
    let detail = |name: &str| {
        payment
            .details
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
    };
    // The authorisation number is the payment's gateway reference (the return's `numauto`).
    let num_autorisation = payment
        .gateway_reference
        .filter(|n| n.len() <= 32 && n.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or_else(|| {
            "the bank's authorisation number of this payment is not recorded: refund it from the bank's back office"
                .to_owned()
        })?;
    let date_remise = detail(DATE_REMISE_DETAIL)
        .filter(|d| is_day(d))
        .ok_or_else(|| {
            "the day the bank remitted this payment is not recorded (payments accepted before refunds were supported): refund it from the bank's back office"
                .to_owned()
        })?;
    Ok(RecreditBasis {
        num_autorisation: num_autorisation.to_owned(),
        date_commande: payment.created_at.format("%d/%m/%Y").to_string(),
        date_remise: date_remise.to_owned(),
    })
}

/// `dd/mm/yyyy`, the only day format the service takes.
fn is_day(text: &str) -> bool {
    chrono::NaiveDate::parse_from_str(text, "%d/%m/%Y").is_ok() && text.len() == 10
}

/// The remittance day of an accepted return, from its `date` (`dd/mm/yyyy_a_hh:mm:ss`, or the same with
/// `:` in place of `_a_`): `None` when it is not such a date.
pub(crate) fn remittance_day(return_date: &str) -> Option<String> {
    let day = return_date.get(..10)?;
    is_day(day).then(|| day.to_owned())
}

/// `12.50EUR`, as every amount of the protocol is written.
fn montant(amount: Money) -> String {
    format!("{amount}{}", amount.currency().code())
}

/// The sealed form of one refund, in the order posted (`MAC` last), or why it cannot be sent (the payment
/// lacks what the protocol needs, or the amount is not refundable): nothing is sent then.
pub fn request_fields(config: &CmcicConfig, request: &RefundRequest<'_>) -> Result<Vec<(String, String)>, String> {
    let payment = &request.payment;
    let basis = basis(config, payment)?;
    if request.amount.currency() != payment.amount.currency() {
        return Err(format!(
            "the refund is in {}, the payment in {}",
            request.amount.currency().code(),
            payment.amount.currency().code()
        ));
    }
    if !request.amount.is_positive() {
        return Err("a refund must be more than zero".into());
    }
    let possible = payment
        .amount
        .checked_sub(payment.refunded_before)
        .filter(|left| left.is_positive())
        .ok_or_else(|| "nothing is left to refund on this payment".to_owned())?;
    if request.amount.minor_units() > possible.minor_units() {
        return Err(format!("only {} is left to refund on this payment", montant(possible)));
    }
    let mut fields: Vec<(String, String)> = vec![
        ("version".into(), VERSION.into()),
        ("TPE".into(), config.tpe().to_owned()),
        ("date".into(), request.now.format("%d/%m/%Y:%H:%M:%S").to_string()),
        ("date_commande".into(), basis.date_commande),
        ("date_remise".into(), basis.date_remise),
        ("num_autorisation".into(), basis.num_autorisation),
        ("montant".into(), montant(payment.amount)),
        ("montant_recredit".into(), montant(request.amount)),
        ("montant_possible".into(), montant(possible)),
        ("reference".into(), payment.payment_id.as_str().to_owned()),
        (
            "texte-libre".into(),
            format!("refund={}", ascii_safe(request.refund_id, TEXTE_LIBRE_MAX)),
        ),
        ("lgue".into(), ANSWER_LANGUAGE.into()),
        ("societe".into(), config.societe().to_owned()),
    ];
    let seal = recredit_seal(config, &fields);
    fields.push((MAC_FIELD.into(), seal));
    Ok(fields)
}

/// The string a recredit's seal covers, in the configured protocol.
fn sealed_input(config: &CmcicConfig, form: &FormFields) -> Vec<u8> {
    match config.protocol() {
        Protocol::Monetico => mac::monetico_input(form),
        Protocol::Legacy => mac::legacy_recredit_input(form),
    }
}

/// The seal of a recredit's fields (a `MAC` among them is ignored), lower-case hex.
pub fn recredit_seal(config: &CmcicConfig, fields: &[(String, String)]) -> String {
    let mut form = FormFields::new();
    for (name, value) in fields {
        form.push(name.as_bytes(), value.as_bytes());
    }
    mac::seal_hex(config.key(), &sealed_input(config, &form))
}

/// True when a recredit form's `MAC` seals its other fields, as the bank checks it (the simulator uses it).
#[cfg(any(feature = "simulator", test))]
pub fn recredit_seal_matches(config: &CmcicConfig, form: &FormFields) -> bool {
    match form.get(MAC_FIELD) {
        Some(received) => mac::seal_matches(config.key(), &sealed_input(config, form), received),
        None => false,
    }
}

/// The bank's answer: `name=value` lines (`\n` or `\r\n`); lines without `=` are skipped, a repeated name
/// keeps its first value.
pub(crate) fn parse_answer(body: &[u8]) -> BTreeMap<String, String> {
    let text = String::from_utf8_lossy(body);
    let mut fields = BTreeMap::new();
    for line in text.split(['\n', '\r']) {
        if let Some((name, value)) = line.split_once('=') {
            fields
                .entry(name.trim().to_owned())
                .or_insert_with(|| value.trim().to_owned());
        }
    }
    fields
}

/// An answer in the bank's shape (for the simulator and for tests' stubs).
#[cfg(any(feature = "simulator", test))]
pub fn answer_body(reference: &str, cdr: i32, lib: &str) -> String {
    format!("version=1.0\nreference={reference}\ncdr={cdr}\nlib={lib}\n")
}

/// What the bank's answer (HTTP status and body) to the recredit of `reference` (our payment id) means.
///
/// - `cdr=0`: done. [`RefundAnswer::Succeeded`], keyed `recredit:{refund_id}`.
/// - a negative `cdr` (`-46` already fully refunded, `-48` refused...): the bank refused, with its `lib`.
/// - anything else (another HTTP status than 200, no `cdr`, a `cdr` this library does not know, an answer
///   about another order): [`RefundAnswer::Unknown`], for an operator to check at the bank. Never
///   [`RefundAnswer::Retry`]: without an idempotency key, sending it again could refund twice.
pub fn interpret(status: u16, body: &[u8], reference: &str, refund_id: &str) -> RefundAnswer {
    let unknown = |why: String| RefundAnswer::Unknown {
        reason: format!("{why}: the refund may or may not have been made; check it in the bank's back office"),
    };
    if status != 200 {
        return unknown(format!("the bank answered HTTP {status}"));
    }
    let fields = parse_answer(body);
    if let Some(named) = fields.get("reference")
        && named != reference
    {
        return unknown("the bank's answer is about another order".into());
    }
    let lib: String = fields
        .get("lib")
        .map(|l| l.chars().filter(|c| !c.is_control()).take(LIB_MAX).collect())
        .unwrap_or_default();
    match fields.get("cdr").map(|c| c.parse::<i32>()) {
        Some(Ok(0)) => RefundAnswer::Succeeded {
            gateway_refund_id: None,
            idempotency_key: idempotency_key(refund_id),
        },
        Some(Ok(cdr)) if cdr < 0 => RefundAnswer::Failed {
            reason: if lib.is_empty() {
                format!("the bank refused the refund (cdr={cdr})")
            } else {
                format!("the bank refused the refund (cdr={cdr}): {lib}")
            },
        },
        Some(Ok(cdr)) => unknown(format!("the bank answered cdr={cdr}, which this library does not know")),
        Some(Err(_)) | None => unknown("the bank's answer has no readable cdr".into()),
    }
}

#[cfg(feature = "reqwest")]
pub use client::{CmcicRefunds, DEFAULT_TIMEOUT};

#[cfg(feature = "reqwest")]
mod client {
    use std::time::Duration;

    use chrono::Utc;

    use super::{basis, interpret, request_fields};
    use crate::cmcic::config::CmcicConfig;
    use crate::gateway::{
        GatewayCall, GatewayError, RefundAnswer, RefundAttempt, RefundRequest, Refunds, StoredPaymentFacts,
    };

    /// How long one recredit may take before its outcome is [`RefundAnswer::Unknown`].
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// The answer is a few short lines; anything longer is an error page, kept no longer than this.
    const MAX_ANSWER_BYTES: usize = 16 * 1024;

    const USER_AGENT: &str = concat!("librement-pay/", env!("CARGO_PKG_VERSION"));

    /// CM-CIC's [`Refunds`]: the recredit posted over HTTPS (feature `reqwest`).
    #[derive(Debug, Clone)]
    pub struct CmcicRefunds {
        config: CmcicConfig,
        url: String,
        client: reqwest::Client,
    }

    impl CmcicRefunds {
        /// Refunds posted to `url` (usually [`CmcicConfig::recredit_url`]), giving up after `timeout`.
        pub fn new(config: CmcicConfig, url: impl Into<String>, timeout: Duration) -> Result<Self, GatewayError> {
            // reqwest is built without a default crypto provider; one installed elsewhere is as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(10)))
                .user_agent(USER_AGENT)
                // A redirect would post the form again elsewhere: never follow one.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| GatewayError::client("cmcic recredit client", e))?;
            Ok(CmcicRefunds {
                config,
                url: url.into(),
                client,
            })
        }

        /// The URL refunds are posted to.
        pub fn url(&self) -> &str {
            &self.url
        }
    }

    #[async_trait::async_trait]
    impl Refunds for CmcicRefunds {
        fn check(&self, payment: &StoredPaymentFacts<'_>) -> Result<(), String> {
            basis(&self.config, payment).map(|_| ())
        }

        async fn refund(&self, request: &RefundRequest<'_>) -> RefundAttempt {
            // An attempt was sent before and its answer never came back (the process stopped during the
            // call): the bank may have refunded, and the recredit has no idempotency key, so sending it
            // again could refund twice. Only an operator can tell.
            if let Some(sent) = request.first_sent_at {
                return RefundAttempt {
                    calls: Vec::new(),
                    answer: RefundAnswer::Unknown {
                        reason: format!(
                            "an earlier attempt was sent to the bank at {} and its answer was lost; the refund \
                             may or may not have been made: check it in the bank's back office",
                            sent.format("%Y-%m-%d %H:%M:%S UTC")
                        ),
                    },
                };
            }
            let fields = match request_fields(&self.config, request) {
                Ok(fields) => fields,
                // Nothing was sent: a final answer the engine can show.
                Err(reason) => {
                    return RefundAttempt {
                        calls: Vec::new(),
                        answer: RefundAnswer::Failed { reason },
                    };
                }
            };
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&fields)
                .finish();
            let sent = self
                .client
                .post(&self.url)
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await;
            let mut response = match sent {
                Ok(response) => response,
                Err(e) => {
                    return RefundAttempt {
                        calls: Vec::new(),
                        answer: RefundAnswer::Unknown {
                            reason: format!(
                                "{}: the refund may or may not have been made; check it in the bank's back office",
                                describe(&e)
                            ),
                        },
                    };
                }
            };
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let mut answer = Vec::new();
            let mut broken = None;
            while answer.len() < MAX_ANSWER_BYTES {
                match response.chunk().await {
                    Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
                    Ok(None) => break,
                    Err(e) => {
                        broken = Some(describe(&e));
                        break;
                    }
                }
            }
            answer.truncate(MAX_ANSWER_BYTES);
            let meaning = match &broken {
                // Half an answer is no answer: the part received is still logged.
                Some(why) => RefundAnswer::Unknown {
                    reason: format!(
                        "{why}: the refund may or may not have been made; check it in the bank's back office"
                    ),
                },
                None => interpret(status, &answer, request.payment.payment_id.as_str(), request.refund_id),
            };
            RefundAttempt {
                calls: vec![GatewayCall {
                    received_at: Utc::now(),
                    request: format!("POST {}", self.url),
                    status,
                    content_type,
                    body: answer,
                }],
                answer: meaning,
            }
        }
    }

    /// A short reason. reqwest's own messages are not used: they are long and carry the URL.
    fn describe(error: &reqwest::Error) -> String {
        if error.is_timeout() {
            "the bank did not answer in time".to_owned()
        } else if error.is_connect() {
            "the bank's server could not be reached".to_owned()
        } else if error.is_body() || error.is_decode() {
            "the bank's answer could not be read".to_owned()
        } else {
            "the request to the bank failed".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_with_either_line_ending_and_keep_the_first_value() {
        let fields = parse_answer(b"version=1.0\r\nreference=R\r\ncdr=0\r\ncdr=-1\nlib=a=b\nnoise");
        assert_eq!(fields["cdr"], "0");
        assert_eq!(fields["lib"], "a=b");
        assert!(!fields.contains_key("noise"));
    }

    #[test]
    fn only_cdr_zero_about_our_order_is_a_success() {
        assert_eq!(
            interpret(200, answer_body("R", 0, "ok").as_bytes(), "R", "rf1"),
            RefundAnswer::Succeeded {
                gateway_refund_id: None,
                idempotency_key: "recredit:rf1".into()
            }
        );
        assert!(matches!(
            interpret(200, answer_body("OTHER", 0, "ok").as_bytes(), "R", "rf1"),
            RefundAnswer::Unknown { .. }
        ));
        assert!(matches!(
            interpret(200, b"cdr=0\n", "R", "rf1"),
            RefundAnswer::Succeeded { .. }
        ));
    }

    #[test]
    fn negative_codes_are_refusals_with_the_banks_text() {
        let answer = interpret(
            200,
            answer_body("R", -46, "commande deja recreditee").as_bytes(),
            "R",
            "rf1",
        );
        assert_eq!(
            answer,
            RefundAnswer::Failed {
                reason: "the bank refused the refund (cdr=-46): commande deja recreditee".into()
            }
        );
    }

    #[test]
    fn anything_unreadable_is_unknown_never_retry() {
        for (status, body) in [
            (500, "cdr=0\n"),
            (404, "not found"),
            (302, ""),
            (200, "<html>maintenance</html>"),
            (200, "cdr=abc\n"),
            (200, "cdr=3\n"),
            (200, ""),
        ] {
            assert!(
                matches!(
                    interpret(status, body.as_bytes(), "R", "rf1"),
                    RefundAnswer::Unknown { .. }
                ),
                "{status} {body:?}"
            );
        }
    }

    #[test]
    fn remittance_days_are_plain_dates() {
        assert_eq!(remittance_day("31/02/2026_a_10:00:00"), None);
        assert_eq!(remittance_day("1/12/2026_a_10:00:00"), None);
        assert_eq!(remittance_day(""), None);
        assert_eq!(remittance_day("é€"), None);
    }

    #[test]
    fn a_recredit_is_applied_once_under_a_key_derived_from_our_refund_id() {
        assert_eq!(super::idempotency_key("rf_1"), "recredit:rf_1");
    }

    #[test]
    fn the_remittance_day_is_read_from_either_date_shape_of_a_return() {
        use super::remittance_day;
        assert_eq!(remittance_day("05/12/2026_a_14:03:22").as_deref(), Some("05/12/2026"));
        assert_eq!(remittance_day("05/12/2026:14:03:22").as_deref(), Some("05/12/2026"));
        assert_eq!(remittance_day("2026-12-05"), None);
    }

    #[test]
    fn an_answer_body_has_the_banks_shape() {
        use super::answer_body;
        assert_eq!(
            answer_body("R1", 0, "recredit effectue"),
            "version=1.0\nreference=R1\ncdr=0\nlib=recredit effectue\n"
        );
    }
}

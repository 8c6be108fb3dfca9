//! Webhook signatures as [Standard Webhooks](https://www.standardwebhooks.com/) define them.
//!
//! Every webhook request carries three headers:
//!
//! - `webhook-id`: the event id ([`crate::event::Event::id`]), the same on every redelivery;
//! - `webhook-timestamp`: when this attempt was signed, in Unix seconds;
//! - `webhook-signature`: `v1,` followed by the base64 of HMAC-SHA256(key, `"<id>.<timestamp>.<body>"`),
//!   where `key` is the base64 decoding of the secret after its `whsec_` prefix. During a secret rotation the
//!   header lists one signature per configured secret, separated by spaces.
//!
//! The sender uses [`sign`]; a receiver checks a request with [`verify_request`] (one call, any web
//! framework) or [`verify`] (explicit clock and tolerance).
//!
//! ```
//! use chrono::Utc;
//! use payment_buttons::webhook::{self, ReceivedHeaders, WebhookSecret, DEFAULT_TOLERANCE};
//!
//! let secret: WebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
//! let secrets = [secret];
//! let body = br#"{"id":"evt_0123","type":"payment_accepted"}"#;
//! let now = Utc::now();
//!
//! // The sender signs the exact bytes it posts.
//! let signed = webhook::sign(&secrets, "evt_0123", now.timestamp(), body).unwrap();
//! assert!(signed.signature.starts_with("v1,"));
//!
//! // The receiver checks them against the same secret.
//! let received = ReceivedHeaders { id: &signed.id, timestamp: &signed.timestamp, signature: &signed.signature };
//! assert!(webhook::verify(&secrets, &received, body, now, DEFAULT_TOLERANCE).is_ok());
//!
//! // Any change to the body breaks the signature.
//! let tampered = br#"{"id":"evt_0123","type":"payment_refunded"}"#;
//! assert!(webhook::verify(&secrets, &received, tampered, now, DEFAULT_TOLERANCE).is_err());
//! ```
//!
//! A receiver in actix-web 4 (this module needs no feature of this crate; the example is compiled when the
//! `actix` feature is on):
//!
//! ```
//! # #[cfg(feature = "actix")]
//! # mod receiver {
//! use actix_web::{HttpRequest, HttpResponse, post, web};
//! use payment_buttons::event::{Event, EventKind};
//! use payment_buttons::webhook::{WebhookSecret, verify_request};
//!
//! /// The secrets of this endpoint, from the receiver's configuration (all of them during a rotation).
//! pub struct WebhookSecrets(pub Vec<WebhookSecret>);
//!
//! #[post("/payment-events")]
//! pub async fn payment_events(req: HttpRequest, body: web::Bytes, secrets: web::Data<WebhookSecrets>) -> HttpResponse {
//!     let header = |name: &str| req.headers().get(name).and_then(|value| value.to_str().ok());
//!     if let Err(error) = verify_request(&secrets.0, header, &body) {
//!         // Not from us, or replayed too late: refuse without acting on it.
//!         return HttpResponse::Unauthorized().body(error.to_string());
//!     }
//!     let Ok(event) = serde_json::from_slice::<Event>(&body) else {
//!         return HttpResponse::BadRequest().finish();
//!     };
//!     // Deliveries are at least once: skip an event.id already handled, and act on the latest event of
//!     // each payment (a declined payment may still be accepted later).
//!     if event.kind == EventKind::PaymentAccepted {
//!         // fulfil event.payment.order_reference
//!     }
//!     // Any 2xx marks the event delivered.
//!     HttpResponse::NoContent().finish()
//! }
//! # }
//! ```

mod secret;
mod sign;
mod verify;

pub use secret::{SecretError, WebhookSecret};
pub use sign::{SignError, SignedHeaders, sign};
pub use verify::{DEFAULT_TOLERANCE, ReceivedHeaders, WebhookError, verify, verify_request};

/// Name of the header carrying the event id.
pub const HEADER_ID: &str = "webhook-id";
/// Name of the header carrying the signing time in Unix seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Name of the header carrying the space-separated `v1,<base64>` signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// The only signature scheme this module writes and checks (HMAC-SHA256).
const VERSION_V1: &str = "v1";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// HMAC-SHA256 of `"<id>.<timestamp>.<body>"`: what every `v1` signature encodes.
fn signature_v1(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret.key()).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

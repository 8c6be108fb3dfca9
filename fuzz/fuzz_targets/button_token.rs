//! Button tokens (`v1.<payload>.<signature>`), as `/pay` receives them from any browser.
//!
//! Input: one selector byte, then text. Even selector: the text is the token as received (framing,
//! base64 and the signature check). Odd selector: the text is a payload that this harness signs with the
//! service key as the signer would, so that the fuzzer reaches the payload and button parsing behind the
//! signature.
//!
//! Invariants: nothing panics; a token that verifies carries a button that, signed again, verifies to the
//! same button; a token changed after signing never verifies.
#![no_main]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use payment_buttons::token::{ButtonSigner, TokenError};

/// The token signature as `ButtonSigner` computes it: HMAC-SHA256 under a key derived from the secret.
fn sign_payload(payload: &[u8]) -> String {
    let key = librement_pay_fuzz::hmac_sha256(librement_pay_fuzz::SECRET, &[b"payment-buttons/button-token/v1"]);
    let signed_part = format!("v1.{}", URL_SAFE_NO_PAD.encode(payload));
    let signature = librement_pay_fuzz::hmac_sha256(&key, &[signed_part.as_bytes()]);
    format!("{signed_part}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let signer = ButtonSigner::new(librement_pay_fuzz::SECRET);
    let now = librement_pay_fuzz::now();
    let token = if selector % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        text.to_owned()
    } else {
        sign_payload(rest)
    };

    let Ok(button) = signer.verify(&token, now) else {
        return;
    };
    let again = match signer.sign(&button, Duration::from_secs(3600), now) {
        Ok(token) => token,
        // A button's canonical form can be longer than the token it came in: refused for its length only.
        Err(err) => {
            assert!(
                err.to_string().contains("a button token may have"),
                "re-signing refused a verified button: {err}"
            );
            return;
        }
    };
    assert_eq!(
        signer.verify(&again, now).as_ref(),
        Ok(&button),
        "a re-signed button changed"
    );

    // Any change to a valid token's payload or signature is refused.
    let (head, signature) = again.rsplit_once('.').expect("a signed token has a signature");
    let flipped = format!("{head}x.{signature}");
    assert!(matches!(
        signer.verify(&flipped, now),
        Err(TokenError::BadSignature | TokenError::Malformed)
    ));
    let truncated = &again[..again.len() - 1];
    assert!(signer.verify(truncated, now).is_err());
});

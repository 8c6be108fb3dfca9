//! Librement session cookies (`librement_session`), as every request to `/librement/*` carries them.
//!
//! Input: one selector byte, then text. Even selector: the text is the cookie value as received. Odd
//! selector: the text is a JSON payload that this harness signs with the session key as the server would,
//! so that the fuzzer reaches the session parsing and the age checks behind the MAC.
//!
//! Invariants: nothing panics (whatever `issued` a signed session claims); a decoded session, encoded
//! again, decodes to the same session; a changed cookie never decodes.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use librement_pay::session::SessionKey;

/// The cookie as `SessionKey::encode` writes it: base64url(json) . base64url(HMAC(key, json)).
fn sign_payload(json: &[u8]) -> String {
    let key = librement_pay_fuzz::hmac_sha256(librement_pay_fuzz::SECRET, &[b"librement session cookie"]);
    let tag = librement_pay_fuzz::hmac_sha256(&key, &[json]);
    format!("{}.{}", URL_SAFE_NO_PAD.encode(json), URL_SAFE_NO_PAD.encode(tag))
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let key = SessionKey::derive(librement_pay_fuzz::SECRET);
    let now = librement_pay_fuzz::now();
    let cookie = if selector % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        text.to_owned()
    } else {
        sign_payload(rest)
    };

    let Some(session) = key.decode(&cookie, now) else {
        return;
    };
    let _ = session.recently_confirmed(now);
    let _ = session.csrf_matches("");
    let encoded = key.encode(&session);
    assert_eq!(
        key.decode(&encoded, now).as_ref(),
        Some(&session),
        "re-encoded session changed"
    );
    let (payload, tag) = encoded.split_once('.').expect("a cookie has a tag");
    assert!(key.decode(&format!("{payload}x.{tag}"), now).is_none());
    assert!(key.decode(&format!("{payload}.{tag}x"), now).is_none());
});

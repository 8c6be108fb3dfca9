//! Helpers shared by the fuzz targets: input framing, a fixed clock, a one-poll executor, a gateway's
//! form post, and the HMAC a harness needs to sign a payload the way the service itself would (so that
//! the fuzzer reaches the parsers behind a signature check, not only the check).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use payment_buttons::gateway::IncomingMessage;

/// The secret every target signs with. A fixed test key: fuzzing is about parsing, not secrecy.
pub const SECRET: &[u8] = b"fuzzing secret, never used anywhere else";

/// A fixed "now", so that a crash reproduces whatever the day: 2027-01-15T08:00:00Z.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("a valid timestamp")
}

/// A form-encoded `POST` to a notification route, received at [`now`]: what a gateway's `decode`,
/// `acknowledge` and `verify` are given.
pub fn form_post(body: Vec<u8>) -> IncomingMessage {
    IncomingMessage {
        received_at: now(),
        remote_addr: None,
        method: "POST".into(),
        content_type: Some("application/x-www-form-urlencoded".into()),
        body,
        headers: Default::default(),
    }
}

/// Splits `data` at its first `parts - 1` newlines; the last part keeps the rest (newlines included).
/// Missing parts are empty. Seeds stay readable: one header per line, then the body.
pub fn split_lines(data: &[u8], parts: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(parts);
    let mut rest = data;
    while out.len() + 1 < parts {
        match rest.iter().position(|&b| b == b'\n') {
            Some(at) => {
                out.push(&rest[..at]);
                rest = &rest[at + 1..];
            }
            None => {
                out.push(rest);
                rest = &[];
            }
        }
    }
    out.push(rest);
    out
}

/// Runs a future that never waits on anything outside it (every gateway here is given an answer that is
/// ready at once), polling it until it is done.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// True when two plain decimal strings (`-12.50`, `0012.5`, `.5`) denote the same number exactly: same
/// sign (zero has none), same digits once leading zeros of the integer part and trailing zeros of the
/// fraction are dropped. Used to check that an amount was taken as written, never rounded.
pub fn same_decimal(a: &str, b: &str) -> bool {
    canonical_decimal(a) == canonical_decimal(b)
}

fn canonical_decimal(text: &str) -> Option<(bool, String, String)> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int = int.trim_start_matches('0').to_owned();
    let frac = frac.trim_end_matches('0').to_owned();
    let zero = int.is_empty() && frac.is_empty();
    Some((negative && !zero, int, frac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_compare_by_value() {
        assert!(same_decimal("012.50", "12.5"));
        assert!(same_decimal("-0.00", "0"));
        assert!(same_decimal(".5", "0.50"));
        assert!(!same_decimal("12.4999999999999999999999999999999", "12.50"));
        assert!(!same_decimal("-1", "1"));
    }

    #[test]
    fn lines_split_into_a_fixed_number_of_parts() {
        assert_eq!(split_lines(b"a\nb\nc\nd", 3), vec![&b"a"[..], b"b", b"c\nd"]);
        assert_eq!(split_lines(b"a", 3), vec![&b"a"[..], b"", b""]);
    }
}

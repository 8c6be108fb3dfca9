//! The character set of an IPN's values, named by the message's own `charset` field.

use encoding_rs::{Encoding, WINDOWS_1252};

/// The encoding to decode an IPN's values with, and whether its `charset` was understood.
///
/// No `charset` means windows-1252 (PayPal's default for accounts that never chose one). An unknown name
/// also falls back to windows-1252, the most likely truth, and the caller flags the message.
/// `ISO-8859-1` resolves to windows-1252 too (WHATWG labels): the two agree on every printable character.
/// UTF-16 and UTF-32 names resolve to UTF-8, because a form body is ASCII-compatible whatever PayPal
/// calls it.
pub(crate) fn charset_for(label: Option<&[u8]>) -> (&'static Encoding, bool) {
    let Some(label) = label else {
        return (WINDOWS_1252, true);
    };
    if label.iter().all(u8::is_ascii_whitespace) {
        return (WINDOWS_1252, true);
    }
    match Encoding::for_label(label) {
        Some(encoding) => (encoding.output_encoding(), true),
        None if is_utf32(label) => (encoding_rs::UTF_8, true),
        None => (WINDOWS_1252, false),
    }
}

/// PayPal lists UTF-32 names, which WHATWG (and so encoding_rs) does not know.
fn is_utf32(label: &[u8]) -> bool {
    let trimmed = label.trim_ascii();
    trimmed.len() >= 6 && trimmed[..6].eq_ignore_ascii_case(b"utf-32")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paypal_charset_names_resolve() {
        assert_eq!(charset_for(Some(b"windows-1252")).0, WINDOWS_1252);
        assert_eq!(charset_for(Some(b"ISO-8859-1")).0, WINDOWS_1252);
        assert_eq!(charset_for(Some(b"utf-8")).0, encoding_rs::UTF_8);
        assert_eq!(charset_for(Some(b"Shift_JIS")).0, encoding_rs::SHIFT_JIS);
        assert_eq!(charset_for(Some(b"KOI8-R")).0, encoding_rs::KOI8_R);
        assert_eq!(charset_for(Some(b"UTF-16LE")).0, encoding_rs::UTF_8);
        assert_eq!(charset_for(Some(b"UTF-32")), (encoding_rs::UTF_8, true));
    }

    #[test]
    fn a_missing_or_empty_charset_is_the_default() {
        assert_eq!(charset_for(None), (WINDOWS_1252, true));
        assert_eq!(charset_for(Some(b"")), (WINDOWS_1252, true));
    }

    #[test]
    fn unknown_names_fall_back_to_windows_1252() {
        assert_eq!(charset_for(Some(b"UTF-7")), (WINDOWS_1252, false));
        assert_eq!(charset_for(Some(b"\xff\xfe")), (WINDOWS_1252, false));
    }
}

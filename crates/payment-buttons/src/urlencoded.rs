//! `application/x-www-form-urlencoded` bodies as bytes: the one codec of every gateway module.
//!
//! Gateways sign and verify bytes, not text: a CM-CIC return is sealed over the values percent-decoded
//! exactly as received, and a PayPal IPN names its own charset in one of its fields, so its text can only
//! be decoded once every value is bytes. Generic form parsers decode to UTF-8 strings (lossily), which
//! would break the seal of any ISO-8859-1 value and the charset of any IPN, hence this small byte-level
//! reader and writer.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};

/// Characters left as they are when writing a form value; everything else is percent-encoded (a space
/// becomes `+`).
const FORM_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'*');

/// The fields of a form body, as byte strings, in the order received (repeated names included).
///
/// ```
/// use payment_buttons::urlencoded::FormFields;
/// let form = FormFields::parse(b"texte-libre=a%2Bb+c&reference=ABC12&MAC=00");
/// assert_eq!(form.get("texte-libre"), Some(&b"a+b c"[..]));
/// assert_eq!(form.get_str("reference"), Some("ABC12"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormFields {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl FormFields {
    /// No field.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a body: `&`-separated `name=value` pairs, `+` is a space, `%XX` a byte. Never fails: a
    /// malformed escape is kept literally, a pair without `=` has an empty value, empty pairs are skipped.
    pub fn parse(body: &[u8]) -> Self {
        let pairs = body
            .split(|b| *b == b'&')
            .filter(|segment| !segment.is_empty())
            .map(|segment| {
                let (name, value) = match segment.iter().position(|b| *b == b'=') {
                    Some(at) => (&segment[..at], &segment[at + 1..]),
                    None => (segment, &b""[..]),
                };
                (decode_component(name), decode_component(value))
            })
            .collect();
        FormFields { pairs }
    }

    /// Appends a field.
    pub fn push(&mut self, name: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.pairs.push((name.into(), value.into()));
    }

    /// Every pair, in order.
    pub fn pairs(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.pairs
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name.as_bytes())
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of `name` when it is valid UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of `name` when present and not empty, as UTF-8 text.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get_str(name).filter(|v| !v.is_empty())
    }

    /// The first value of `name` as text: UTF-8 when it is, else read as windows-1252 (which maps every
    /// byte, so ISO-8859-1 values from older bank set-ups read correctly). For display and details only:
    /// seals are always checked on the bytes.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| decode_text(v).0)
    }

    /// Every field as text (first value of a repeated name), and whether any value was not UTF-8.
    pub fn decoded(&self) -> (std::collections::BTreeMap<String, String>, bool) {
        let mut out = std::collections::BTreeMap::new();
        let mut not_utf8 = false;
        for (name, value) in &self.pairs {
            let (name, name_utf8) = decode_text(name);
            let (value, value_utf8) = decode_text(value);
            not_utf8 |= !(name_utf8 && value_utf8);
            out.entry(name).or_insert(value);
        }
        (out, not_utf8)
    }

    /// True when some name appears more than once (the bank never sends that).
    pub fn has_repeated_names(&self) -> bool {
        let mut names: Vec<&[u8]> = self.pairs.iter().map(|(n, _)| n.as_slice()).collect();
        names.sort_unstable();
        names.windows(2).any(|w| w[0] == w[1])
    }

    /// Writes the fields as a form body (a space becomes `+`, other bytes outside `[A-Za-z0-9._*-]` `%XX`).
    pub fn to_body(&self) -> Vec<u8> {
        let mut out = String::new();
        for (i, (name, value)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(&encode_component(name));
            out.push('=');
            out.push_str(&encode_component(value));
        }
        out.into_bytes()
    }
}

/// Text from bytes: UTF-8 when valid (`true`), else windows-1252 (`false`).
fn decode_text(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), true),
        Err(_) => (
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
                .into_owned(),
            false,
        ),
    }
}

fn decode_component(raw: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    percent_decode(&spaced).collect()
}

fn encode_component(raw: &[u8]) -> String {
    // Encode the pieces between spaces so that a space can be written as `+`, as browsers do.
    raw.split(|b| *b == b' ')
        .map(|piece| percent_encode(piece, FORM_VALUE).to_string())
        .collect::<Vec<_>>()
        .join("+")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_is_a_space_and_an_encoded_plus_is_a_plus() {
        let form = FormFields::parse(b"v=a%2Bb+c%2Ad%3De%26f");
        assert_eq!(form.get("v"), Some(&b"a+b c*d=e&f"[..]));
    }

    #[test]
    fn non_utf8_bytes_are_kept_as_received() {
        let form = FormFields::parse(b"texte-libre=caf%E9");
        assert_eq!(form.get("texte-libre"), Some(&b"caf\xe9"[..]));
        assert_eq!(form.get_str("texte-libre"), None);
    }

    #[test]
    fn text_falls_back_to_windows_1252_and_says_so() {
        let form = FormFields::parse(b"a=caf%E9&b=caf%C3%A9&a=x");
        assert_eq!(form.text("a").as_deref(), Some("caf\u{e9}"));
        let (fields, not_utf8) = form.decoded();
        assert!(not_utf8);
        assert_eq!(fields["a"], "caf\u{e9}");
        assert_eq!(fields["b"], "caf\u{e9}");
        assert!(!FormFields::parse(b"b=caf%C3%A9").decoded().1);
    }

    #[test]
    fn empty_values_and_bare_names_are_fields() {
        let form = FormFields::parse(b"a=&b&&c=1");
        assert_eq!(form.pairs().len(), 3);
        assert_eq!(form.get("a"), Some(&b""[..]));
        assert_eq!(form.get("b"), Some(&b""[..]));
    }

    #[test]
    fn a_written_body_reads_back_identically() {
        let mut form = FormFields::new();
        form.push("texte-libre", "a+b c*d=e&f%".as_bytes());
        form.push("ville", "Orl\u{e9}ans".as_bytes());
        form.push("latin1", vec![b'c', b'a', b'f', 0xe9]);
        form.push("vide", Vec::new());
        assert_eq!(FormFields::parse(&form.to_body()), form);
    }

    #[test]
    fn repeated_names_are_noticed() {
        assert!(FormFields::parse(b"a=1&b=2&a=3").has_repeated_names());
        assert!(!FormFields::parse(b"a=1&b=2").has_repeated_names());
    }
}

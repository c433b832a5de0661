//! The request URI, from a path and a query that may hold any text. The `http` crate refuses some
//! bytes that API Gateway forwards as the client sent them (`"`, `<`, `>`, a space decoded from a
//! REST API path, non-ASCII, control characters), so they are percent-encoded here. Only bytes
//! outside RFC 3986's path and query characters are encoded, and `%` never is: every escape the
//! client sent stays as it was, and a lenient decoder (form-urlencoded, as `QueryMap` uses) reads
//! the same text from the repaired URI as from the original.
//!
//! Hand-written rather than through the `percent-encoding` crate: the rule is one match on a byte,
//! and this way the kept set is visibly a subset of what `http::uri` accepts.

use std::borrow::Cow;

/// RFC 3986 `pchar` and `/`, plus `%` so that existing escapes pass through.
fn kept_in_path(byte: u8) -> bool {
    matches!(byte,
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9'
        | b'-' | b'.' | b'_' | b'~'
        | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
        | b':' | b'@' | b'/' | b'%')
}

/// A query may also hold `?`.
fn kept_in_query(byte: u8) -> bool {
    kept_in_path(byte) || byte == b'?'
}

fn encode(text: &str, kept: fn(u8) -> bool) -> Cow<'_, str> {
    if text.bytes().all(kept) {
        return Cow::Borrowed(text);
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = String::with_capacity(text.len() + text.len() / 2);
    for byte in text.bytes() {
        if kept(byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            encoded.push(char::from(HEX[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX[usize::from(byte & 0xF)]));
        }
    }
    Cow::Owned(encoded)
}

/// The path as a URI path: percent-encoded where needed, and starting with `/` as `http::uri`
/// requires (an empty or relative path from a hand-made event would otherwise be refused).
pub fn path(path: &str) -> String {
    let encoded = encode(path, kept_in_path);
    if encoded.starts_with('/') { encoded.into_owned() } else { format!("/{encoded}") }
}

/// The raw query string as a URI query, percent-encoded where needed.
pub fn query(query: &str) -> Cow<'_, str> {
    encode(query, kept_in_query)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use lambda_http::aws_lambda_events::query_map::QueryMap;
    use lambda_http::http::uri::PathAndQuery;

    use super::*;

    /// Every byte on its own, and as part of a UTF-8 character, in both places.
    fn every_byte() -> Vec<String> {
        let mut texts: Vec<String> = (0u8..0x80).map(|byte| format!("a{}b", char::from(byte))).collect();
        texts.extend(["é", "\u{FFFD}", "\u{10FFFF}", "😀", "\u{85}", "\u{2028}"].map(str::to_owned));
        texts.extend(["%", "%zz", "%4", "%41", "%%41", "%<2", "%2<", "%é", "a+b", "q=\"x\""].map(str::to_owned));
        texts
    }

    #[test]
    fn every_byte_makes_a_uri_the_http_crate_accepts() {
        for text in every_byte() {
            let target = format!("{}?{}", path(&text), query(&text));
            assert!(PathAndQuery::from_str(&target).is_ok(), "refused: {target:?} from {text:?}");
        }
    }

    #[test]
    fn the_query_decodes_to_the_same_parameters() {
        for text in every_byte() {
            let raw = format!("userId={text}&{text}=1&x");
            let before = QueryMap::from_str(&raw).unwrap();
            let after = QueryMap::from_str(&query(&raw)).unwrap();
            let pairs = |map: &QueryMap| {
                let mut pairs: Vec<(String, String)> = map.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
                pairs.sort();
                pairs
            };
            assert_eq!(pairs(&after), pairs(&before), "{raw:?} became {:?}", query(&raw));
        }
    }

    #[test]
    fn what_is_already_valid_is_left_alone() {
        let valid = "/organizations/users/permissions/5de38a8e-800e-4cba-84c5-ee6c27f304d8/";
        assert_eq!(path(valid), valid);
        assert!(matches!(query("userId=64b%20a&limit=20"), Cow::Borrowed(_)));
        assert_eq!(query(r#"q="x"&<a>"#), "q=%22x%22&%3Ca%3E");
        assert_eq!(path("/a b/é"), "/a%20b/%C3%A9");
        assert_eq!(path(""), "/");
        assert_eq!(path("x?y#z"), "/x%3Fy%23z");
    }
}

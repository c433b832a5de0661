//! Who is calling: the credentials in the `Authorization` header, checked per endpoint.
//!
//! - [`credentials`]: splits `Authorization: <scheme> <credentials>` (RFC 7235).
//! - [`api_token`]: the org endpoint's opaque keys, looked up by their SHA-256.
//! - [`jwt`]: the admin endpoint's HS256 bearer tokens.
//! - [`signing_keys`]: their keys, read from Secrets Manager and kept fresh through rotations.

pub mod api_token;
pub mod jwt;
pub mod signing_keys;

use lambda_http::http::HeaderMap;
use lambda_http::http::header::AUTHORIZATION;

/// The longest credential we will hash or verify. API Gateway caps a header at 10 KiB anyway;
/// refusing earlier keeps hostile input from costing a hash or a lookup.
pub const MAX_CREDENTIAL_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials<'a> {
    /// No `Authorization` header, or one for another scheme: the caller did not try this one.
    Absent,
    /// The scheme matches but what follows is not one well-formed credential.
    Malformed,
    Present(&'a str),
}

/// Reads the credential of `scheme` (matched case-insensitively, as HTTP auth schemes are).
/// One or more spaces may separate scheme and credential; a credential containing whitespace,
/// an empty one, an over-long one, or several `Authorization` headers are malformed.
pub fn credentials<'a>(headers: &'a HeaderMap, scheme: &str) -> Credentials<'a> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else { return Credentials::Absent };
    let Ok(value) = value.to_str() else {
        // Bytes outside visible ASCII: not a credential of any scheme we could have issued.
        return Credentials::Malformed;
    };
    match credential_in(value, scheme) {
        Credentials::Present(_) if values.next().is_some() => Credentials::Malformed,
        read => read,
    }
}

/// The credential of `scheme` in one `Authorization` value, by the rules of [`credentials`]
/// (for a value that arrives as text, in a Lambda authorizer's event). Characters outside
/// visible ASCII make it malformed, as they do in a header.
pub fn credential_in<'a>(value: &'a str, scheme: &str) -> Credentials<'a> {
    let value = value.trim_matches([' ', '\t']);
    let (given_scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !given_scheme.eq_ignore_ascii_case(scheme) {
        return Credentials::Absent;
    }
    let credential = rest.trim_start_matches(' ');
    let well_formed = !credential.is_empty()
        && credential.len() <= MAX_CREDENTIAL_BYTES
        && credential.bytes().all(|b| b.is_ascii_graphic());
    if well_formed { Credentials::Present(credential) } else { Credentials::Malformed }
}

#[cfg(test)]
mod tests {

    use super::*;
    use lambda_http::http::HeaderValue;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(AUTHORIZATION, HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    fn read(values: &[&[u8]]) -> Credentials<'static> {
        let map = Box::leak(Box::new(headers(values)));
        credentials(map, "Token")
    }

    #[test]
    fn accepts_the_scheme_in_any_case_with_one_or_more_spaces() {
        assert_eq!(read(&[b"Token abc"]), Credentials::Present("abc"));
        assert_eq!(read(&[b"token abc"]), Credentials::Present("abc"));
        assert_eq!(read(&[b"TOKEN   abc "]), Credentials::Present("abc"));
    }

    #[test]
    fn other_schemes_and_no_header_are_absent() {
        assert_eq!(read(&[]), Credentials::Absent);
        assert_eq!(read(&[b"Bearer abc"]), Credentials::Absent);
        assert_eq!(read(&[b"Tokenabc"]), Credentials::Absent);
        assert_eq!(read(&[b""]), Credentials::Absent);
    }

    #[test]
    fn anything_else_after_the_scheme_is_malformed() {
        assert_eq!(read(&[b"Token"]), Credentials::Malformed);
        assert_eq!(read(&[b"Token "]), Credentials::Malformed);
        assert_eq!(read(&[b"Token a b"]), Credentials::Malformed);
        assert_eq!(read(&[b"Token a\tb"]), Credentials::Malformed);
        assert_eq!(read(&[b"Token \xc3\xa9t\xc3\xa9"]), Credentials::Malformed);
        assert_eq!(read(&[b"Token a", b"Token b"]), Credentials::Malformed);
        let long = format!("Token {}", "k".repeat(MAX_CREDENTIAL_BYTES + 1));
        assert_eq!(read(&[long.as_bytes()]), Credentials::Malformed);
    }

    #[test]
    fn a_text_value_is_read_like_a_header() {
        assert_eq!(credential_in("bearer abc", "Bearer"), Credentials::Present("abc"));
        assert_eq!(credential_in("Bearer a,Bearer b", "Bearer"), Credentials::Malformed);
        assert_eq!(credential_in("Bearer \u{e9}t\u{e9}", "Bearer"), Credentials::Malformed);
        assert_eq!(credential_in("Basic abc", "Bearer"), Credentials::Absent);
    }
}

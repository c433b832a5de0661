//! The `Authorization` header reader and the JWT verifier. Input: header values separated by
//! newlines. No input may panic, and no token the fuzzer makes verifies: it never learns the
//! secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use permissions_service::auth::jwt::JwtVerifier;
use permissions_service::auth::{Credentials, api_token, credentials};
use permissions_service_fuzz::authorization_headers;

fuzz_target!(|data: &[u8]| {
    let headers = authorization_headers(data);
    if let Credentials::Present(key) = credentials(&headers, "Token") {
        assert_eq!(api_token::token_hash(key).len(), 64);
    }
    if let Credentials::Present(token) = credentials(&headers, "Bearer") {
        let verifier = JwtVerifier::new(b"fuzz-only-secret-of-at-least-32-bytes!!", None, None).unwrap();
        assert!(verifier.verify(token).is_err(), "a token verified without the secret");
    }
});

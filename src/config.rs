//! Configuration read once at cold start, from the environment only.
//!
//! Every lookup goes through a `Fn(&str) -> Option<String>` so tests can feed values without
//! mutating the process environment (which is `unsafe` since edition 2024).

use std::fmt;

/// A missing or unusable setting. Returned from `main` so the function fails at init, naming the
/// variable, instead of at the first request. Never carries the value itself (it may be a secret).
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "environment variable {}: {}", self.variable, self.problem)
    }
}

/// `main` prints its error with `Debug`; make that the readable sentence, not a struct dump.
impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ConfigError {}

/// Reads the process environment; the production source of every setting.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A value that must be present and non-blank.
pub fn required(lookup: &impl Fn(&str) -> Option<String>, variable: &'static str) -> Result<String, ConfigError> {
    match optional(lookup, variable) {
        Some(value) => Ok(value),
        None => Err(ConfigError { variable, problem: "is not set".into() }),
    }
}

/// A value taken exactly as set (a secret's surrounding spaces are part of it); blank is unset.
pub fn required_verbatim(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<String, ConfigError> {
    match lookup(variable) {
        Some(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError { variable, problem: "is not set".into() }),
    }
}

/// A value that may be absent; blank counts as absent so an empty template parameter means "unset".
pub fn optional(lookup: &impl Fn(&str) -> Option<String>, variable: &'static str) -> Option<String> {
    lookup(variable).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
}

/// A DynamoDB table name, checked against DynamoDB's naming rules so a typo fails at init.
pub fn table_name(lookup: &impl Fn(&str) -> Option<String>, variable: &'static str) -> Result<String, ConfigError> {
    let name = required(lookup, variable)?;
    let valid_chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if (3..=255).contains(&name.len()) && valid_chars {
        Ok(name)
    } else {
        Err(ConfigError {
            variable,
            problem: "is not a valid DynamoDB table name (3-255 characters of a-z, A-Z, 0-9, '_', '-', '.')".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
    }

    #[test]
    fn missing_and_blank_values_name_the_variable() {
        let lookup = env(&[("BLANK", "  ")]);
        assert_eq!(required(&lookup, "ABSENT").unwrap_err().variable, "ABSENT");
        let blank = required(&lookup, "BLANK").unwrap_err();
        assert_eq!(blank.to_string(), "environment variable BLANK: is not set");
    }

    #[test]
    fn table_names_follow_dynamodb_rules() {
        let lookup = env(&[("GOOD", "users-prod.v2"), ("SHORT", "ab"), ("SPACE", "my table")]);
        assert_eq!(table_name(&lookup, "GOOD").unwrap(), "users-prod.v2");
        assert_eq!(table_name(&lookup, "SHORT").unwrap_err().variable, "SHORT");
        assert_eq!(table_name(&lookup, "SPACE").unwrap_err().variable, "SPACE");
    }
}

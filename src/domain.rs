//! The values a request is parsed into, as types that carry their invariants. A parser is the
//! only way to make one, so the store can rely on them: a user id is in its normal (lowercase)
//! form, and a [`PermissionSet`] is what a DynamoDB String Set may hold (no duplicates, none
//! empty, at least one) and what this service accepts (at most 100, sorted).

use std::fmt;

/// A user of the org API: the 8-4-4-4-12 hyphenated UUID, lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserUuid(String);

/// A user of the admin API: a MongoDB ObjectId, 24 hex digits, lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(String);

/// A catalog permission of the org API, named by its uuid (lowercase, hyphenated).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PermissionUuid(String);

/// A permission of the admin API: `compass.<module>`, `compass.<module>.<action>` or
/// `compass.<module>.*`, kept exactly as sent (a wildcard is a string like any other).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CompassPermission(String);

/// The 8-4-4-4-12 hyphenated form, hex digits in any case. Stricter than `Uuid::parse_str`,
/// which also takes the simple, braced and URN forms the contract does not allow.
pub fn is_hyphenated_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

/// A MongoDB ObjectId: exactly 24 hex digits, any case.
pub fn is_object_id(text: &str) -> bool {
    text.len() == 24 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// Longest module or action name of a [`CompassPermission`].
pub const MAX_NAME_CHARS: usize = 64;

/// `compass.<module>`, `compass.<module>.<action>` or `compass.<module>.*`.
pub fn is_compass_permission(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("compass.") else { return false };
    let mut parts = rest.split('.');
    let module_ok = parts.next().is_some_and(is_name);
    let action_ok = match parts.next() {
        None => true,
        Some(action) => action == "*" || is_name(action),
    };
    module_ok && action_ok && parts.next().is_none()
}

fn is_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    text.len() <= MAX_NAME_CHARS
        && bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl UserUuid {
    pub fn parse(text: &str) -> Option<Self> {
        is_hyphenated_uuid(text).then(|| Self(text.to_ascii_lowercase()))
    }
}

impl ObjectId {
    pub fn parse(text: &str) -> Option<Self> {
        is_object_id(text).then(|| Self(text.to_ascii_lowercase()))
    }
}

impl PermissionUuid {
    pub fn parse(text: &str) -> Option<Self> {
        is_hyphenated_uuid(text).then(|| Self(text.to_ascii_lowercase()))
    }
}

impl CompassPermission {
    pub fn parse(text: &str) -> Option<Self> {
        is_compass_permission(text).then(|| Self(text.to_owned()))
    }
}

macro_rules! string_value {
    ($($name:ident),*) => {$(
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }
    )*};
}

string_value!(UserUuid, ObjectId, PermissionUuid, CompassPermission);

/// What a [`PermissionSet`] may be made of: the permissions a parser has checked.
pub trait Permission: sealed::Sealed {
    fn into_string(self) -> String;
}

impl Permission for PermissionUuid {
    fn into_string(self) -> String {
        self.0
    }
}

impl Permission for CompassPermission {
    fn into_string(self) -> String {
        self.0
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::PermissionUuid {}
    impl Sealed for super::CompassPermission {}
}

/// The permissions of one request: 1 to [`PermissionSet::MAX`], distinct, sorted. Sorted is the
/// order both APIs answer in; distinct and non-empty is what DynamoDB requires of a String Set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionSet(Vec<String>);

impl PermissionSet {
    /// Items a request may name, counted as sent (before duplicates are dropped).
    pub const MAX: usize = 100;

    /// `None` for no items or more than [`PermissionSet::MAX`] (counted as sent).
    pub fn new<P: Permission>(items: Vec<P>) -> Option<Self> {
        if items.is_empty() || items.len() > Self::MAX {
            return None;
        }
        let mut permissions: Vec<String> = items.into_iter().map(Permission::into_string).collect();
        permissions.sort_unstable();
        permissions.dedup();
        Some(Self(permissions))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: kept for clippy's `len_without_is_empty`, and to say so.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_form_is_strict() {
        assert!(is_hyphenated_uuid("5de38a8e-800e-4cba-84c5-ee6c27f304d8"));
        assert!(is_hyphenated_uuid("5DE38A8E-800E-4CBA-84C5-EE6C27F304D8"));
        assert!(!is_hyphenated_uuid("5de38a8e800e4cba84c5ee6c27f304d8"));
        assert!(!is_hyphenated_uuid("{5de38a8e-800e-4cba-84c5-ee6c27f304d8}"));
        assert!(!is_hyphenated_uuid("5de38a8e-800e-4cba-84c5-ee6c27f304dg"));
        assert!(!is_hyphenated_uuid("5de38a8e-800e-4cba-84c5ee-6c27f304d8"));
        assert!(!is_hyphenated_uuid("5de38a8e-800e-4cba-84c5-ee6c27f304d8\n"));
        assert_eq!(
            UserUuid::parse("5DE38A8E-800E-4CBA-84C5-EE6C27F304D8").unwrap().as_str(),
            "5de38a8e-800e-4cba-84c5-ee6c27f304d8"
        );
    }

    #[test]
    fn object_ids_are_24_hex_digits_in_any_case() {
        assert!(is_object_id("68bb46bb4db8c853599f1ebb"));
        assert!(is_object_id("68BB46BB4DB8C853599F1EBB"));
        assert!(!is_object_id("68bb46bb4db8c853599f1eb"));
        assert!(!is_object_id("68bb46bb4db8c853599f1ebg"));
        assert_eq!(ObjectId::parse("68BB46BB4DB8C853599F1EBB").unwrap().as_str(), "68bb46bb4db8c853599f1ebb");
    }

    #[test]
    fn permission_grammar() {
        for good in ["compass.dashboard", "compass.dashboard.*", "compass.email-meter.stats_v2", "compass.a"] {
            assert!(is_compass_permission(good), "{good}");
        }
        let long = format!("compass.{}", "a".repeat(MAX_NAME_CHARS + 1));
        for bad in [
            "compass",
            "compass.",
            "compass..x",
            "Compass.dashboard",
            "compass.Dashboard",
            "compass.1dash",
            "compass.dash.*.x",
            "compass.dash.view.more",
            "compass.*",
            "other.dash",
            "compass.dash.",
            "compass.dash.v w",
            long.as_str(),
        ] {
            assert!(!is_compass_permission(bad), "{bad}");
        }
        assert!(is_compass_permission(&format!("compass.{}", "a".repeat(MAX_NAME_CHARS))));
    }

    #[test]
    fn a_set_is_sorted_distinct_and_counted_as_sent() {
        let uuid = |text: &str| PermissionUuid::parse(text).unwrap();
        let set = PermissionSet::new(vec![
            uuid("BBBBBBBB-0000-4000-8000-000000000000"),
            uuid("aaaaaaaa-0000-4000-8000-000000000000"),
            uuid("bbbbbbbb-0000-4000-8000-000000000000"),
        ])
        .unwrap();
        assert_eq!(set.as_slice(), ["aaaaaaaa-0000-4000-8000-000000000000", "bbbbbbbb-0000-4000-8000-000000000000"]);
        assert_eq!(PermissionSet::new(Vec::<CompassPermission>::new()), None);
        let same = CompassPermission::parse("compass.a").unwrap();
        assert_eq!(PermissionSet::new(vec![same.clone(); PermissionSet::MAX]).unwrap().len(), 1);
        assert_eq!(PermissionSet::new(vec![same; PermissionSet::MAX + 1]), None);
    }
}

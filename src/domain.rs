//! The values a request is parsed into, as types that carry their invariants. A parser is the
//! only way to make one, so the store can rely on them: a user id is in its normal (lowercase)
//! form, and a [`PermissionSet`] is what a DynamoDB String Set may hold (no duplicates, none
//! empty, at least one) and what this service accepts (at most 100, sorted).

use std::collections::HashSet;
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

    /// `compass.<module>`: what every permission of its module starts with, up to a `.` or the end.
    fn module(&self) -> &str {
        let after_prefix = "compass.".len();
        let end = self.0[after_prefix..].find('.').map_or(self.0.len(), |dot| after_prefix + dot);
        &self.0[..end]
    }

    /// `compass.<module>.*`: the one held string besides itself that can imply it.
    pub fn module_wildcard(&self) -> String {
        format!("{}.*", self.module())
    }
}

/// Whether holding `held` grants `requested`: the one implication rule, used by everything that
/// decides (docs/api.md, "What a held permission implies").
///
/// - the same string implies itself;
/// - `compass.<m>.*` implies every permission of module `m`: `compass.<m>`, `compass.<m>.*` and
///   each `compass.<m>.<a>`;
/// - nothing else: `compass.<m>` (module-level access) does not imply `m`'s actions, an action
///   implies nothing but itself, and modules compare whole (`compass.m.*` never implies
///   `compass.mm.a`).
///
/// Strings compare exactly. A held string outside the grammar (old data) implies only itself.
pub fn implies(held: &str, requested: &CompassPermission) -> bool {
    if held == requested.as_str() {
        return true;
    }
    let Some(module) = held.strip_suffix(".*") else { return false };
    is_compass_permission(held) && requested.module() == module
}

/// What a user holds, ready to decide on: any stored strings, grammatical or not.
#[derive(Debug, Clone)]
pub struct HeldPermissions<'a>(HashSet<&'a str>);

impl<'a> HeldPermissions<'a> {
    pub fn new(held: impl IntoIterator<Item = &'a str>) -> Self {
        Self(held.into_iter().collect())
    }

    /// The held permission that grants `requested`: the same string when it is held, else its
    /// module's wildcard; `None` when nothing held implies it. By [`implies`], those two are the
    /// only held strings that can, so this looks up two strings rather than scanning the set.
    pub fn granting(&self, requested: &CompassPermission) -> Option<&'a str> {
        if let Some(same) = self.0.get(requested.as_str()) {
            return Some(same);
        }
        let wildcard = requested.module_wildcard();
        self.0.get(wildcard.as_str()).copied().filter(|held| implies(held, requested))
    }
}

/// Permissions asked about: 1 to [`RequestedPermissions::MAX`] as sent, each kept once, in the
/// order first asked (the order a check answers in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedPermissions(Vec<CompassPermission>);

impl RequestedPermissions {
    /// Items a request may name, counted as sent (before duplicates are dropped).
    pub const MAX: usize = PermissionSet::MAX;

    /// `None` for no items or more than [`RequestedPermissions::MAX`] (counted as sent).
    pub fn new(items: Vec<CompassPermission>) -> Option<Self> {
        if items.is_empty() || items.len() > Self::MAX {
            return None;
        }
        let mut seen = HashSet::with_capacity(items.len());
        let distinct = items.into_iter().filter(|item| seen.insert(item.0.clone())).collect();
        Some(Self(distinct))
    }

    pub fn iter(&self) -> impl Iterator<Item = &CompassPermission> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true: kept for clippy's `len_without_is_empty`, and to say so.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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

/// The implication rule, as docs/api.md's table states it, and its properties over generated
/// permissions (short names, so that modules and prefixes collide often).
#[cfg(test)]
mod implication {
    use proptest::prelude::*;

    use super::*;

    fn permission(text: &str) -> CompassPermission {
        CompassPermission::parse(text).unwrap_or_else(|| panic!("{text} is in the grammar"))
    }

    fn name() -> impl Strategy<Value = String> {
        "[a-c][a-c0-9_-]{0,2}"
    }

    /// Any permission of the grammar: a module, an action of it, or its wildcard.
    fn grammar() -> impl Strategy<Value = String> {
        (name(), prop_oneof![Just(None), Just(Some("*".to_owned())), name().prop_map(Some)]).prop_map(
            |(module, action)| match action {
                None => format!("compass.{module}"),
                Some(action) => format!("compass.{module}.{action}"),
            },
        )
    }

    /// What a users table may hold: grammar strings and anything else.
    fn stored() -> impl Strategy<Value = String> {
        prop_oneof![4 => grammar(), 1 => any::<String>(), 1 => "[A-Za-z.*]{0,12}", 1 => grammar().prop_map(|p| p.to_uppercase())]
    }

    #[test]
    fn the_table_of_docs_api_md() {
        let rows = [
            ("compass.m.a", "compass.m.a", true),
            ("compass.m.*", "compass.m.a", true),
            ("compass.m.*", "compass.m", true),
            ("compass.m.*", "compass.m.*", true),
            ("compass.m", "compass.m.a", false),
            ("compass.m.a", "compass.m", false),
            ("compass.m.a", "compass.m.*", false),
            ("compass.m.*", "compass.n.a", false),
            ("compass.m.*", "compass.mm.a", false),
            ("compass.m", "compass.m", true),
            ("compass.m", "compass.m.*", false),
            ("compass.M.*", "compass.m.a", false),
            ("compass.*", "compass.m", false),
            ("compass.m.*.x", "compass.m.a", false),
        ];
        for (held, requested, implied) in rows {
            assert_eq!(implies(held, &permission(requested)), implied, "{held} implies {requested}");
        }
    }

    #[test]
    fn granted_by_names_the_exact_string_before_the_wildcard() {
        let stored = ["compass.m.*".to_owned(), "compass.m.a".to_owned(), "compass.n".to_owned()];
        let held = HeldPermissions::new(stored.iter().map(String::as_str));
        assert_eq!(held.granting(&permission("compass.m.a")), Some("compass.m.a"));
        assert_eq!(held.granting(&permission("compass.m.b")), Some("compass.m.*"));
        assert_eq!(held.granting(&permission("compass.m")), Some("compass.m.*"));
        assert_eq!(held.granting(&permission("compass.n.a")), None);
        assert_eq!(held.granting(&permission("compass.n")), Some("compass.n"));
    }

    #[test]
    fn requested_permissions_keep_the_first_order_and_count_as_sent() {
        let items = ["compass.b", "compass.a.*", "compass.b", "compass.a"].map(permission).to_vec();
        let requested = RequestedPermissions::new(items).unwrap();
        let order: Vec<&str> = requested.iter().map(CompassPermission::as_str).collect();
        assert_eq!(order, ["compass.b", "compass.a.*", "compass.a"]);
        assert_eq!(RequestedPermissions::new(Vec::new()), None);
        let same = permission("compass.a");
        assert_eq!(RequestedPermissions::new(vec![same.clone(); RequestedPermissions::MAX]).unwrap().len(), 1);
        assert_eq!(RequestedPermissions::new(vec![same; RequestedPermissions::MAX + 1]), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_000))]

        #[test]
        fn every_grammar_string_implies_itself(text in grammar()) {
            prop_assert!(implies(&text, &permission(&text)));
        }

        #[test]
        fn a_module_wildcard_implies_its_module_its_wildcard_and_its_actions_and_nothing_else(
            module in name(),
            requested in grammar(),
        ) {
            let held = format!("compass.{module}.*");
            let of_the_module = requested == format!("compass.{module}")
                || requested.strip_prefix(&format!("compass.{module}.")).is_some();
            prop_assert_eq!(implies(&held, &permission(&requested)), of_the_module);
        }

        #[test]
        fn no_prefix_ever_leaks(module in name(), longer in "[a-c0-9_-]{1,3}", action in name()) {
            let held = format!("compass.{module}.*");
            for requested in [format!("compass.{module}{longer}"), format!("compass.{module}{longer}.{action}"), format!("compass.{module}{longer}.*")] {
                prop_assert!(!implies(&held, &permission(&requested)), "{} implies {}", held, requested);
            }
        }

        #[test]
        fn only_a_grammatical_wildcard_implies_another_string(held in stored(), requested in grammar()) {
            let requested = permission(&requested);
            if implies(&held, &requested) && held != requested.as_str() {
                prop_assert!(held.ends_with(".*") && is_compass_permission(&held), "{} implies {}", held, requested);
            }
        }

        #[test]
        fn granted_by_is_what_implies_decides(stored in prop::collection::vec(stored(), 0..12), requested in grammar()) {
            let requested = permission(&requested);
            let held = HeldPermissions::new(stored.iter().map(String::as_str));
            let exact = stored.iter().find(|held| held.as_str() == requested.as_str());
            let by_scan = exact.or_else(|| stored.iter().find(|held| implies(held, &requested))).map(String::as_str);
            prop_assert_eq!(held.granting(&requested), by_scan);
        }
    }
}

//! The worlds the tests start from, one per API: who exists, who holds what, and their
//! credentials.

/// The org API's world: the seed document's example values, and callers of every kind.
pub mod org {
    use crate::support::world::{TestEnv, now};

    // The seed document's own example values.
    pub const TARGET: &str = "5de38a8e-800e-4cba-84c5-ee6c27f304d8";
    pub const P1: &str = "2a0295b6-dd74-4239-9988-24fcdb1adcea";
    pub const P2: &str = "05a46c58-9d13-4912-9167-7effc2cc7482";
    pub const EDITOR_KEY: &str = "47d4yfbwymedhiudj384702984nakju4hajh395d";

    pub const ORG_A: &str = "a0000000-0000-4000-8000-00000000000a";
    pub const ORG_B: &str = "b0000000-0000-4000-8000-00000000000b";
    pub const EDITOR: &str = "e0000000-0000-4000-8000-000000000001";
    pub const PLAIN: &str = "e0000000-0000-4000-8000-000000000002";
    pub const ORGLESS: &str = "e0000000-0000-4000-8000-000000000003";
    pub const OUTSIDER: &str = "e0000000-0000-4000-8000-000000000004";
    pub const BARE: &str = "e0000000-0000-4000-8000-000000000005";
    pub const EDIT_RIGHT: &str = "ed000000-0000-4000-8000-000000000000";
    pub const P3: &str = "03000000-0000-4000-8000-000000000003";
    pub const UNKNOWN: &str = "99999999-0000-4000-8000-000000000099";
    pub const PLAIN_KEY: &str = "plain-user-key";
    pub const ORGLESS_KEY: &str = "orgless-user-key";

    /// Org A: an editor (with the seed's token), a plain member, the seed's target (holding P3),
    /// a member with no `permissions` attribute; org B: an outsider; and a right-holder with no org.
    pub async fn org_world() -> TestEnv {
        let env = TestEnv::new().await;
        env.put_permission(EDIT_RIGHT, "edit_org_users").await;
        env.put_permission(P1, "view_reports").await;
        env.put_permission(P2, "edit_reports").await;
        env.put_permission(P3, "view_users").await;
        env.put_user(EDITOR, Some(ORG_A), None, &[EDIT_RIGHT]).await;
        env.put_user(PLAIN, Some(ORG_A), None, &[P1]).await;
        env.put_user(TARGET, Some(ORG_A), None, &[P3]).await;
        env.put_user(BARE, Some(ORG_A), None, &[]).await;
        env.put_user(OUTSIDER, Some(ORG_B), None, &[P3]).await;
        env.put_user(ORGLESS, None, None, &[EDIT_RIGHT]).await;
        env.put_token(EDITOR_KEY, EDITOR, Some(now() + 3600)).await;
        env.put_token(PLAIN_KEY, PLAIN, None).await;
        env.put_token(ORGLESS_KEY, ORGLESS, None).await;
        env
    }

    /// The catalog entry that lets a caller read, not change, its org's users' permissions.
    pub const VIEW_RIGHT: &str = "de000000-0000-4000-8000-000000000000";
    pub const VIEWER: &str = "e0000000-0000-4000-8000-000000000006";
    pub const VIEWER_KEY: &str = "viewer-user-key";

    /// [`org_world`], with `view_org_users` in the catalog and a member of org A holding only it.
    pub async fn viewer_world() -> TestEnv {
        let env = org_world().await;
        env.put_permission(VIEW_RIGHT, "view_org_users").await;
        env.put_user(VIEWER, Some(ORG_A), None, &[VIEW_RIGHT]).await;
        env.put_token(VIEWER_KEY, VIEWER, None).await;
        env
    }
}

/// The admin API's world.
pub mod admin {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use serde_json::{Value, json};

    use crate::support::world::{JWT_SECRET, TestEnv, now};

    // The seed document's example target.
    pub const TARGET: &str = "68bb46bb4db8c853599f1ebb";
    pub const ADMIN: &str = "64b000000000000000000001";
    pub const MEMBER: &str = "64b000000000000000000002";
    pub const BARE: &str = "64b000000000000000000003";
    pub const NOBODY: &str = "64b0000000000000000000ff";

    pub async fn admin_world() -> TestEnv {
        seed(TestEnv::new().await).await
    }

    pub async fn seed(env: TestEnv) -> TestEnv {
        env.put_user(ADMIN, None, Some("admin"), &[]).await;
        env.put_user(MEMBER, None, Some("user"), &["compass.dashboard.overview"]).await;
        env.put_user(TARGET, None, Some("user"), &["compass.users.*"]).await;
        env.put_user(BARE, None, Some("user"), &[]).await;
        env
    }

    pub fn jwt(claims: &Value) -> String {
        encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(JWT_SECRET.as_bytes())).unwrap()
    }

    pub fn jwt_for(sub: &str) -> String {
        jwt(&json!({ "sub": sub, "exp": now() + 600 }))
    }
}

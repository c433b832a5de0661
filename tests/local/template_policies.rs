//! Least privilege, read from `template.yaml`: each function's inline policies grant exactly the
//! (action, resource) pairs listed here, nothing else, and no function's configuration carries
//! the JWT key. A change to a policy has to change this table too.

use std::collections::BTreeSet;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::{Yaml, YamlLoader};

/// The one secret the admin function may read: Secrets Manager ends a secret's ARN with 6
/// random characters.
const JWT_SECRET_PATTERN: &str =
    "!Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${JwtSecretName}-??????";

/// An org API change (add or remove): the key (alone when cold, with its predicted caller when
/// warm), re-checked in the transaction; the caller with the catalog entries of its right; the
/// target's update; the audit and idempotency records.
const ORG_CHANGE: &[(&str, &str)] = &[
    ("dynamodb:GetItem", "!GetAtt TokensTable.Arn"),
    ("dynamodb:BatchGetItem", "!GetAtt TokensTable.Arn"),
    ("dynamodb:ConditionCheckItem", "!GetAtt TokensTable.Arn"),
    ("dynamodb:BatchGetItem", "!GetAtt UsersTable.Arn"),
    ("dynamodb:UpdateItem", "!GetAtt UsersTable.Arn"),
    ("dynamodb:ConditionCheckItem", "!GetAtt UsersTable.Arn"),
    ("dynamodb:BatchGetItem", "!GetAtt PermissionsTable.Arn"),
    ("dynamodb:PutItem", "!GetAtt AuditTable.Arn"),
    ("dynamodb:PutItem", "!GetAtt IdempotencyTable.Arn"),
];

/// An admin API change (add or remove): the caller's role, re-checked in the transaction; the
/// target's update; the audit and idempotency records; the JWT key.
const ADMIN_CHANGE: &[(&str, &str)] = &[
    ("dynamodb:GetItem", "!GetAtt UsersTable.Arn"),
    ("dynamodb:UpdateItem", "!GetAtt UsersTable.Arn"),
    ("dynamodb:ConditionCheckItem", "!GetAtt UsersTable.Arn"),
    ("dynamodb:PutItem", "!GetAtt AuditTable.Arn"),
    ("dynamodb:PutItem", "!GetAtt IdempotencyTable.Arn"),
    ("secretsmanager:GetSecretValue", JWT_SECRET_PATTERN),
];

/// Every function of the template, with every (action, resource) its policies allow.
const EXPECTED: &[(&str, &[(&str, &str)])] = &[
    ("OrgUserPermissionsFunction", ORG_CHANGE),
    ("OrgUserPermissionsRemoveFunction", ORG_CHANGE),
    (
        "OrgUserPermissionsListFunction",
        &[
            ("dynamodb:GetItem", "!GetAtt TokensTable.Arn"),
            ("dynamodb:BatchGetItem", "!GetAtt TokensTable.Arn"),
            ("dynamodb:BatchGetItem", "!GetAtt UsersTable.Arn"),
            ("dynamodb:BatchGetItem", "!GetAtt PermissionsTable.Arn"),
        ],
    ),
    ("UserAddPermissionsFunction", ADMIN_CHANGE),
    ("UserRemovePermissionsFunction", ADMIN_CHANGE),
    (
        "UserListPermissionsFunction",
        &[
            ("dynamodb:GetItem", "!GetAtt UsersTable.Arn"),
            ("dynamodb:BatchGetItem", "!GetAtt UsersTable.Arn"),
            ("secretsmanager:GetSecretValue", JWT_SECRET_PATTERN),
        ],
    ),
    (
        "UserPermissionHistoryFunction",
        &[
            ("dynamodb:GetItem", "!GetAtt UsersTable.Arn"),
            ("dynamodb:BatchGetItem", "!GetAtt UsersTable.Arn"),
            ("dynamodb:Query", "!GetAtt AuditTable.Arn"),
            ("secretsmanager:GetSecretValue", JWT_SECRET_PATTERN),
        ],
    ),
    (
        "UserCheckPermissionsFunction",
        &[
            ("dynamodb:GetItem", "!GetAtt UsersTable.Arn"),
            ("dynamodb:BatchGetItem", "!GetAtt UsersTable.Arn"),
            ("secretsmanager:GetSecretValue", JWT_SECRET_PATTERN),
        ],
    ),
    (
        "PermissionsAuthorizerFunction",
        &[("dynamodb:GetItem", "!GetAtt UsersTable.Arn"), ("secretsmanager:GetSecretValue", JWT_SECRET_PATTERN)],
    ),
];

/// yaml-rust2's loader drops the tags of CloudFormation's short forms (`!GetAtt X.Arn` would
/// read `X.Arn`, like a literal). This one keeps a tagged scalar as `"!GetAtt X.Arn"`.
#[derive(Default)]
struct TagKeepingLoader(YamlLoader);

impl MarkedEventReceiver for TagKeepingLoader {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let event = match event {
            Event::Scalar(value, _, anchor, Some(tag)) if tag.handle == "!" => {
                Event::Scalar(format!("!{} {value}", tag.suffix), TScalarStyle::DoubleQuoted, anchor, None)
            }
            other => other,
        };
        self.0.on_event(event, mark);
    }
}

/// A file of the repository, read as it is now (a generator may just have rewritten it).
pub(crate) fn repository_file(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `template.yaml`, with the tags of CloudFormation's short forms kept in its scalars.
pub(crate) fn template() -> Yaml {
    let text = std::fs::read_to_string(repository_file("template.yaml")).unwrap();
    let mut loader = TagKeepingLoader::default();
    Parser::new_from_str(&text).load(&mut loader, false).unwrap();
    loader.0.documents().first().cloned().expect("template.yaml holds one document")
}

pub(crate) fn functions(template: &Yaml) -> Vec<(String, &Yaml)> {
    let resources = template["Resources"].as_hash().unwrap();
    resources
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, resource)| (id.as_str().unwrap().to_owned(), resource))
        .collect()
}

/// A scalar, or each item of a list of scalars.
fn scalars(value: &Yaml, what: &str) -> Vec<String> {
    match value {
        Yaml::String(one) => vec![one.clone()],
        Yaml::Array(many) => many.iter().flat_map(|item| scalars(item, what)).collect(),
        other => panic!("{what}: expected a string or a list of strings, found {other:?}"),
    }
}

fn granted(function: &str, resource: &Yaml) -> BTreeSet<(String, String)> {
    let properties = &resource["Properties"];
    assert!(properties["Role"].is_badvalue(), "{function}: a Role would bypass the Policies checked here");
    let mut pairs = BTreeSet::new();
    for policy in properties["Policies"].as_vec().unwrap_or_else(|| panic!("{function}: no Policies list")) {
        // Only inline documents: a managed policy or a SAM policy template grants what this test
        // cannot see.
        let statements = policy["Statement"]
            .as_vec()
            .unwrap_or_else(|| panic!("{function}: a policy that is not an inline document: {policy:?}"));
        for statement in statements {
            let keys: BTreeSet<&str> = statement.as_hash().unwrap().keys().map(|key| key.as_str().unwrap()).collect();
            assert!(
                keys.is_subset(&BTreeSet::from(["Sid", "Effect", "Action", "Resource"])),
                "{function}: a statement with {keys:?}: NotAction, NotResource, Principal, Condition are not expected"
            );
            assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{function}: {statement:?}");
            for action in scalars(&statement["Action"], function) {
                for target in scalars(&statement["Resource"], function) {
                    pairs.insert((action.clone(), target));
                }
            }
        }
    }
    pairs
}

#[test]
fn each_function_is_granted_exactly_its_table_of_actions() {
    let template = template();
    let functions = functions(&template);
    let ids: Vec<&str> = functions.iter().map(|(id, _)| id.as_str()).collect();
    let expected_ids: Vec<&str> = EXPECTED.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, expected_ids, "every function of the template has its row here");
    for ((function, resource), (_, expected)) in functions.iter().zip(EXPECTED) {
        let expected: BTreeSet<(String, String)> =
            expected.iter().map(|(action, target)| ((*action).to_owned(), (*target).to_owned())).collect();
        let granted = granted(function, resource);
        assert_eq!(
            granted,
            expected,
            "{function}: granted but not expected {:?}; expected but not granted {:?}",
            granted.difference(&expected).collect::<Vec<_>>(),
            expected.difference(&granted).collect::<Vec<_>>()
        );
    }
}

#[test]
fn no_function_configuration_carries_the_jwt_key() {
    let template = template();
    let mut environments = vec![("Globals".to_owned(), &template["Globals"]["Function"]["Environment"])];
    environments
        .extend(functions(&template).into_iter().map(|(id, resource)| (id, &resource["Properties"]["Environment"])));
    for (owner, environment) in environments {
        let Some(variables) = environment["Variables"].as_hash() else { continue };
        for (name, value) in variables {
            let name = name.as_str().unwrap();
            assert_ne!(name, "JWT_SECRET", "{owner}: the key itself must not be in the configuration");
            let rendered = format!("{value:?}");
            for reference in ["resolve:secretsmanager", "resolve:ssm-secure"] {
                assert!(!rendered.contains(reference), "{owner}: {name} resolves a secret at deploy time: {rendered}");
            }
        }
    }
    // What the admin function gets instead: the secret's name, the one its policy names.
    let admin = &template["Resources"]["UserAddPermissionsFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(admin["JWT_SECRET_ID"].as_str(), Some("!Ref JwtSecretName"));
}

/// The authorizer may be invoked by API Gateway of the stack's own account, no other principal
/// and no other account, and its ARN is exported for another stack (examples/protected-api).
#[test]
fn only_api_gateway_of_this_account_may_invoke_the_authorizer() {
    let template = template();
    let resources = template["Resources"].as_hash().unwrap();
    let permissions: Vec<(&str, &Yaml)> = resources
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some("AWS::Lambda::Permission"))
        .map(|(id, resource)| (id.as_str().unwrap(), &resource["Properties"]))
        .collect();
    assert_eq!(permissions.len(), 1, "one invoke permission, the authorizer's: {permissions:?}");
    let (id, permission) = permissions[0];
    assert_eq!(permission["FunctionName"].as_str(), Some("!GetAtt PermissionsAuthorizerFunction.Arn"), "{id}");
    assert_eq!(permission["Action"].as_str(), Some("lambda:InvokeFunction"), "{id}");
    assert_eq!(permission["Principal"].as_str(), Some("apigateway.amazonaws.com"), "{id}");
    assert_eq!(permission["SourceAccount"].as_str(), Some("!Ref AWS::AccountId"), "{id}");
    let source = permission["SourceArn"].as_str().unwrap_or_default();
    assert!(
        source.starts_with("!Sub arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:")
            && source.ends_with("/authorizers/*"),
        "{id}: SourceArn {source:?} must name this account's APIs' authorizers"
    );
    let output = &template["Outputs"]["PermissionsAuthorizerArn"];
    assert_eq!(output["Value"].as_str(), Some("!GetAtt PermissionsAuthorizerFunction.Arn"));
    assert_eq!(output["Export"]["Name"].as_str(), Some("!Sub ${AWS::StackName}-PermissionsAuthorizerArn"));
}

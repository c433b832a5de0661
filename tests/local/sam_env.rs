//! `sam local invoke`, as the README gives it, for every function of `template.yaml`.
//!
//! SAM sets in a function's container only the variables its template declares: an `--env-vars`
//! file overrides them and never adds one. Two that a local run needs must not be in the deployed
//! template: `DYNAMODB_ENDPOINT`, and `JWT_SECRET`, which no deployed configuration may hold
//! (`template_policies.rs`). So the recipe builds from `events/sam-template.yaml`, a copy of
//! `template.yaml` generated here that declares both, blank, and fills every variable from
//! `events/sam-env.json`. This module keeps the copy in step (`scripts/generate` rewrites it),
//! and checks that the file gives every function every variable it declares, a DynamoDB
//! endpoint the container can reach, and no value that looks like a real secret.

use std::collections::BTreeSet;
use std::path::Path;

use permissions_service::local::demo;
use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

use crate::template_policies::{functions, repository_file, template};

const LOCAL_ENV: &str = include_str!("../../local.env");
const LOCAL_TEMPLATE: &str = "events/sam-template.yaml";
const ENV_FILE: &str = "events/sam-env.json";
/// The one object of the env file that names no function: what its values are. SAM ignores it.
const MARKER: &str = "LOCAL-ONLY DEMO VALUES";
/// SAM's key for the values every function gets (its function-specific ones win).
const PARAMETERS: &str = "Parameters";

const HEADER: &str = "\
# GENERATED from template.yaml by tests/local/sam_env.rs: do not edit. After changing
# template.yaml, run scripts/generate.
#
# LOCAL ONLY: NEVER DEPLOY THIS FILE (deploy template.yaml). `sam local invoke` sets only the
# variables a template declares (an --env-vars file overrides them, never adds one), so this copy
# declares, blank, the two a local run needs and no deployed function may carry:
# DYNAMODB_ENDPOINT (every function) and JWT_SECRET (each function that reads its key from
# JWT_SECRET_ID). events/sam-env.json gives them their local values. CodeUri is `..` because this
# file lives in events/. The architecture is a parameter (Architecture), so a build for the host
# runs without emulation. The recipe is in README.md, \"Invoking a function with a sample event\".
#
";

/// The local template's one parameter of its own: deployed, the functions are arm64; locally,
/// the host's own architecture spares emulation (`scripts/sam-local` passes it).
const ARCHITECTURE_PARAMETER: &str = "\
  # LOCAL ONLY: what `sam build` compiles for and `sam local` runs on. arm64 is what is deployed;
  # the host's own architecture (x86_64 on most Linux machines) spares QEMU emulation. Pass the
  # same value to `sam build` and to `sam local` (--parameter-overrides Architecture=x86_64).
  Architecture:
    Type: String
    Default: arm64
    AllowedValues: [arm64, x86_64]
";

/// What a local run adds to every function, and to each one that reads `JWT_SECRET_ID`.
const ENDPOINT_HOOK: &str = "DYNAMODB_ENDPOINT";
const KEY_HOOK: &str = "JWT_SECRET";

/// `template.yaml` with the local hooks, line by line so that it keeps its comments and tags.
/// Each rewrite names its anchor and fails loudly when the template no longer has it once.
fn local_template(template: &str) -> String {
    for hook in [ENDPOINT_HOOK, KEY_HOOK] {
        assert!(
            !template.lines().any(|line| line.trim_start().starts_with(&format!("{hook}:"))),
            "template.yaml declares {hook}: the deployed template must not (see this module's doc)"
        );
    }
    let code_uris = template.lines().filter(|line| line.trim_start().starts_with("CodeUri:")).count();
    assert_eq!(code_uris, 1, "expected one CodeUri (Globals) in template.yaml, to rebase on events/");
    let mut out = String::from(HEADER);
    let (mut top_level, mut rebased, mut endpoint_hooks, mut key_hooks) = ("", 0, 0, 0);
    let (mut architecture_parameters, mut architectures) = (0, 0);
    for line in template.lines() {
        if !line.is_empty() && !line.starts_with([' ', '#']) {
            top_level = line;
        }
        if top_level == "Globals:" && line == "    CodeUri: ." {
            out.push_str("    CodeUri: ..\n");
            rebased += 1;
            continue;
        }
        if top_level == "Globals:" && line == "    Architectures: [arm64]" {
            out.push_str("    Architectures: [!Ref Architecture]\n");
            architectures += 1;
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line == "Parameters:" {
            out.push_str(ARCHITECTURE_PARAMETER);
            architecture_parameters += 1;
        }
        if top_level == "Globals:" && line == "      Variables:" {
            out.push_str(&format!("        {ENDPOINT_HOOK}: \"\"\n"));
            endpoint_hooks += 1;
        }
        if line.trim_start().starts_with("JWT_SECRET_ID:") {
            let indent = &line[..line.len() - line.trim_start().len()];
            out.push_str(&format!("{indent}{KEY_HOOK}: \"\"\n"));
            key_hooks += 1;
        }
    }
    assert_eq!(rebased, 1, "template.yaml: no `    CodeUri: .` under Globals");
    assert_eq!(architectures, 1, "template.yaml: no `    Architectures: [arm64]` under Globals");
    assert_eq!(architecture_parameters, 1, "template.yaml: no `Parameters:` section");
    assert_eq!(endpoint_hooks, 1, "template.yaml: no `      Variables:` under Globals (Function Environment)");
    assert!(key_hooks > 0, "template.yaml: no function reads JWT_SECRET_ID any more; revisit this module");
    out
}

/// The names a function's environment declares: the Globals' and its own.
fn declared(template: &Yaml, function: &Yaml) -> BTreeSet<String> {
    let names = |environment: &Yaml| -> Vec<String> {
        environment["Variables"]
            .as_hash()
            .map(|variables| variables.keys().map(|name| name.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    let mut all: BTreeSet<String> = names(&template["Globals"]["Function"]["Environment"]).into_iter().collect();
    all.extend(names(&function["Properties"]["Environment"]));
    all
}

fn env_file() -> Map<String, Value> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(ENV_FILE)).unwrap();
    match serde_json::from_str(&text).unwrap() {
        Value::Object(file) => file,
        other => panic!("{ENV_FILE}: not a JSON object: {other}"),
    }
}

/// The variables SAM would set from the file for `function`: `Parameters`, then its own object.
fn effective(file: &Map<String, Value>, function: &str) -> Map<String, Value> {
    let mut values = file.get(PARAMETERS).and_then(Value::as_object).cloned().unwrap_or_default();
    values.extend(file.get(function).and_then(Value::as_object).cloned().unwrap_or_default());
    values
}

/// `template.yaml` as it is now: `scripts/generate` may just have rewritten it.
fn deployed_template_text() -> String {
    std::fs::read_to_string(repository_file("template.yaml")).unwrap()
}

fn local_env(name: &str) -> &'static str {
    LOCAL_ENV
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("local.env has no {name}"))
}

#[test]
fn the_local_template_is_template_yaml_with_the_local_hooks() {
    let expected = local_template(&deployed_template_text());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(LOCAL_TEMPLATE);
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(actual == expected, "{LOCAL_TEMPLATE} is stale: run scripts/generate");

    // The same functions, each declaring what template.yaml declares plus the hooks.
    let deployed = template();
    let local = YamlLoader::load_from_str(&expected).unwrap().remove(0);
    let local_functions = functions(&local);
    assert_eq!(
        local_functions.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        functions(&deployed).iter().map(|(id, _)| id).collect::<Vec<_>>()
    );
    assert_eq!(local["Globals"]["Function"]["CodeUri"].as_str(), Some(".."));
    for ((id, deployed_function), (_, local_function)) in functions(&deployed).into_iter().zip(local_functions) {
        let mut wanted = declared(&deployed, deployed_function);
        wanted.insert(ENDPOINT_HOOK.to_owned());
        if wanted.contains("JWT_SECRET_ID") {
            wanted.insert(KEY_HOOK.to_owned());
        }
        assert_eq!(declared(&local, local_function), wanted, "{id}");
        let hooks = &local["Globals"]["Function"]["Environment"]["Variables"];
        assert_eq!(hooks[ENDPOINT_HOOK].as_str(), Some(""), "the hooks are blank in the template");
        let own = &local_function["Properties"]["Environment"]["Variables"];
        assert!(own[KEY_HOOK].is_badvalue() || own[KEY_HOOK].as_str() == Some(""), "{id}: {KEY_HOOK} is blank");
    }
}

/// So a new function, or a new variable, cannot be forgotten: SAM would leave it at the
/// template's value (a `!Ref` SAM resolves to a logical id, or the deployed default).
#[test]
fn the_env_file_gives_every_function_every_variable_it_declares() {
    let file = env_file();
    let local = YamlLoader::load_from_str(&local_template(&deployed_template_text())).unwrap().remove(0);
    let ids: BTreeSet<String> = functions(&local).into_iter().map(|(id, _)| id).collect();
    let mut expected_keys = ids.clone();
    expected_keys.extend([PARAMETERS.to_owned(), MARKER.to_owned()]);
    assert_eq!(file.keys().cloned().collect::<BTreeSet<_>>(), expected_keys, "{ENV_FILE}: one object per function");
    for (key, object) in &file {
        // SAM refuses the whole file when a top-level value is not an object; Lambda takes strings.
        let object = object.as_object().unwrap_or_else(|| panic!("{ENV_FILE}: {key} is not an object"));
        assert!(object.values().all(Value::is_string), "{ENV_FILE}: {key} holds a value that is not a string");
    }
    let mut declared_anywhere = BTreeSet::new();
    for (id, function) in functions(&local) {
        let wanted = declared(&local, function);
        let given: BTreeSet<String> = effective(&file, &id).keys().cloned().collect();
        let missing: Vec<_> = wanted.difference(&given).collect();
        assert!(missing.is_empty(), "{ENV_FILE}: {id} declares {missing:?}, which the file does not set");
        // A name the function does not declare would be ignored by SAM, silently.
        let own: BTreeSet<String> = file[&id].as_object().unwrap().keys().cloned().collect();
        let ignored: Vec<_> = own.difference(&wanted).collect();
        assert!(ignored.is_empty(), "{ENV_FILE}: {id} does not declare {ignored:?}: SAM would ignore them");
        declared_anywhere.extend(wanted);
    }
    let shared: BTreeSet<String> = file[PARAMETERS].as_object().unwrap().keys().cloned().collect();
    let ignored: Vec<_> = shared.difference(&declared_anywhere).collect();
    assert!(ignored.is_empty(), "{ENV_FILE}: no function declares {ignored:?}: SAM would ignore them");
}

#[test]
fn the_env_file_points_every_function_at_the_demo_data_from_inside_the_container() {
    let file = env_file();
    let (_, port) = local_env("DYNAMODB_ENDPOINT").rsplit_once(':').unwrap();
    let deployed = template();
    for (id, function) in functions(&deployed) {
        let values = effective(&file, &id);
        let value = |name: &str| values.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        // 127.0.0.1 or localhost would be the function's own container.
        assert_eq!(value(ENDPOINT_HOOK), format!("http://host.docker.internal:{port}"), "{id}");
        for table in ["USERS_TABLE", "TOKENS_TABLE", "PERMISSIONS_TABLE", "AUDIT_TABLE"] {
            if values.contains_key(table) {
                assert_eq!(value(table), local_env(table), "{id}: {table}, as local-setup creates it");
            }
        }
        let reads_key_from_secrets_manager = declared(&deployed, function).contains("JWT_SECRET_ID");
        if reads_key_from_secrets_manager {
            // The key of the demo tokens, and no secret to look up: the function refuses both.
            assert_eq!(value(KEY_HOOK), demo::JWT_SECRET, "{id}");
            assert_eq!(value("JWT_SECRET_ID"), "", "{id}: JWT_SECRET_ID must be blank beside JWT_SECRET");
        } else {
            assert!(!values.contains_key(KEY_HOOK), "{id} has no use for a JWT key");
        }
    }
}

/// Whether a value looks like a credential: an AWS access key id, a PEM block, a JWT or other
/// base64 JSON, a secret reference, or a long run of mixed letters and digits.
fn looks_like_a_secret(value: &str) -> bool {
    let access_key_id = value.as_bytes().windows(20).any(|window| {
        (window.starts_with(b"AKIA") || window.starts_with(b"ASIA"))
            && window[4..].iter().all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit())
    });
    let random_run = value.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=_".contains(c))).any(|run| {
        run.len() >= 20 && run.bytes().any(|b| b.is_ascii_digit()) && run.bytes().any(|b| b.is_ascii_alphabetic())
    });
    access_key_id
        || random_run
        || ["-----BEGIN", "eyJ", "resolve:secretsmanager", "resolve:ssm", "arn:aws"].iter().any(|s| value.contains(s))
}

#[test]
fn no_value_in_the_env_file_looks_like_a_real_secret() {
    let file = env_file();
    let marker = file[MARKER].as_object().unwrap();
    assert!(marker.values().any(|text| text.as_str().unwrap().contains("LOCAL-ONLY DEMO VALUE")), "{MARKER}");
    for (key, object) in &file {
        for (name, value) in object.as_object().unwrap() {
            let value = value.as_str().unwrap();
            if key != MARKER {
                let upper = name.to_uppercase();
                let sensitive = ["SECRET", "PASSWORD", "CREDENTIAL", "ACCESS_KEY", "SESSION_TOKEN", "API_KEY"];
                if name == KEY_HOOK {
                    assert_eq!(value, demo::JWT_SECRET, "{key}: {name} may only be the marked demo key");
                    continue;
                }
                if name == "JWT_SECRET_ID" {
                    assert_eq!(value, "", "{key}: a local run names no real secret");
                    continue;
                }
                assert!(!sensitive.iter().any(|word| upper.contains(word)), "{key}: {name} looks like a credential");
            }
            assert!(!looks_like_a_secret(value), "{key}: {name} looks like a real secret: {value}");
        }
    }
    assert!(demo::JWT_SECRET.contains("local-only-demo"), "the demo key says what it is");
}

#[test]
fn the_secret_detector_catches_what_it_is_for() {
    for secret in [
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "eyJhbGciOiJIUzI1NiJ9.e30.x",
        "-----BEGIN PRIVATE KEY-----",
        "{{resolve:secretsmanager:x}}",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
    ] {
        assert!(looks_like_a_secret(secret), "{secret}");
    }
    for plain in ["", "users", "http://host.docker.internal:8000", "PermissionsService/local", demo::JWT_SECRET] {
        assert!(!looks_like_a_secret(plain), "{plain}");
    }
}

/// The README's recipe has a line for every function, with a sample event of its own folder.
#[test]
fn the_readme_recipe_invokes_every_function() {
    let readme = include_str!("../../README.md");
    for needed in [LOCAL_TEMPLATE, ENV_FILE, "--add-host host.docker.internal:host-gateway", "AWS_ENDPOINT_URL_STS="] {
        assert!(readme.contains(needed), "README.md: the sam local invoke recipe lost `{needed}`");
    }
    let deployed = template();
    for (id, function) in functions(&deployed) {
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let prefix = format!("sam_invoke {id} events/{binary}/");
        let line = readme.lines().find(|line| line.starts_with(&prefix));
        let line = line.unwrap_or_else(|| panic!("README.md: no `{prefix}…` line in the sam local invoke recipe"));
        let event = line.rsplit(' ').next().unwrap();
        assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(event).is_file(), "README.md: {event} does not exist");
    }
}

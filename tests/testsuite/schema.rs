//! The JSON Schemas in `schemas/` describe the stack format: they accept every stack this
//! repository ships and refuse the mistakes a schema can see.

use std::path::Path;

use crate::support::{dirs, root};

pub(crate) fn validator(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("schemas").join(name)).expect("schema");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema is a valid JSON Schema")
}

fn as_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("toml file");
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn problems(v: &jsonschema::Validator, path: &Path) -> Vec<String> {
    v.iter_errors(&as_json(path))
        .map(|e| format!("{}: {e} at {}", path.display(), e.instance_path()))
        .collect()
}

/// Every stack directory that must be valid: `stacks/*` and `fixtures/valid/*`.
fn valid_stacks() -> Vec<std::path::PathBuf> {
    let mut all = dirs(&root().join("stacks"));
    all.extend(dirs(&root().join("fixtures/valid")));
    all
}

#[test]
fn shipped_stacks_and_valid_fixtures_match_the_schemas() {
    let stack = validator("stack.schema.json");
    let env = validator("env.schema.json");
    let mut found = Vec::new();
    let mut checked = 0;
    for dir in valid_stacks() {
        found.extend(problems(&stack, &dir.join("stack.toml")));
        checked += 1;
        for file in std::fs::read_dir(dir.join("env"))
            .into_iter()
            .flatten()
            .flatten()
        {
            found.extend(problems(&env, &file.path()));
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} files checked");
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_schemas_refuse_what_they_can_see() {
    let stack = validator("stack.schema.json");
    let env = validator("env.schema.json");
    let invalid = root().join("fixtures/invalid");
    for fixture in [
        "02-unknown-kind",
        "03-unknown-key-resource",
        "05-wrong-type",
        "06-missing-required-field",
        "17-bad-count",
        "31-rule-cidr-and-group",
    ] {
        assert!(
            !problems(&stack, &invalid.join(fixture).join("stack.toml")).is_empty(),
            "{fixture} passed the schema"
        );
    }
    assert!(!problems(&env, &invalid.join("04-unknown-key-env/env/test.toml")).is_empty());
}

//! Step 5 of loading: deserializing a resource table into the raw types, and serde's
//! errors translated into diagnostics people read (the key path, the expected type in
//! plain words, a hint where there is an obvious fix).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

use super::{Loader, Var};
use crate::stack::diag::{Diagnostic, did_you_mean};
use crate::stack::source::Span;

impl Loader<'_, '_> {
    /// Step 5: deserialize `value`, reporting every error it holds. After each error the
    /// key it was found in is taken out and the rest tried again; a "missing key" that this
    /// removal caused is not reported.
    pub(super) fn deserialize<T: DeserializeOwned>(
        &mut self,
        value: Spanned<DeValue<'_>>,
        what: &str,
    ) -> Option<T> {
        let whole = value.span();
        let mut value = value.into_inner();
        let mut removed: Vec<String> = Vec::new();
        for _ in 0..256 {
            let attempt = T::deserialize(ValueDeserializer::from(Spanned::new(
                whole.clone(),
                value.clone(),
            )));
            let error = match attempt {
                Ok(t) => return removed.is_empty().then_some(t),
                Err(e) => e,
            };
            let message = error.message().to_string();
            // A key missing because it was taken out, or because it was misspelt (the
            // unknown key already said "did you mean"): one mistake, one error.
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|m| m.strip_suffix('`'));
            if let Some(field) = missing
                && removed
                    .iter()
                    .any(|k| k == field || did_you_mean(k, [field]).is_some())
            {
                return None;
            }
            let range = error.span().unwrap_or(whole.clone());
            let path = key_path(&value, &range);
            self.diags.push(self.translate(
                &message,
                Span::new(self.file, range.clone()),
                &path,
                what,
                &whole,
            ));
            let DeValue::Table(table) = &mut value else {
                return None;
            };
            let top = table
                .keys()
                .find(|k| path.first().is_some_and(|p| k.get_ref() == p.as_str()))
                .cloned();
            match top {
                Some(k) => {
                    removed.push(k.get_ref().to_string());
                    table.remove(&k);
                }
                None => return None,
            }
        }
        None
    }

    /// Serde's message, in the words of a stack file.
    fn translate(
        &self,
        message: &str,
        span: Span,
        path: &[String],
        what: &str,
        whole: &std::ops::Range<usize>,
    ) -> Diagnostic {
        let field = dotted(path);
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
            let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let in_what = if path.len() > 1 {
                format!("`{}` of {what}", dotted(&path[..path.len() - 1]))
            } else {
                what.to_string()
            };
            return Diagnostic::error(format!("unknown key `{key}` in {in_what}"))
                .at(span)
                .maybe_hint(did_you_mean(key, candidates.iter().copied()).or_else(|| {
                    (!candidates.is_empty()).then(|| {
                        format!(
                            "expected one of {}",
                            candidates
                                .iter()
                                .map(|c| format!("`{c}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })
                }));
        }
        if let Some(rest) = message.strip_prefix("missing field `") {
            let key = rest.trim_end_matches('`');
            let table = if path.is_empty() {
                what.to_string()
            } else {
                format!("`{field}` of {what}")
            };
            let at = if span.range == *whole {
                Span::new(self.file, whole.start..whole.start + 1)
            } else {
                span
            };
            return Diagnostic::error(format!("{table} is missing the required key `{key}`"))
                .at(at);
        }
        if let Some(rest) = message.strip_prefix("invalid type: ")
            && let Some((found, expected)) = rest.split_once(", expected ")
        {
            let subject = if field.is_empty() {
                what.to_string()
            } else {
                format!("`{field}`")
            };
            return Diagnostic::error(format!(
                "{subject} must be {}, not {}",
                plain_type(expected),
                plain_found(found)
            ))
            .at(span);
        }
        let subject = if field.is_empty() {
            what.to_string()
        } else {
            format!("`{field}`")
        };
        Diagnostic::error(format!("invalid {subject}: {message}")).at(span)
    }
}

pub(crate) fn unknown_var(name: &str, vars: &BTreeMap<String, Var>) -> Diagnostic {
    Diagnostic::error(format!("unknown var `{name}`")).maybe_hint(
        did_you_mean(name, vars.keys().map(String::as_str))
            .or_else(|| Some(format!("declare it in `[vars]`: `{name} = …`"))),
    )
}

/// Where the text of the string token at `range` starts (after its opening quotes).
pub(super) fn string_start(text: &str, range: &std::ops::Range<usize>) -> usize {
    let raw = text.get(range.clone()).unwrap_or("");
    let delim = ["\"\"\"", "'''", "\"", "'"]
        .into_iter()
        .find(|d| raw.starts_with(d))
        .unwrap_or("");
    range.start + delim.len()
}

/// `ingress` `[0]` `ports` as people read it: `ingress[0].ports`.
fn dotted(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if !out.is_empty() && !seg.starts_with('[') {
            out.push('.');
        }
        out.push_str(seg);
    }
    out
}

/// The path of keys (and array indices, `[i]`) down to the innermost value that holds
/// `range`.
fn key_path(value: &DeValue<'_>, range: &std::ops::Range<usize>) -> Vec<String> {
    let inside =
        |r: std::ops::Range<usize>| r.start <= range.start && range.end <= r.end && r != (0..0);
    match value {
        DeValue::Table(table) => {
            for (k, v) in table.iter() {
                if inside(k.span()) {
                    return vec![k.get_ref().to_string()];
                }
                // An array substituted from the env file: its items are spanned apart.
                let holds = |v: &Spanned<DeValue<'_>>| match v.get_ref() {
                    DeValue::Array(items) => items.iter().any(|i| inside(i.span())),
                    _ => false,
                };
                if inside(v.span()) || holds(v) {
                    let mut path = vec![k.get_ref().to_string()];
                    path.extend(key_path(v.get_ref(), range));
                    return path;
                }
            }
            Vec::new()
        }
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if inside(item.span()) {
                    let inner = key_path(item.get_ref(), range);
                    let mut path = vec![format!("[{i}]")];
                    path.extend(inner);
                    return path;
                }
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// A var's value, ready to stand where `${var.X}` was. Text holding `${` is escaped so it is
/// not read as an expression a second time.
pub(super) fn escaped(mut value: DeValue<'_>) -> DeValue<'_> {
    match &mut value {
        DeValue::String(s) if s.contains("${") => {
            *s = std::borrow::Cow::Owned(s.replace("${", "$${"))
        }
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                if let DeValue::String(s) = item.get_mut()
                    && s.contains("${")
                {
                    *s = std::borrow::Cow::Owned(s.replace("${", "$${"));
                }
            }
        }
        _ => {}
    }
    value
}

pub(super) fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn plain_type(expected: &str) -> String {
    match expected {
        "i64" | "u64" | "u32" | "i32" => "an integer".into(),
        "a boolean" | "bool" => "a boolean (`true` or `false`)".into(),
        "a string" => "a string".into(),
        "a sequence" => "an array".into(),
        "a map" => "a table".into(),
        e if e.starts_with("struct ") => "a table".into(),
        e => e.to_string(),
    }
}

fn plain_found(found: &str) -> String {
    let (kind, value) = found.split_once(' ').unwrap_or((found, ""));
    let kind = match kind {
        "string" => "a string",
        "integer" => "an integer",
        "floating" => "a float",
        "boolean" => "a boolean",
        "sequence" => "an array",
        "map" => "a table",
        other => other,
    };
    let value = value.trim_start_matches("point ").trim_matches('`');
    if value.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} `{}`", value.trim_matches('"'))
    }
}

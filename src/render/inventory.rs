//! `stackwright ls`: the stacks the tags find, as a table or as JSON
//! (`schemas/ls.schema.json`).

use std::fmt::Write;

use crate::provider::inventory::Listed;

/// One line per stack and env, columns aligned; `-` where there is nothing to say.
pub fn table(stacks: &[Listed]) -> String {
    if stacks.is_empty() {
        return "No stacks found.\n".to_string();
    }
    let header = [
        "STACK",
        "ENV",
        "REGION",
        "RESOURCES",
        "CREATED",
        "EXPIRES",
        "EXPIRED",
        "LOCKED",
    ];
    let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
    let rows: Vec<[String; 8]> = stacks
        .iter()
        .map(|s| {
            [
                s.stack.clone(),
                s.env.clone(),
                s.region.clone(),
                s.resources.to_string(),
                s.created.clone().unwrap_or_else(|| "-".into()),
                s.expires.clone().unwrap_or_else(|| "-".into()),
                yes(s.expired),
                yes(s.locked),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let _ = write!(text, "{cell:<w$}");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// `{"stacks": [{"stack", "env", "region", "resources", "created", "expires", "expired",
/// "locked"}]}`, pretty-printed.
pub fn json(stacks: &[Listed]) -> String {
    let value = serde_json::json!({ "stacks": stacks });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

/// `ls --stats`: the AWS calls made in each region, by operation.
pub fn calls<'a>(
    by_region: impl IntoIterator<Item = (&'a String, &'a std::collections::BTreeMap<String, u64>)>,
) -> String {
    let mut out = String::new();
    for (region, calls) in by_region {
        let total: u64 = calls.values().sum();
        let each: Vec<String> = calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
        out.push_str(&format!(
            "AWS calls in {region}: {total} ({})\n",
            each.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_and_says_dash_for_nothing() {
        let row = |env: &str, expires: Option<&str>, expired| Listed {
            stack: "app".into(),
            env: env.into(),
            region: "us-east-1".into(),
            resources: 12,
            created: Some("2026-12-01T00:00:00Z".into()),
            expires: expires.map(String::from),
            expired,
            locked: false,
        };
        let text = table(&[
            row("production", None, false),
            row("review", Some("2026-12-03T00:00:00Z"), true),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "STACK  ENV         REGION     RESOURCES  CREATED               EXPIRES               EXPIRED  LOCKED"
        );
        assert_eq!(
            lines[1],
            "app    production  us-east-1  12         2026-12-01T00:00:00Z  -                     no       no"
        );
        assert!(lines[2].contains("2026-12-03T00:00:00Z  yes"));
        assert_eq!(table(&[]), "No stacks found.\n");
        let v: serde_json::Value = serde_json::from_str(&json(&[row("r", None, false)])).unwrap();
        assert_eq!(v["stacks"][0]["expires"], serde_json::Value::Null);
        assert_eq!(v["stacks"][0]["resources"], 12);
    }
}

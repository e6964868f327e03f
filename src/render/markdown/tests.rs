//! The comment read back by a CommonMark parser (with GitHub's tables), as GitHub would.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::*;
use crate::graph::Graph;
use crate::plan::{self, Summary};
use crate::provider::{LiveState, Value};
use crate::stack::load_text;

const FULL_PLAN: &str = "stackwright plan stacks/shop --env test";

/// A stack of `count` instances, an open SSH rule, a database with a secret password, and
/// user data holding a secret.
fn stack(count: usize) -> String {
    format!(
        r##"
[stack]
name = "shop"
region = "us-east-1"

[secrets]
token = {{ env = "SHOP_TOKEN" }}
pw = {{ env = "SHOP_PW" }}

[security_group.web]
description = "web"
ingress = [
  {{ protocol = "tcp", ports = "443", cidr = "0.0.0.0/0" }},
  {{ protocol = "tcp", ports = "22", cidr = "0.0.0.0/0", description = "SSH | for *now*" }},
]

[database.db]
engine = "mysql"
instance_class = "db.t3.micro"
storage_gb = 20
master_username = "root"
master_password = "${{secret.pw}}"

[instance.web]
count = {count}
ami = "ami-12345678"
instance_type = "t3.micro"
security_groups = ["web"]
user_data = """#!/bin/sh
echo 'token=${{secret.token}}' > /etc/web.conf
echo 'line two'
"""
"##
    )
}

/// The plan of [`stack`] against an empty account, with the database replaced instead of
/// created (data loss): every instance and the group created.
fn plan_of(count: usize) -> Plan {
    let loaded = load_text(&stack(count), "").unwrap_or_else(|e| panic!("{:#?}", e.diagnostics));
    let graph = Graph::build(&loaded.stack).expect("no cycles");
    let mut plan = plan::plan(&loaded.stack, &graph, &LiveState::default());
    let db = plan
        .changes
        .iter_mut()
        .find(|c| c.address.to_string() == "database.db")
        .expect("database change");
    db.action = Action::Replace;
    db.id = Some("shop-test-db".into());
    db.replace_because = vec!["engine".into()];
    db.marks.push(Mark::DataLoss(
        "the database is replaced: its data is lost".into(),
    ));
    plan.summary = Summary::of(&plan.changes);
    plan
}

/// What a CommonMark parser with GitHub's tables makes of `text`.
fn events(text: &str) -> Vec<Event<'_>> {
    Parser::new_ext(text, Options::ENABLE_TABLES).collect()
}

/// The number of rows in the body of each table, and the number of cells of each row.
fn tables(text: &str) -> Vec<Vec<usize>> {
    let mut tables = Vec::new();
    let (mut in_head, mut cells) = (false, 0);
    for event in events(text) {
        match event {
            Event::Start(Tag::Table(_)) => tables.push(Vec::new()),
            Event::Start(Tag::TableHead) => in_head = true,
            Event::End(TagEnd::TableHead) => in_head = false,
            Event::Start(Tag::TableRow) => cells = 0,
            Event::Start(Tag::TableCell) => cells += 1,
            Event::End(TagEnd::TableRow) if !in_head => {
                if let Some(t) = tables.last_mut() {
                    t.push(cells);
                }
            }
            _ => {}
        }
    }
    tables
}

/// The position in the event stream of the first event `what` matches.
fn first(text: &str, what: impl Fn(&Event<'_>) -> bool) -> Option<usize> {
    events(text).iter().position(what)
}

fn text_is(event: &Event<'_>, starts: &str) -> bool {
    matches!(event, Event::Text(t) if t.starts_with(starts))
}

#[test]
fn summary_then_attention_then_table_then_details() {
    let plan = plan_of(2);
    let md = render(&plan, FULL_PLAN);
    assert!(
        md.starts_with("<!-- stackwright plan: stack=shop env=test -->\n"),
        "{md}"
    );

    let summary = first(&md, |e| {
        text_is(e, "Plan: 3 to create, 0 to update, 1 to replace")
    })
    .unwrap_or_else(|| panic!("no summary in\n{md}"));
    let attention = first(&md, |e| text_is(e, "Needs attention")).expect("attention heading");
    let data_loss = first(&md, |e| text_is(e, "data loss")).expect("a data-loss item");
    let sensitive = first(&md, |e| text_is(e, "security-sensitive")).expect("a sensitive item");
    let table = first(&md, |e| matches!(e, Event::Start(Tag::Table(_)))).expect("a table");
    let details = first(
        &md,
        |e| matches!(e, Event::Html(h) if h.starts_with("<details>")),
    )
    .expect("details");
    assert!(
        summary < attention
            && attention < data_loss
            && data_loss < sensitive
            && sensitive < table
            && table < details,
        "{summary} {attention} {data_loss} {sensitive} {table} {details}\n{md}"
    );
    // Nothing before the summary but the marker and the title.
    let before: Vec<&str> = md
        .lines()
        .take_while(|l| !l.starts_with("**Plan:"))
        .collect();
    assert_eq!(before.len(), 3, "{before:?}");

    // One row per change, four cells each, though a rule's description holds a `|`.
    assert_eq!(tables(&md), vec![vec![4; plan.changes.len()]], "{md}");
    assert!(
        md.contains("| -/+ replace | `database.db` | engine | **data loss** |"),
        "{md}"
    );
    assert!(
        md.contains("| + create | `security_group.web` |  | **security-sensitive** |"),
        "{md}"
    );
    assert_eq!(md.matches("<details>").count(), plan.changes.len(), "{md}");
    assert!(!md.contains("Shortened"), "{md}");
}

#[test]
fn secrets_print_as_in_the_text_plan() {
    // User data read for real (`plan --deep`) and changed: a diff, through the secret.
    let mut plan = plan_of(1);
    let web = plan
        .changes
        .iter_mut()
        .find(|c| c.address.to_string() == "instance.web[0]")
        .expect("instance");
    web.action = Action::Update;
    web.id = Some("i-0123".into());
    web.attrs.retain(|a| a.name == "user_data");
    // What `--deep` reads has the secret's value put back as its placeholder.
    web.attrs[0].before = Some(Value::text(
        "#!/bin/sh\necho 'old=${secret.token}' > /etc/web.conf\n",
    ));
    web.attrs[0].tracked = false;
    plan.summary = Summary::of(&plan.changes);

    let text = super::super::plan::render(&plan, false);
    assert!(
        text.contains("+echo 'token=(sensitive)' > /etc/web.conf"),
        "{text}"
    );
    let md = render(&plan, FULL_PLAN);
    assert!(
        md.contains("\n-    echo 'old=(sensitive)' > /etc/web.conf\n"),
        "{md}"
    );
    assert!(
        md.contains("\n+    echo 'token=(sensitive)' > /etc/web.conf\n"),
        "{md}"
    );
    assert!(
        !md.contains("${secret") && !md.contains("secret.token"),
        "{md}"
    );
}

#[test]
fn a_thousand_changes_fit_a_comment_and_say_what_was_left_out() {
    let plan = plan_of(1000);
    assert_eq!(plan.changes.len(), 1002);
    let md = render(&plan, FULL_PLAN);
    assert!(md.len() <= LIMIT, "{} bytes", md.len());
    assert!(md.chars().count() <= 65_536);

    // The summary, the whole attention list and the whole table are there.
    assert!(
        md.contains("**Plan: 1001 to create, 0 to update, 1 to replace, 0 to destroy\\.**")
            || md.contains("**Plan: 1001 to create, 0 to update, 1 to replace, 0 to destroy.**")
    );
    assert_eq!(tables(&md), vec![vec![4; 1002]]);
    assert!(
        md.contains("- **data loss**: `database.db` will be replaced"),
        "{md}"
    );

    // Details for a prefix of the changes, and a notice that counts the rest.
    let shown = md.matches("<details>").count();
    assert!(shown > 0 && shown < 1002, "{shown}");
    let notice = format!("left out the details of {} of 1002 changes", 1002 - shown);
    assert!(
        md.contains(&notice),
        "no {notice:?} in the end of\n{}",
        &md[md.len() - 600..]
    );
    assert!(md.contains("`stackwright plan stacks/shop --env test --format text`"));
    assert!(
        md.trim_end().ends_with("or the plan saved with `--out`."),
        "{}",
        &md[md.len() - 300..]
    );
    // Every `<details>` shown is closed: nothing was cut through a block.
    assert_eq!(md.matches("</details>").count(), shown);
}

#[test]
fn a_table_too_long_loses_its_last_rows_and_says_so() {
    let plan = plan_of(200);
    let md = render_within(&plan, FULL_PLAN, 6_000);
    assert!(md.len() <= 6_000, "{}", md.len());
    let rows = tables(&md)[0].len();
    assert!(rows > 10 && rows < 202, "{rows}");
    assert_eq!(md.matches("<details>").count(), 0);
    assert!(
        md.contains(&format!(
            "left out the details of 202 of 202 changes; the last {} rows of the table",
            202 - rows
        )),
        "{md}"
    );
    // The attention list is whole.
    assert!(md.contains("- **data loss**") && md.contains("- **security-sensitive**"));
}

#[test]
fn no_changes_is_one_line_and_no_table() {
    let mut plan = plan_of(1);
    plan.changes.clear();
    plan.summary = Summary::of(&plan.changes);
    let md = render(&plan, FULL_PLAN);
    assert!(md.contains("\n**No changes.**\n"), "{md}");
    assert!(tables(&md).is_empty(), "{md}");
    assert!(
        !md.contains("Needs attention") && !md.contains("<details>"),
        "{md}"
    );
}

#[test]
fn markdown_in_names_and_reasons_is_escaped() {
    let mut plan = plan_of(1);
    plan.warnings = vec!["see <details> | @someone *now* #12".into()];
    let group = plan
        .changes
        .iter_mut()
        .find(|c| c.address.to_string() == "security_group.web")
        .expect("group");
    group.marks = vec![Mark::SecuritySensitive(
        "opens `22` | to ${secret.pw} </details> [x](y)".into(),
    )];
    let md = render(&plan, FULL_PLAN);
    assert!(
        md.contains("see \\<details\\> \\| \\@someone \\*now\\* \\#12"),
        "{md}"
    );
    assert!(
        md.contains("opens \\`22\\` \\| to (sensitive) \\</details\\> \\[x\\](y)"),
        "{md}"
    );
    // No stray HTML: the only HTML blocks are the marker and the details.
    for event in events(&md) {
        if let Event::Html(h) | Event::InlineHtml(h) = event {
            assert!(
                h.starts_with("<!-- stackwright")
                    || h.starts_with("<details>")
                    || h.starts_with("</details>"),
                "{h:?}"
            );
        }
    }
}

#[test]
fn a_head_longer_than_the_limit_is_cut_to_it() {
    let mut plan = plan_of(1);
    plan.warnings = vec!["w".repeat(3_000)];
    let md = render_within(&plan, FULL_PLAN, 1_000);
    assert!(md.len() <= 1_000, "{}", md.len());
    assert!(md.ends_with("**Cut here to fit a comment.**\n"), "{md}");
}

#[test]
fn a_fence_is_longer_than_any_backticks_inside() {
    assert_eq!(longest_run("a ``` b `` c", '`'), 3);
    let mut plan = plan_of(1);
    let web = plan
        .changes
        .iter_mut()
        .find(|c| c.address.to_string() == "instance.web[0]")
        .expect("instance");
    web.attrs[0].after = Some(Value::text("````"));
    let md = render(&plan, FULL_PLAN);
    assert!(md.contains("\n`````diff\n"), "{md}");
}

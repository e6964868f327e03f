//! Secrets in user data read back (`plan --deep`), masked by position.
//!
//! The provider replaces the *current* value of every secret with its `${secret.NAME}`
//! placeholder, but an instance launched with an older value holds that value in clear,
//! and stackwright never knew it. The template says where each secret was interpolated:
//! the live text is aligned to the template's literal pieces (they must appear in order,
//! the first at the start and the last at the end), and whatever sits where a secret is
//! becomes its placeholder. What is shown is then only the template's own text, which the
//! stack holds in clear anyway. If the text does not align, nothing of it is shown.
//!
//! Linear in the text: each literal piece is searched for once, from where the previous
//! one ended (`str::find` is linear in what it scans).

use crate::plan::attrs::Known;
use crate::stack::template::{Part, Template};

/// What the live user data is, seen through the template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Aligned {
    /// It aligns, and differs from the stack only where secrets are interpolated: the
    /// text with those places masked (which is the stack's text), and the secrets whose
    /// input is not the one set now.
    SecretsChanged { masked: String, names: Vec<String> },
    /// It does not align, or differs somewhere else too: it may hold an old secret
    /// anywhere, so none of it may be shown.
    Withheld,
}

/// One stretch of a template: literal text, or the interpolations between two texts.
enum Piece<'t> {
    Text(String),
    Gap(Vec<&'t Part>),
}

fn pieces(template: &Template) -> Vec<Piece<'_>> {
    let mut out: Vec<Piece<'_>> = vec![Piece::Text(String::new())];
    for part in &template.parts {
        match (part, out.last_mut()) {
            (Part::Text(t), Some(Piece::Text(last))) => last.push_str(t),
            (Part::Text(t), _) => out.push(Piece::Text(t.clone())),
            (_, Some(Piece::Gap(gap))) => gap.push(part),
            _ => out.push(Piece::Gap(vec![part])),
        }
    }
    if let Some(Piece::Gap(_)) = out.last() {
        out.push(Piece::Text(String::new()));
    }
    out
}

/// A gap as the stack renders it (secrets as placeholders), if every attribute is known.
fn rendered(gap: &[&Part], known: &Known<'_>) -> Option<String> {
    let mut out = String::new();
    for part in gap {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Secret(name) => out.push_str(&format!("${{secret.{name}}}")),
            Part::Attr { target, attr } => out.push_str(
                known
                    .get(target)
                    .copied()
                    .flatten()
                    .and_then(|live| live.outputs.get(attr))?,
            ),
        }
    }
    Some(out)
}

/// Align `live` (secrets set now already masked by value) to `template`. Call it only for
/// a live text that differs from the stack's.
pub fn align(template: &Template, known: &Known<'_>, live: &str) -> Aligned {
    let pieces = pieces(template);
    let texts: Vec<&str> = pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Text(t) => Some(t.as_str()),
            Piece::Gap(_) => None,
        })
        .collect();
    let gaps: Vec<&[&Part]> = pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Gap(g) => Some(g.as_slice()),
            Piece::Text(_) => None,
        })
        .collect();
    let (first, last) = (texts[0], texts[texts.len() - 1]);
    if gaps.is_empty()
        || live.len() < first.len() + last.len()
        || !live.starts_with(first)
        || !live.ends_with(last)
    {
        return Aligned::Withheld;
    }
    let end = live.len() - last.len();
    let mut cursor = first.len();
    let mut names = Vec::new();
    for (i, gap) in gaps.iter().enumerate() {
        // The text between this gap and the next literal piece (the last one is fixed).
        let found = if i + 1 == gaps.len() {
            &live[cursor..end]
        } else {
            let next = texts[i + 1];
            let Some(at) = live[cursor..end].find(next) else {
                return Aligned::Withheld;
            };
            let found = &live[cursor..cursor + at];
            cursor += at + next.len();
            found
        };
        let want = rendered(gap, known);
        if want.as_deref() == Some(found) {
            continue;
        }
        // Only a gap of secrets alone may differ: one holding an attribute too could
        // hide a changed attribute behind the mask.
        if !gap.iter().all(|p| matches!(p, Part::Secret(_))) {
            return Aligned::Withheld;
        }
        for part in gap.iter() {
            if let Part::Secret(name) = part
                && !names.contains(name)
            {
                names.push(name.clone());
            }
        }
    }
    if names.is_empty() {
        // Equal after all: nothing to hide, but the caller asked about a difference.
        return Aligned::Withheld;
    }
    let mut masked = String::new();
    for (i, text) in texts.iter().enumerate() {
        masked.push_str(text);
        if let Some(gap) = gaps.get(i) {
            match rendered(gap, known) {
                Some(r) => masked.push_str(&r),
                None => return Aligned::Withheld,
            }
        }
    }
    names.sort();
    Aligned::SecretsChanged { masked, names }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::provider::LiveResource;
    use crate::stack::Address;

    fn template(parts: Vec<Part>) -> Template {
        Template { parts }
    }

    fn text(t: &str) -> Part {
        Part::Text(t.into())
    }

    fn secret(n: &str) -> Part {
        Part::Secret(n.into())
    }

    fn changed(masked: &str, names: &[&str]) -> Aligned {
        Aligned::SecretsChanged {
            masked: masked.into(),
            names: names.iter().map(|n| n.to_string()).collect(),
        }
    }

    #[test]
    fn an_old_secret_is_masked_where_the_template_interpolates_it() {
        let t = template(vec![
            text("#!/bin/sh\necho 'token="),
            secret("token"),
            text("' > /etc/web.conf\n"),
        ]);
        let live = "#!/bin/sh\necho 'token=OLD-SECRET-1' > /etc/web.conf\n";
        let got = align(&t, &BTreeMap::new(), live);
        assert_eq!(
            got,
            changed(
                "#!/bin/sh\necho 'token=${secret.token}' > /etc/web.conf\n",
                &["token"]
            )
        );
        let Aligned::SecretsChanged { masked, .. } = got else {
            unreachable!()
        };
        assert!(!masked.contains("OLD-SECRET-1"));
    }

    #[test]
    fn only_the_secrets_that_changed_are_named() {
        let t = template(vec![
            secret("a"),
            text(":"),
            secret("b"),
            text(":"),
            secret("c"),
        ]);
        // `b` is the value set now (masked by value already); `a` and `c` are old.
        let got = align(&t, &BTreeMap::new(), "old-a:${secret.b}:old-c");
        assert_eq!(
            got,
            changed("${secret.a}:${secret.b}:${secret.c}", &["a", "c"])
        );
    }

    #[test]
    fn an_old_secret_holding_the_next_literal_is_still_hidden() {
        // Leftmost alignment cuts the old value at the first `:`; what is shown is the
        // template's own text, never a piece of the value.
        let t = template(vec![secret("a"), text(":"), secret("b"), text("\n")]);
        let got = align(&t, &BTreeMap::new(), "x:LEAK:y\n");
        let Aligned::SecretsChanged { masked, .. } = got else {
            panic!("{got:?}")
        };
        assert_eq!(masked, "${secret.a}:${secret.b}\n");
    }

    #[test]
    fn text_that_does_not_align_is_withheld() {
        let t = template(vec![text("a="), secret("s"), text(" > /etc/web.conf\n")]);
        for live in [
            "a=OLD > /etc/old.conf\n",
            "b=OLD > /etc/web.conf\n",
            "a=",
            "",
            "a= > /etc/web.conf\nextra",
        ] {
            assert_eq!(
                align(&t, &BTreeMap::new(), live),
                Aligned::Withheld,
                "{live:?}"
            );
        }
        // A template without a secret has nothing to align the difference to.
        let plain = template(vec![text("echo hi\n")]);
        assert_eq!(
            align(&plain, &BTreeMap::new(), "echo SECRET\n"),
            Aligned::Withheld
        );
    }

    #[test]
    fn a_gap_with_an_attribute_must_hold_its_value() {
        let target: Address = "key_pair.main".parse().expect("address");
        let live_key = LiveResource {
            address: target.clone(),
            id: "k".into(),
            attrs: BTreeMap::new(),
            outputs: [("name".to_string(), "key-1".to_string())].into(),
            applied: None,
            expires: None,
        };
        let known: Known<'_> = [(target.clone(), Some(&live_key))].into();
        let attr = Part::Attr {
            target: target.clone(),
            attr: "name".into(),
        };
        let t = template(vec![
            text("k="),
            attr.clone(),
            text(" t="),
            secret("s"),
            text("\n"),
        ]);
        assert_eq!(
            align(&t, &known, "k=key-1 t=OLD\n"),
            changed("k=key-1 t=${secret.s}\n", &["s"])
        );
        // The attribute changed as well: not only a secret, so withheld.
        assert_eq!(align(&t, &known, "k=key-0 t=OLD\n"), Aligned::Withheld);
        // A secret beside an attribute in one gap cannot be told apart from it.
        let t = template(vec![text("k="), attr, secret("s"), text("\n")]);
        assert_eq!(align(&t, &known, "k=key-1OLD\n"), Aligned::Withheld);
        // An attribute not known yet: nothing to compare it with.
        assert_eq!(
            align(&t, &BTreeMap::new(), "k=key-1OLD\n"),
            Aligned::Withheld
        );
    }

    #[test]
    fn alignment_is_linear_in_the_text() {
        // Many pieces and a long text whose pieces are found late: a quadratic search
        // (every piece searched from the start) takes seconds here.
        let mut parts = Vec::new();
        let mut live = String::new();
        for i in 0..20_000 {
            parts.push(text(&format!("line {i}: ")));
            parts.push(secret("s"));
            live.push_str(&format!("line {i}: "));
            live.push_str(&"x".repeat(50));
        }
        parts.push(text("\n"));
        live.push('\n');
        let t = template(parts);
        let started = std::time::Instant::now();
        let got = align(&t, &BTreeMap::new(), &live);
        assert!(matches!(got, Aligned::SecretsChanged { .. }));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}

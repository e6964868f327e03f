//! Interpolation: the `${…}` expressions inside strings and user-data templates.
//!
//! Parsing is purely syntactic and knows nothing of the stack: it splits a string into
//! literal text and expressions, with byte offsets so a later error can point at the `$`.
//! Resolving (is the var declared? does the resource have that attribute?) is the loader's
//! job, and the result is a [`Template`]: literal text, secrets and resource attributes,
//! with vars, `${stack.name}` and `${env}` already substituted.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::address::split_index;
use crate::address::{Address, Kind};

/// One `${…}` expression as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Var(String),
    Secret(String),
    StackName,
    Env,
    /// `${kind.name.attr}` or `${kind.name[i].attr}`.
    Attr {
        kind: Kind,
        name: String,
        index: Option<u32>,
        attr: String,
    },
}

/// A piece of a parsed string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// An expression; `offset..offset + len` covers `${…}` in the source string.
    Expr {
        expr: Expr,
        offset: usize,
        len: usize,
    },
}

/// Why a string could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub offset: usize,
    pub len: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl SyntaxError {
    fn new(offset: usize, len: usize, message: String) -> Self {
        SyntaxError {
            offset,
            len,
            message,
            hint: None,
        }
    }
}

/// Split `text` into literal pieces and `${…}` expressions. `$${` is a literal `${`.
pub fn parse(text: &str) -> Result<Vec<Piece>, SyntaxError> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(i) = rest.find('$') {
        let after = &rest[i..];
        if after.starts_with("$${") {
            literal.push_str(&rest[..i]);
            literal.push_str("${");
            offset += i + 3;
            rest = &rest[i + 3..];
        } else if after.starts_with("${") {
            literal.push_str(&rest[..i]);
            let start = offset + i;
            let Some(close) = after.find('}') else {
                let mut error = SyntaxError::new(start, 2, "unterminated `${`".into());
                error.hint =
                    Some("close the expression with `}`, or write `$${` for a literal `${`".into());
                return Err(error);
            };
            let inner = &after[2..close];
            if let Some(nested) = inner.find("${") {
                return Err(SyntaxError::new(
                    start + 2 + nested,
                    2,
                    "unterminated `${`".into(),
                ));
            }
            let expr = parse_expr(inner.trim()).map_err(|(message, hint)| SyntaxError {
                offset: start,
                len: close + 1,
                message,
                hint,
            })?;
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Expr {
                expr,
                offset: start,
                len: close + 1,
            });
            offset = start + close + 1;
            rest = &after[close + 1..];
        } else {
            literal.push_str(&rest[..=i]);
            offset += i + 1;
            rest = &rest[i + 1..];
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

fn parse_expr(inner: &str) -> Result<Expr, (String, Option<String>)> {
    let shown = format!("${{{inner}}}");
    if inner.is_empty() {
        return Err(("empty expression `${}`".into(), None));
    }
    let mut segments: Vec<&str> = inner.split('.').collect();
    let head = segments.remove(0);
    let ident = |s: &str| -> bool {
        !s.is_empty()
            && s.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    let bad = |what: &str| (format!("invalid expression `{shown}`: {what}"), None);
    match (head, segments.as_slice()) {
        ("var", [name]) if ident(name) => Ok(Expr::Var((*name).to_string())),
        ("secret", [name]) if ident(name) => Ok(Expr::Secret((*name).to_string())),
        ("stack", ["name"]) => Ok(Expr::StackName),
        ("env", []) => Ok(Expr::Env),
        ("var" | "secret", _) => Err(bad(&format!("expected `{head}.NAME`"))),
        ("stack", _) => Err(bad("the only stack attribute is `stack.name`")),
        (head, rest) => {
            let kind_name = head.split('[').next().unwrap_or(head);
            let Some(kind) = Kind::parse(head) else {
                let hint = super::diag::did_you_mean(kind_name, Kind::ALL.iter().map(|k| k.as_str()))
                    .or_else(|| {
                        Some("references are `var.X`, `secret.X`, `stack.name`, `env` or `KIND.NAME.ATTRIBUTE`".into())
                    });
                return Err((format!("unknown reference `{shown}`"), hint));
            };
            let [name, attr] = rest else {
                return Err(bad(&format!("expected `{}.NAME.ATTRIBUTE`", kind.as_str())));
            };
            let (name, index) = split_index(name).ok_or_else(|| bad("bad replica index"))?;
            if !ident(name) || !ident(attr) {
                return Err(bad(&format!("expected `{}.NAME.ATTRIBUTE`", kind.as_str())));
            }
            Ok(Expr::Attr {
                kind,
                name: name.to_string(),
                index,
                attr: (*attr).to_string(),
            })
        }
    }
}

/// A resolved string: literal text, secrets (resolved only when a command needs them) and
/// attributes of other resources (known once those exist).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Text(String),
    Secret(String),
    Attr { target: Address, attr: String },
}

impl Template {
    pub fn literal(text: impl Into<String>) -> Self {
        let text = text.into();
        if text.is_empty() {
            return Template::default();
        }
        Template {
            parts: vec![Part::Text(text)],
        }
    }

    /// The text, when it holds nothing that is unknown at plan time.
    pub fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                _ => return None,
            }
        }
        Some(out)
    }

    pub fn has_secrets(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Secret(_)))
    }

    /// Every resource attribute this template reads.
    pub fn attrs(&self) -> impl Iterator<Item = (&Address, &str)> {
        self.parts.iter().filter_map(|p| match p {
            Part::Attr { target, attr } => Some((target, attr.as_str())),
            _ => None,
        })
    }

    pub(crate) fn push_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(Part::Text(last)) = self.parts.last_mut() {
            last.push_str(text);
        } else {
            self.parts.push(Part::Text(text.to_string()));
        }
    }
}

/// Shows the template as written: secrets and attributes as `${…}`, never a secret's value.
impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Text(t) => f.write_str(&t.replace("${", "$${"))?,
                Part::Secret(name) => write!(f, "${{secret.{name}}}")?,
                Part::Attr { target, attr } => write!(f, "${{{target}.{attr}}}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exprs(text: &str) -> Vec<Expr> {
        parse(text)
            .unwrap()
            .into_iter()
            .filter_map(|p| match p {
                Piece::Expr { expr, .. } => Some(expr),
                Piece::Text(_) => None,
            })
            .collect()
    }

    #[test]
    fn parses_every_expression_form() {
        assert_eq!(
            exprs("${var.a}${secret.b}${stack.name}${env}${ instance.heart[2].private_ip }"),
            vec![
                Expr::Var("a".into()),
                Expr::Secret("b".into()),
                Expr::StackName,
                Expr::Env,
                Expr::Attr {
                    kind: Kind::Instance,
                    name: "heart".into(),
                    index: Some(2),
                    attr: "private_ip".into()
                },
            ]
        );
    }

    #[test]
    fn keeps_offsets_and_literals() {
        let pieces = parse("http://${instance.p.public_dns}:42500").unwrap();
        assert_eq!(pieces[0], Piece::Text("http://".into()));
        let Piece::Expr { offset, len, .. } = &pieces[1] else {
            panic!("expected expr")
        };
        assert_eq!((*offset, *len), (7, 24));
        assert_eq!(pieces[2], Piece::Text(":42500".into()));
    }

    #[test]
    fn dollar_dollar_brace_is_a_literal() {
        assert_eq!(
            parse("echo $${HOME} $PATH $").unwrap(),
            vec![Piece::Text("echo ${HOME} $PATH $".into())]
        );
    }

    #[test]
    fn reports_unterminated_and_unknown() {
        let e = parse("abc ${var.x").unwrap_err();
        assert_eq!((e.offset, e.message.as_str()), (4, "unterminated `${`"));
        let e = parse("${instances.web.id}").unwrap_err();
        assert_eq!(e.message, "unknown reference `${instances.web.id}`");
        assert_eq!(e.hint.as_deref(), Some("did you mean `instance`?"));
        assert!(parse("${var}").is_err());
        assert!(parse("${instance.web[x].id}").is_err());
        assert!(parse("${}").is_err());
    }

    #[test]
    fn display_escapes_and_hides_nothing_secret() {
        let t = Template {
            parts: vec![Part::Text("a${b ".into()), Part::Secret("pw".into())],
        };
        assert_eq!(t.to_string(), "a$${b ${secret.pw}");
    }
}

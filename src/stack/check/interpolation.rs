//! Interpolation: `${…}` in a field resolved into a [`Template`], and where each kind of
//! value may go.
//!
//! A field's [`Use`] says what it may hold: only what is known at plan time (vars,
//! `stack.name`, `env`), also other resources' attributes (fields shown in plans), or also
//! secrets (`master_password`, `user_data`: never printed or stored in the clear). Errors
//! point inside the string at the offending `${…}` when the token's text allows it. Text
//! read from a file of the stack directory (`file = …`, `template = …`) is resolved here too.

use crate::stack::diag::{Diagnostic, did_you_mean};
use crate::stack::load;
use crate::stack::raw::{SpannedStr, TextSource};
use crate::stack::source::{FileId, Span};
use crate::stack::template::{self, Expr, Part, Piece, Template};

use super::{Checker, Origin, Use};

impl Checker<'_> {
    /// A string that must be known at plan time.
    pub(super) fn known(&mut self, s: &SpannedStr, file: FileId, field: &str) -> Option<String> {
        self.template(
            Origin::Token(Span::new(file, s.span())),
            s.get_ref(),
            field,
            Use::Known,
        )?
        .as_literal()
    }

    pub(super) fn known_here(&mut self, s: &SpannedStr, field: &str) -> Option<String> {
        self.known(s, self.raw.stack_file, field)
    }

    pub(super) fn printed(&mut self, s: &SpannedStr, field: &str) -> Option<Template> {
        self.template(
            Origin::Token(self.span(s.span())),
            s.get_ref(),
            field,
            Use::Printed,
        )
    }

    /// The span of bytes `offset..offset + len` of a string's text, in its file. For a token
    /// whose source differs from its value (escapes, a substituted var), the whole token.
    /// Constant time: [`template`](Self::template) locates the text once, not per `${…}`.
    fn inner(&self, origin: &Origin, _text: &str, offset: usize, len: usize) -> Span {
        match origin {
            Origin::File(file) => Span::new(*file, offset..offset + len),
            Origin::At(file, start) => Span::new(*file, start + offset..start + offset + len),
            Origin::Token(span) => span.clone(),
        }
    }

    /// Resolve the `${…}` in `text`. `None` after reporting any error.
    pub(super) fn template(
        &mut self,
        origin: Origin,
        text: &str,
        field: &str,
        use_: Use,
    ) -> Option<Template> {
        let origin = match origin {
            Origin::Token(span) => match self.sources.verbatim_start(&span, text) {
                Some(start) => Origin::At(span.file, start),
                None => Origin::Token(span),
            },
            other => other,
        };
        let pieces = match template::parse(text) {
            Ok(p) => p,
            Err(e) => {
                let span = self.inner(&origin, text, e.offset, e.len);
                self.push(Diagnostic::error(e.message).at(span).maybe_hint(e.hint));
                return None;
            }
        };
        let mut out = Template::default();
        let mut ok = true;
        for piece in pieces {
            let (expr, offset, len) = match piece {
                Piece::Text(t) => {
                    out.push_text(&t);
                    continue;
                }
                Piece::Expr { expr, offset, len } => (expr, offset, len),
            };
            let span = self.inner(&origin, text, offset, len);
            let shown = &text[offset..offset + len];
            match self.expr(expr, &span, shown, field, use_) {
                Some(Resolved::Text(t)) => out.push_text(&t),
                Some(Resolved::Part(p)) => out.parts.push(p),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn expr(
        &mut self,
        expr: Expr,
        span: &Span,
        shown: &str,
        field: &str,
        use_: Use,
    ) -> Option<Resolved> {
        match expr {
            Expr::StackName => Some(Resolved::Text(self.stack_name.clone())),
            Expr::Env => Some(Resolved::Text(self.raw.env.clone())),
            Expr::Var(name) => {
                let Some(var) = self.raw.vars.get(&name) else {
                    self.push(load::unknown_var(&name, &self.raw.vars).at(span.clone()));
                    return None;
                };
                self.used_vars.insert(name.clone());
                match var.value.as_ref()? {
                    toml::Value::String(s) => Some(Resolved::Text(s.clone())),
                    toml::Value::Integer(i) => Some(Resolved::Text(i.to_string())),
                    toml::Value::Float(f) => Some(Resolved::Text(f.to_string())),
                    toml::Value::Boolean(b) => Some(Resolved::Text(b.to_string())),
                    _ => {
                        self.push(
                            Diagnostic::error(format!(
                                "var `{name}` is an array and cannot be part of a string"
                            ))
                            .at(span.clone())
                            .hint(format!("use it as the whole value: `\"${{var.{name}}}\"`")),
                        );
                        None
                    }
                }
            }
            Expr::Secret(name) => {
                if !self.raw.secrets.contains_key(&name) {
                    self.push(
                        Diagnostic::error(format!("unknown secret `{name}`")).at(span.clone()).maybe_hint(
                            did_you_mean(&name, self.raw.secrets.keys().map(String::as_str))
                                .or_else(|| Some(format!("declare it in `[secrets]`: `{name} = {{ env = \"…\" }}`"))),
                        ),
                    );
                    return None;
                }
                self.used_secrets.insert(name.clone());
                if use_ != Use::Sensitive {
                    self.push(
                        Diagnostic::error(format!(
                            "secret `{name}` cannot be used in {}: it would be printed or stored in the clear",
                            quoted_field(field)
                        ))
                        .at(span.clone())
                        .hint("secrets may be used only in `master_password` and `user_data`"),
                    );
                    return None;
                }
                Some(Resolved::Part(Part::Secret(name)))
            }
            Expr::Attr {
                kind,
                name,
                index,
                attr,
            } => {
                let target = self.resolve_address(kind, &name, index, span, Some(&attr))?;
                if !kind.attributes().contains(&attr.as_str()) {
                    let list = kind
                        .attributes()
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.push(
                        Diagnostic::error(format!("unknown attribute `{attr}` of `{kind}`"))
                            .at(span.clone())
                            .hint(
                                match did_you_mean(&attr, kind.attributes().iter().copied()) {
                                    Some(h) => h,
                                    None => format!("the attributes of {kind} are {list}"),
                                },
                            ),
                    );
                    return None;
                }
                if use_ == Use::Known {
                    self.push(
                        Diagnostic::error(format!(
                            "{} must be known at plan time, but `{shown}` is known only after `{target}` is created",
                            quoted_field(field)
                        ))
                        .at(span.clone())
                        .hint("use a literal or a var here"),
                    );
                    return None;
                }
                self.note_reference(&target, span);
                Some(Resolved::Part(Part::Attr { target, attr }))
            }
        }
    }

    /// Text given inline or read from a file of the stack directory (`key = "path"`).
    pub(super) fn text_source(
        &mut self,
        source: &toml::Spanned<TextSource>,
        key: &str,
        field: &str,
        use_: Use,
    ) -> Option<Template> {
        match source.get_ref() {
            TextSource::Inline(text) => {
                self.template(Origin::Token(self.span(source.span())), text, field, use_)
            }
            TextSource::File { key: given, .. } if given != key => {
                self.push(self.error(
                    source.span(),
                    format!("`{field}` reads a file with `{key} = \"…\"`, not `{given}`"),
                ));
                None
            }
            TextSource::File { path, .. } => {
                let (dir, at) = (&self.raw.dir, self.span(path.span()));
                let id = crate::stack::files::read_named_file(
                    self.sources,
                    self.diags,
                    dir,
                    path.get_ref(),
                    at,
                    field,
                    key,
                )?;
                let text = self.sources.text(id).to_string();
                if key == "file" {
                    return Some(Template::literal(text));
                }
                self.template(Origin::File(id), &text, field, use_)
            }
        }
    }
}

enum Resolved {
    Text(String),
    Part(Part),
}
fn quoted_field(field: &str) -> String {
    if field.starts_with("output ") {
        field.to_string()
    } else {
        format!("`{field}`")
    }
}

//! Reading a stack directory: files, TOML, vars, and the raw per-resource tables.
//!
//! 1. Find `stack.toml` and the env file `env/<env>.toml` (an env is required when the
//!    stack has env files; none means the env `default`).
//! 2. Parse both into spanned TOML tables; a syntax error stops here.
//! 3. Settle the vars: defaults from `[vars]`, overridden by the env file's `[vars]`.
//! 4. In every resource table, replace each string that is exactly `${var.X}` with the var's
//!    value, type and all (`count = "${var.heart_count}"` becomes an integer).
//! 5. Deserialize each resource table on its own into the [`raw`](super::raw) types. Serde
//!    stops at the first error in a table, so after each error the offending key is taken
//!    out and the table tried again: one run reports every mistake.
//!
//! `check.rs` then turns the raw tables into the model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::address::Kind;

use super::diag::{Diagnostic, Diagnostics, did_you_mean};
use super::files;
use super::raw;
use super::source::{FileId, SourceMap, Span};
use super::template::{self, Expr, Piece};

/// The env used by a stack that has no env files.
pub const DEFAULT_ENV: &str = "default";

/// A stack's files, parsed but not yet checked.
#[derive(Debug)]
pub(crate) struct RawStack {
    pub dir: PathBuf,
    pub stack_file: FileId,
    pub env: String,
    pub section: Option<raw::StackSection>,
    pub env_region: Option<raw::SpannedStr>,
    pub endpoint_url: Option<raw::SpannedStr>,
    pub expires: Option<raw::SpannedStr>,
    pub vpc: Option<raw::SpannedStr>,
    pub vars: BTreeMap<String, Var>,
    /// Vars used as a whole value (`"${var.X}"`), substituted here.
    pub used_vars: std::collections::BTreeSet<String>,
    pub secrets: BTreeMap<String, (Span, raw::Secret)>,
    pub resources: Vec<RawResource>,
    pub outputs: Vec<(raw::SpannedStr, raw::SpannedStr)>,
    /// `[import]` of the env file: (address as written, physical id), spans in the env file.
    pub imports: Vec<(raw::SpannedStr, raw::SpannedStr)>,
    /// `[moved]` of `stack.toml`: (old address, new address) as written.
    pub moved: Vec<(raw::SpannedStr, raw::SpannedStr)>,
}

/// A declared var and the value it has in this env.
#[derive(Debug)]
pub(crate) struct Var {
    pub span: Span,
    pub value: Option<toml::Value>,
}

#[derive(Debug)]
pub(crate) struct RawResource {
    pub kind: Kind,
    pub name: String,
    /// The whole table: where "missing key" errors point.
    pub table_span: Span,
    /// Where each key of the table is written: where lint findings about a key point.
    pub keys: BTreeMap<String, Span>,
    /// `None` when the table did not deserialize; its errors are already reported.
    pub body: Option<RawBody>,
}

#[derive(Debug)]
pub(crate) enum RawBody {
    SecurityGroup(raw::SecurityGroup),
    KeyPair(raw::KeyPair),
    LoadBalancer(raw::LoadBalancer),
    Database(raw::Database),
    Instance(raw::Instance),
    DnsRecord(raw::DnsRecord),
}

/// The env files of a stack directory, sorted by name.
pub fn env_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("env"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            (path.extension()? == "toml").then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    names
}

/// Steps 1 and 2: the files, read and parsed. `None` when reading or parsing failed.
pub(crate) fn read_stack(
    dir: &Path,
    env: Option<&str>,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Option<(FileId, Option<FileId>, String)> {
    let stack_path = dir.join("stack.toml");
    // Anything there, a link or a FIFO included, is for `files` to judge.
    if std::fs::symlink_metadata(&stack_path).is_err() {
        let what = if dir.is_dir() {
            "has no `stack.toml`"
        } else {
            "is not a directory"
        };
        diags.push(
            Diagnostic::error(format!("`{}` {what}", dir.display()))
                .hint("a stack is a directory holding `stack.toml` and `env/<env>.toml`"),
        );
        return None;
    }
    let envs = env_names(dir);
    let (env, env_path) = match env {
        Some(env) => {
            if let Err(why) = super::names::check_stack_name(env) {
                diags.push(Diagnostic::error(format!("invalid env name `{env}`")).hint(why));
                return None;
            }
            let path = dir.join("env").join(format!("{env}.toml"));
            if !envs.iter().any(|e| e == env) {
                let listed = envs
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let hint = if envs.is_empty() {
                    format!("this stack has no env files; create `{}`", path.display())
                } else {
                    format!("the envs of this stack are {listed}")
                };
                diags.push(
                    Diagnostic::error(format!("no env file `{}`", path.display())).hint(hint),
                );
                return None;
            }
            (env.to_string(), Some(path))
        }
        None if envs.is_empty() => (DEFAULT_ENV.to_string(), None),
        None => {
            let listed = envs
                .iter()
                .map(|e| format!("--env {e}"))
                .collect::<Vec<_>>()
                .join(", ");
            diags.push(
                Diagnostic::error(format!(
                    "stack `{}` has env files; choose one with `--env`",
                    dir.display()
                ))
                .hint(format!("one of: {listed}")),
            );
            return None;
        }
    };
    let stack_file = files::read_stack_file(sources, diags, dir, Path::new("stack.toml"))?;
    let env_file = match env_path {
        Some(path) => {
            let rel = path.strip_prefix(dir).unwrap_or(&path);
            Some(files::read_stack_file(sources, diags, dir, rel)?)
        }
        None => None,
    };
    Some((stack_file, env_file, env))
}

fn parse<'a>(
    sources: &'a SourceMap,
    file: FileId,
    diags: &mut Diagnostics,
) -> Option<Spanned<DeTable<'a>>> {
    let (table, errors) = DeTable::parse_recoverable(sources.text(file));
    // Only the first: after one syntax error the parser's recovery mostly finds echoes of it.
    if let Some(error) = errors.first() {
        let span = error.span().unwrap_or(0..0);
        diags.push(
            Diagnostic::error(format!("invalid TOML: {}", error.message().trim_end()))
                .at(Span::new(file, span)),
        );
        return None;
    }
    Some(table)
}

/// Steps 1 to 5.
pub(crate) fn load_raw(
    dir: &Path,
    env: Option<&str>,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Option<RawStack> {
    let (stack_file, env_file, env) = read_stack(dir, env, sources, diags)?;
    let sources: &SourceMap = sources;
    let stack_table = parse(sources, stack_file, diags);
    let env_table = env_file.and_then(|f| parse(sources, f, diags).map(|t| (f, t)));
    let stack_table = stack_table?;
    if env_file.is_some() && env_table.is_none() {
        return None;
    }

    let mut loader = Loader {
        sources,
        diags,
        file: stack_file,
    };
    let mut out = RawStack {
        dir: dir.to_path_buf(),
        stack_file,
        env,
        section: None,
        env_region: None,
        endpoint_url: None,
        expires: None,
        vpc: None,
        vars: BTreeMap::new(),
        used_vars: Default::default(),
        secrets: BTreeMap::new(),
        resources: Vec::new(),
        outputs: Vec::new(),
        imports: Vec::new(),
        moved: Vec::new(),
    };

    let stack_span = stack_table.span();
    let mut top = stack_table.into_inner();
    let var_decls = take(&mut top, "vars");
    let mut env_vars = None;
    if let Some((env_file, env_table)) = env_table {
        let span = env_table.span();
        let mut env_top = env_table.into_inner();
        env_vars = take(&mut env_top, "vars").map(|v| (env_file, v));
        let imports = take(&mut env_top, "import");
        let mut env_loader = Loader {
            sources,
            diags: loader.diags,
            file: env_file,
        };
        if let Some(imports) = imports {
            for (k, v) in env_loader.table_entries(imports, "import") {
                let what = format!("the id imported as `{}`", k.get_ref());
                if let Some(id) = env_loader.deserialize::<String>(v.clone(), &what) {
                    out.imports.push((
                        Spanned::new(k.span(), k.get_ref().to_string()),
                        Spanned::new(v.span(), id),
                    ));
                }
            }
        }
        if let Some(env) = env_loader.deserialize::<raw::EnvFile>(
            Spanned::new(span, DeValue::Table(env_top)),
            "the env file",
        ) {
            out.env_region = env.region;
            out.endpoint_url = env.endpoint_url;
            out.expires = env.expires;
            out.vpc = env.vpc;
        }
    }
    let vars = loader.vars(var_decls, env_vars, &out.env);

    let mut stack_section = None;
    for (key, value) in top {
        let name = key.get_ref().as_ref();
        let key_span = Span::new(stack_file, key.span());
        match name {
            "stack" => stack_section = Some(value),
            "secrets" => {
                for (k, v) in loader.table_entries(value, "secrets") {
                    let span = Span::new(stack_file, k.span());
                    if let Some(secret) =
                        loader.deserialize::<raw::Secret>(v, &format!("secret `{}`", k.get_ref()))
                    {
                        out.secrets.insert(k.get_ref().to_string(), (span, secret));
                    }
                }
            }
            "moved" => {
                for (k, v) in loader.table_entries(value, "moved") {
                    let what = format!("the new address of `{}`", k.get_ref());
                    if let Some(to) = loader.deserialize::<String>(v.clone(), &what) {
                        out.moved.push((
                            Spanned::new(k.span(), k.get_ref().to_string()),
                            Spanned::new(v.span(), to),
                        ));
                    }
                }
            }
            "outputs" => {
                for (k, mut v) in loader.table_entries(value, "outputs") {
                    loader.substitute(&mut v, &vars);
                    let what = format!("output `{}`", k.get_ref());
                    if let Some(text) = loader.deserialize::<String>(v.clone(), &what) {
                        out.outputs.push((
                            Spanned::new(k.span(), k.get_ref().to_string()),
                            Spanned::new(v.span(), text),
                        ));
                    }
                }
            }
            other => match Kind::parse(other) {
                Some(kind) => {
                    for (k, v) in loader.table_entries(value, other) {
                        out.resources.push(loader.resource(kind, k, v, &vars));
                    }
                }
                None => {
                    let known = ["stack", "vars", "secrets", "outputs", "moved"]
                        .into_iter()
                        .chain(Kind::ALL.iter().map(|k| k.as_str()));
                    loader.diags.push(
                        Diagnostic::error(format!("unknown table `{other}`"))
                            .at(key_span)
                            .maybe_hint(did_you_mean(other, known).or_else(|| {
                                Some(format!(
                                    "the kinds are {}",
                                    Kind::ALL
                                        .iter()
                                        .map(|k| format!("`{k}`"))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ))
                            })),
                    );
                }
            },
        }
    }
    match stack_section {
        Some(v) => out.section = loader.deserialize::<raw::StackSection>(v, "`[stack]`"),
        None => loader.diags.push(
            Diagnostic::error("missing `[stack]` table")
                .at(Span::new(stack_file, stack_span.start..stack_span.start))
                .hint("start the file with `[stack]` and `name = \"…\"`"),
        ),
    }
    out.used_vars = vars.used.into_inner();
    out.vars = vars.vars;
    Some(out)
}

fn take<'a>(table: &mut DeTable<'a>, key: &str) -> Option<Spanned<DeValue<'a>>> {
    let found = table.keys().find(|k| k.get_ref() == key).cloned()?;
    table.remove(&found)
}

/// Every var's value: as plain TOML for the checker, and as parsed for substitution.
struct VarValues<'a> {
    vars: BTreeMap<String, Var>,
    values: BTreeMap<String, DeValue<'a>>,
    /// The file each value was written in (`stack.toml` or the env file).
    written_in: BTreeMap<String, FileId>,
    used: std::cell::RefCell<std::collections::BTreeSet<String>>,
    /// Where the next substituted value from the env file is placed past the end of
    /// `stack.toml` (see [`Diagnostics::alias`]).
    next_base: std::cell::Cell<usize>,
}

struct Loader<'s, 'd> {
    sources: &'s SourceMap,
    diags: &'d mut Diagnostics,
    file: FileId,
}

type Entry<'a> = (Spanned<std::borrow::Cow<'a, str>>, Spanned<DeValue<'a>>);

impl Loader<'_, '_> {
    fn span(&self, range: std::ops::Range<usize>) -> Span {
        Span::new(self.file, range)
    }

    /// The entries of a table that must be a table (`[vars]`, `[instance]`…).
    fn table_entries<'a>(&mut self, value: Spanned<DeValue<'a>>, what: &str) -> Vec<Entry<'a>> {
        let span = self.span(value.span());
        match value.into_inner() {
            DeValue::Table(t) => t.into_iter().collect(),
            other => {
                self.diags.push(
                    Diagnostic::error(format!(
                        "`{what}` must be a table, not {}",
                        type_name(&other)
                    ))
                    .at(span),
                );
                Vec::new()
            }
        }
    }

    /// Step 3: the value of every var in this env.
    fn vars<'a>(
        &mut self,
        decls: Option<Spanned<DeValue<'a>>>,
        env_vars: Option<(FileId, Spanned<DeValue<'a>>)>,
        env: &str,
    ) -> VarValues<'a> {
        let mut vars = BTreeMap::new();
        let mut values: BTreeMap<String, DeValue<'a>> = BTreeMap::new();
        let mut descriptions = BTreeMap::new();
        // Vars whose value was refused: already reported where the value is written.
        let mut invalid = std::collections::BTreeSet::new();
        let mut written_in = BTreeMap::new();
        for (key, value) in decls
            .map(|d| self.table_entries(d, "vars"))
            .unwrap_or_default()
        {
            let name = key.get_ref().to_string();
            let span = self.span(key.span());
            let value_span = self.span(value.span());
            let default = match value.into_inner() {
                DeValue::Table(decl) => {
                    let mut default = None;
                    for (k, v) in decl {
                        match k.get_ref().as_ref() {
                            "default" => default = Some(v),
                            "description" => {
                                descriptions.insert(name.clone(), v.get_ref().as_str().unwrap_or("").to_string());
                            }
                            other => self.diags.push(
                                Diagnostic::error(format!("unknown key `{other}` in var `{name}`"))
                                    .at(self.span(k.span()))
                                    .hint("a var is a plain value, or `{ default = …, description = \"…\" }`"),
                            ),
                        }
                    }
                    default
                }
                other => Some(Spanned::new(value_span.range.clone(), other)),
            };
            let value = default.and_then(|d| {
                let de = d.get_ref().clone();
                let Some(v) = self.var_value(self.file, &name, d) else {
                    invalid.insert(name.clone());
                    return None;
                };
                values.insert(name.clone(), de);
                written_in.insert(name.clone(), self.file);
                Some(v)
            });
            vars.insert(name, Var { span, value });
        }
        if let Some((env_file, table)) = env_vars {
            let mut env_loader = Loader {
                sources: self.sources,
                diags: self.diags,
                file: env_file,
            };
            for (key, value) in env_loader.table_entries(table, "vars") {
                let name = key.get_ref().to_string();
                match vars.get_mut(&name) {
                    Some(var) => {
                        let de = value.get_ref().clone();
                        var.value = env_loader.var_value(env_file, &name, value);
                        match var.value {
                            Some(_) => {
                                written_in.insert(name.clone(), env_file);
                                values.insert(name, de)
                            }
                            None => {
                                invalid.insert(name.clone());
                                values.remove(&name)
                            }
                        };
                    }
                    None => env_loader.diags.push(
                        Diagnostic::error(format!("unknown var `{name}`"))
                            .at(Span::new(env_file, key.span()))
                            .maybe_hint(
                                did_you_mean(&name, vars.keys().map(String::as_str)).or_else(
                                    || Some("declare it in the `[vars]` of `stack.toml`".into()),
                                ),
                            ),
                    ),
                }
            }
        }
        for (name, var) in &vars {
            if var.value.is_none() && !invalid.contains(name) {
                let about = descriptions
                    .get(name)
                    .filter(|d| !d.is_empty())
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                self.diags.push(
                    Diagnostic::error(format!("var `{name}` is not set for env `{env}`"))
                        .at(var.span.clone())
                        .hint(format!(
                            "it has no default{about}: set it in `env/{env}.toml` under `[vars]`"
                        )),
                );
            }
        }
        VarValues {
            vars,
            values,
            written_in,
            used: Default::default(),
            next_base: std::cell::Cell::new(self.sources.text(self.file).len() + 1),
        }
    }

    /// A var's value as plain TOML: strings, numbers, booleans and arrays of them.
    fn var_value(
        &mut self,
        file: FileId,
        name: &str,
        value: Spanned<DeValue<'_>>,
    ) -> Option<toml::Value> {
        let span = Span::new(file, value.span());
        let ok = match value.get_ref() {
            DeValue::Table(_) | DeValue::Datetime(_) => false,
            DeValue::Array(items) => items.iter().all(|i| {
                !matches!(
                    i.get_ref(),
                    DeValue::Table(_) | DeValue::Array(_) | DeValue::Datetime(_)
                )
            }),
            _ => true,
        };
        if !ok {
            self.diags.push(
                Diagnostic::error(format!(
                    "var `{name}` must be a string, number, boolean or an array of those"
                ))
                .at(span),
            );
            return None;
        }
        // An integer TOML can write but not hold (past 64 bits) is the one value that parses
        // and still fails to deserialize: say so where it is written.
        let out_of_range = |v: &Spanned<DeValue<'_>>| {
            matches!(v.get_ref(), DeValue::Integer(i)
                if i64::from_str_radix(i.as_str(), i.radix()).is_err())
        };
        let too_big = match value.get_ref() {
            DeValue::Array(items) => items.iter().find(|i| out_of_range(i)),
            _ => Some(&value).filter(|v| out_of_range(v)),
        };
        if let Some(item) = too_big {
            let at = Span::new(file, item.span());
            let written = self.sources.text(file).get(item.span()).unwrap_or("");
            self.diags.push(
                Diagnostic::error(format!(
                    "the value of var `{name}` is out of range: `{written}` does not fit in 64 bits"
                ))
                .at(at)
                .hint(format!(
                    "integers are between {} and {}",
                    i64::MIN,
                    i64::MAX
                )),
            );
            return None;
        }
        use serde::Deserialize;
        match toml::Value::deserialize(ValueDeserializer::from(value)) {
            Ok(v) => Some(v),
            Err(e) => {
                self.diags.push(
                    Diagnostic::error(format!(
                        "invalid value of var `{name}`: {}",
                        e.message().trim_end()
                    ))
                    .at(e.span().map_or(span.clone(), |r| Span::new(file, r))),
                );
                None
            }
        }
    }

    /// Step 4: strings that are exactly `${var.X}` take the var's value and type.
    fn substitute<'a>(&mut self, value: &mut Spanned<DeValue<'a>>, vars: &VarValues<'a>) {
        let range = value.span();
        match value.get_mut() {
            DeValue::String(s) => {
                let Ok(pieces) = template::parse(s) else {
                    return;
                };
                let [
                    Piece::Expr {
                        expr: Expr::Var(name),
                        offset: 0,
                        len,
                    },
                ] = pieces.as_slice()
                else {
                    return;
                };
                if *len != s.len() {
                    return;
                }
                match (vars.vars.get(name), vars.values.get(name)) {
                    (Some(_), Some(v)) => {
                        vars.used.borrow_mut().insert(name.clone());
                        let mut v = escaped(v.clone());
                        let written_in = vars.written_in.get(name).copied();
                        if let (DeValue::Array(items), Some(file)) = (&mut v, written_in)
                            && file != self.file
                        {
                            // The items keep the spans of the file they were written in,
                            // told apart from this file's by a range of their own.
                            let base = vars.next_base.get();
                            let len = self.sources.text(file).len();
                            vars.next_base.set(base + len + 1);
                            self.diags.alias(
                                Span::new(self.file, base..base + len + 1),
                                file,
                                Span::new(self.file, range.clone()),
                                format!("`var.{name}` is used here"),
                            );
                            for item in items.iter_mut() {
                                let r = item.span();
                                *item = Spanned::new(
                                    base + r.start..base + r.end,
                                    std::mem::replace(item.get_mut(), DeValue::Boolean(false)),
                                );
                            }
                        }
                        *value = Spanned::new(range, v);
                    }
                    (Some(_), None) => {
                        // Already reported where the var is declared.
                        self.diags.poison(self.span(range.clone()));
                    }
                    (None, _) => {
                        let span = self.span(range.clone());
                        let start = string_start(self.sources.text(self.file), &range);
                        self.diags.push_poisoning(
                            unknown_var(name, &vars.vars)
                                .at(Span::new(self.file, start..start + len)),
                            span,
                        );
                    }
                }
            }
            DeValue::Array(items) => {
                for item in items.iter_mut() {
                    self.substitute(item, vars);
                }
            }
            DeValue::Table(table) => {
                for (_, item) in table.iter_mut() {
                    self.substitute(item, vars);
                }
            }
            _ => {}
        }
    }

    fn resource<'a>(
        &mut self,
        kind: Kind,
        key: Spanned<std::borrow::Cow<'a, str>>,
        mut value: Spanned<DeValue<'a>>,
        vars: &VarValues<'a>,
    ) -> RawResource {
        let name = key.get_ref().to_string();
        let key_span = self.span(key.span());
        let table_span = self.span(value.span());
        if let Err(why) = super::names::check_resource_name(&name) {
            self.diags.push(
                Diagnostic::error(format!("invalid resource name `{name}`"))
                    .at(key_span.clone())
                    .hint(why),
            );
        }
        let keys = match value.get_ref() {
            DeValue::Table(t) => t
                .keys()
                .map(|k| (k.get_ref().to_string(), self.span(k.span())))
                .collect(),
            _ => BTreeMap::new(),
        };
        self.substitute(&mut value, vars);
        let what = format!("`{kind}.{name}`");
        let body = match kind {
            Kind::SecurityGroup => self.deserialize(value, &what).map(RawBody::SecurityGroup),
            Kind::KeyPair => self.deserialize(value, &what).map(RawBody::KeyPair),
            Kind::LoadBalancer => self.deserialize(value, &what).map(RawBody::LoadBalancer),
            Kind::Database => self.deserialize(value, &what).map(RawBody::Database),
            Kind::Instance => self.deserialize(value, &what).map(RawBody::Instance),
            Kind::DnsRecord => self.deserialize(value, &what).map(RawBody::DnsRecord),
        };
        RawResource {
            kind,
            name,
            table_span,
            keys,
            body,
        }
    }
}

mod errors;

pub(crate) use errors::unknown_var;
use errors::{escaped, string_start, type_name};

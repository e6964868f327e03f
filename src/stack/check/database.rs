//! Databases (RDS): engine, class, storage, the master user and password (a secret, or a
//! warning when written in the clear), zone or Multi-AZ, backups and groups, and the env
//! whose snapshot a new database starts from (`restore_from_env`).

use crate::stack::diag::{Diagnostic, did_you_mean};
use crate::stack::model::Database;
use crate::stack::raw;

use super::{Checker, Origin, Use};

impl Checker<'_> {
    pub(super) fn database(&mut self, db: &raw::Database) -> Option<Database> {
        const ENGINES: [&str; 10] = [
            "mysql",
            "mariadb",
            "postgres",
            "oracle-ee",
            "oracle-se2",
            "oracle-ee-cdb",
            "sqlserver-ee",
            "sqlserver-se",
            "sqlserver-ex",
            "sqlserver-web",
        ];
        let mut ok = true;
        let engine = self
            .known_here(&db.engine, "engine")
            .map(|e| e.to_ascii_lowercase());
        if let Some(e) = &engine
            && !ENGINES.contains(&e.as_str())
        {
            let hint = did_you_mean(e, ENGINES)
                .unwrap_or_else(|| format!("engines: {}", ENGINES.join(", ")));
            self.push(
                self.error(db.engine.span(), format!("unknown database engine `{e}`"))
                    .hint(hint),
            );
            ok = false;
        }
        let instance_class = self.known_here(&db.instance_class, "instance_class");
        if let Some(c) = &instance_class
            && (!c.starts_with("db.") || c.len() < 5)
        {
            self.push(
                self.error(
                    db.instance_class.span(),
                    format!("invalid instance class `{c}`"),
                )
                .hint("RDS classes look like `db.t3.micro`"),
            );
            ok = false;
        }
        let storage_gb = self.int(&db.storage_gb, "storage_gb", 1..=65536);
        let storage_type = match &db.storage_type {
            Some(t) => {
                let value = self.known_here(t, "storage_type");
                if let Some(v) = &value
                    && !["standard", "gp2", "gp3", "io1", "io2"].contains(&v.as_str())
                {
                    self.push(
                        self.error(t.span(), format!("unknown storage type `{v}`"))
                            .hint("use `standard`, `gp2`, `gp3`, `io1` or `io2`"),
                    );
                    ok = false;
                }
                value
            }
            None => None,
        };
        let master_username = self.known_here(&db.master_username, "master_username");
        if let Some(u) = &master_username {
            let limit = if engine.as_deref() == Some("mysql") {
                16
            } else {
                63
            };
            let valid = u.starts_with(|c: char| c.is_ascii_alphabetic())
                && u.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && u.len() <= limit;
            if !valid {
                self.push(
                    self.error(
                        db.master_username.span(),
                        format!("invalid master user name `{u}`"),
                    )
                    .hint(format!(
                        "a letter, then letters, digits or `_`, at most {limit} characters"
                    )),
                );
                ok = false;
            }
        }
        let password_origin = Origin::Token(self.span(db.master_password.span()));
        let master_password = self.template(
            password_origin,
            db.master_password.get_ref(),
            "master_password",
            Use::Sensitive,
        );
        if let Some(p) = &master_password
            && let Some(literal) = p.as_literal()
        {
            self.push(
                Diagnostic::warning("`master_password` is written in the stack file in the clear")
                    .at(self.span(db.master_password.span()))
                    .hint("use `${secret.NAME}` and declare the secret under `[secrets]`"),
            );
            if !(8..=128).contains(&literal.len()) {
                self.push(self.error(
                    db.master_password.span(),
                    "a master password is 8 to 128 characters",
                ));
                ok = false;
            }
        }
        let db_name = match &db.db_name {
            Some(n) => {
                let value = self.known_here(n, "db_name");
                if let Some(v) = &value
                    && (!v.starts_with(|c: char| c.is_ascii_alphabetic())
                        || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        || v.len() > 64)
                {
                    self.push(
                        self.error(n.span(), format!("invalid database name `{v}`"))
                            .hint("a letter, then letters, digits or `_`"),
                    );
                    ok = false;
                }
                value
            }
            None => None,
        };
        let port = match &db.port {
            Some(p) => Some(self.port(p, "port")?),
            None => None,
        };
        let engine_version = match &db.engine_version {
            Some(v) => Some(self.known_here(v, "engine_version")?),
            None => None,
        };
        let availability_zone = match &db.availability_zone {
            Some(z) => Some(self.zone(z, "availability_zone")?),
            None => None,
        };
        if db.multi_az == Some(true) && availability_zone.is_some() {
            self.push(
                Diagnostic::error(
                    "a Multi-AZ database cannot be pinned to one `availability_zone`",
                )
                .at(self.current_span()),
            );
            ok = false;
        }
        let subnets = match &db.subnets {
            Some(list) => {
                let zones_key = db
                    .availability_zone
                    .as_ref()
                    .map(|z| ("availability_zone", z.span()));
                self.subnets(list, zones_key).unwrap_or_else(|| {
                    ok = false;
                    Vec::new()
                })
            }
            None => Vec::new(),
        };
        let backup_retention_days = match &db.backup_retention_days {
            Some(d) => self.int(d, "backup_retention_days", 0..=35),
            None => Some(1),
        };
        let security_groups = self.group_refs(&db.security_groups, "security_groups");
        // Interpolation allowed (`${var.source_env}`); an empty string means none.
        let restore_from_env = match &db.restore_from_env {
            Some(e) => match self.known_here(e, "restore_from_env") {
                Some(env) if env.is_empty() => None,
                Some(env) => {
                    if let Err(why) = crate::stack::names::check_stack_name(&env) {
                        self.push(
                            self.error(e.span(), format!("invalid env name `{env}`"))
                                .hint(why),
                        );
                        ok = false;
                    }
                    Some(env)
                }
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        if !ok {
            return None;
        }
        Some(Database {
            engine: engine?,
            engine_version,
            instance_class: instance_class?,
            storage_gb: storage_gb?,
            storage_type,
            master_username: master_username?,
            master_password: master_password?,
            db_name,
            port,
            security_groups,
            availability_zone,
            subnets,
            multi_az: db.multi_az.unwrap_or(false),
            backup_retention_days: backup_retention_days?,
            publicly_accessible: db.publicly_accessible.unwrap_or(false),
            deletion_protection: db.deletion_protection.unwrap_or(false),
            final_snapshot: db.final_snapshot.unwrap_or(true),
            restore_from_env,
            storage_encrypted: db.storage_encrypted.unwrap_or(true),
        })
    }
}

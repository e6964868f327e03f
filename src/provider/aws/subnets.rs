//! Placement in a VPC (issue 16): the subnets a stack names are checked against the env's
//! VPC before anything is sent, and a database in subnets gets a DB subnet group that
//! stackwright makes (named as the database, tagged, described as ours) and deletes
//! once the database is gone.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_rds::types::Tag;

use super::{Aws, code};
use crate::provider::{ProviderError, Scope};
use crate::stack::Stack;
use crate::stack::model::Spec;

/// The description of a DB subnet group stackwright made for `identifier`'s database.
fn description(scope: &Scope, identifier: &str) -> String {
    format!(
        "stackwright: subnets of database `{identifier}` (stack `{}` env `{}`)",
        scope.stack, scope.env
    )
}

impl Aws {
    /// The region's default VPC, if it has one (`generate` places only what is elsewhere).
    /// One DescribeVpcs call.
    pub async fn default_vpc(&self, scope: &Scope) -> Result<Option<String>, ProviderError> {
        let out = self
            .ec2
            .describe_vpcs()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("is-default")
                    .values("true")
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.error(scope, "describe the default VPC", e))?;
        Ok(out
            .vpcs()
            .first()
            .and_then(|v| v.vpc_id())
            .map(String::from))
    }

    /// Refuse a stack whose subnets are not all in its env's VPC (or do not exist), naming
    /// each and the resource that names it; a database's subnets must span two zones, as
    /// RDS requires of a subnet group. One DescribeSubnets call; nothing is changed.
    pub async fn check_placement(&self, scope: &Scope, stack: &Stack) -> Result<(), ProviderError> {
        let Some(vpc) = &stack.vpc else {
            return Ok(());
        };
        let mut named: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let mut databases: Vec<(String, &[String])> = Vec::new();
        for r in stack.resources.values() {
            let subnets: &[String] = match &r.spec {
                Spec::Instance(i) => i.subnet.as_slice(),
                Spec::LoadBalancer(lb) => &lb.subnets,
                Spec::Database(d) => {
                    if !d.subnets.is_empty() {
                        databases.push((r.address.to_string(), &d.subnets));
                    }
                    &d.subnets
                }
                _ => &[],
            };
            for s in subnets {
                named
                    .entry(s.as_str())
                    .or_default()
                    .insert(r.address.to_string());
            }
        }
        if named.is_empty() {
            return Ok(());
        }
        // Filtered by id rather than asked by id: an unknown id is then simply missing
        // from the answer instead of failing the call.
        let out = self
            .ec2
            .describe_subnets()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("subnet-id")
                    .set_values(Some(named.keys().map(|s| s.to_string()).collect()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.error(scope, "read the stack's subnets", e))?;
        let found: BTreeMap<&str, (&str, &str)> = out
            .subnets()
            .iter()
            .filter_map(|s| {
                Some((
                    s.subnet_id()?,
                    (
                        s.vpc_id().unwrap_or_default(),
                        s.availability_zone().unwrap_or_default(),
                    ),
                ))
            })
            .collect();
        let mut problems = Vec::new();
        for (subnet, users) in &named {
            let users: Vec<String> = users.iter().map(|u| format!("`{u}`")).collect();
            match found.get(subnet) {
                None => problems.push(format!(
                    "subnet `{subnet}` ({}) does not exist in this account and region",
                    users.join(", ")
                )),
                Some((in_vpc, _)) if in_vpc != vpc => problems.push(format!(
                    "subnet `{subnet}` ({}) is in VPC `{in_vpc}`, not in the env's VPC `{vpc}`",
                    users.join(", ")
                )),
                Some(_) => {}
            }
        }
        for (address, subnets) in databases {
            let zones: BTreeSet<&str> = subnets
                .iter()
                .filter_map(|s| found.get(s.as_str()).map(|(_, z)| *z))
                .collect();
            if zones.len() == 1 {
                problems.push(format!(
                    "the subnets of `{address}` are all in zone `{}`: RDS needs a subnet group \
                     in at least two zones",
                    zones.iter().next().copied().unwrap_or_default()
                ));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(self.failed(
            scope,
            "check the stack's placement",
            format!("{}; nothing was sent", problems.join("; ")),
        ))
    }

    /// Make (or bring up to date) the DB subnet group of database `identifier`: named as
    /// the database. A group of that name that stackwright did not make is refused.
    pub(super) async fn ensure_subnet_group(
        &self,
        scope: &Scope,
        identifier: &str,
        subnets: &[String],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let what = format!("make the DB subnet group of database `{identifier}`");
        let ours = description(scope, identifier);
        match self.subnet_group_description(scope, identifier).await? {
            Some(existing) if existing == ours => {
                self.rds
                    .modify_db_subnet_group()
                    .db_subnet_group_name(identifier)
                    .db_subnet_group_description(&ours)
                    .set_subnet_ids(Some(subnets.to_vec()))
                    .send()
                    .await
                    .map_err(|e| self.error(scope, &what, e))?;
                Ok(())
            }
            Some(_) => Err(self.failed(
                scope,
                &what,
                format!(
                    "a DB subnet group named `{identifier}` exists and stackwright did not \
                     make it for this stack; rename or delete it"
                ),
            )),
            None => {
                let created = self
                    .rds
                    .create_db_subnet_group()
                    .db_subnet_group_name(identifier)
                    .db_subnet_group_description(&ours)
                    .set_subnet_ids(Some(subnets.to_vec()))
                    .set_tags(Some(
                        tags.iter()
                            .map(|(k, v)| Tag::builder().key(k).value(v).build())
                            .collect(),
                    ))
                    .send()
                    .await;
                match created {
                    Ok(_) => Ok(()),
                    // Made between the look and the create (a repeated call): the next
                    // apply brings its subnets up to date.
                    Err(e) if code(&e) == Some("DBSubnetGroupAlreadyExists") => Ok(()),
                    Err(e) => Err(self.error(scope, &what, e)),
                }
            }
        }
    }

    async fn subnet_group_description(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<String>, ProviderError> {
        match self
            .rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.db_subnet_groups().first().map(|g| {
                g.db_subnet_group_description()
                    .unwrap_or_default()
                    .to_string()
            })),
            Err(e) if code(&e) == Some("DBSubnetGroupNotFoundFault") => Ok(None),
            Err(e) => Err(self.error(scope, &format!("read DB subnet group `{name}`"), e)),
        }
    }

    /// Delete the DB subnet group stackwright made for database `identifier`, once the
    /// database is gone (AWS refuses while a database uses it); none, or not ours: nothing.
    pub(super) async fn delete_subnet_group(
        &self,
        scope: &Scope,
        identifier: &str,
    ) -> Result<(), ProviderError> {
        let existing = self.subnet_group_description(scope, identifier).await?;
        if existing.as_deref() != Some(description(scope, identifier).as_str()) {
            return Ok(());
        }
        match self
            .rds
            .delete_db_subnet_group()
            .db_subnet_group_name(identifier)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("DBSubnetGroupNotFoundFault") => Ok(()),
            Err(e) => Err(self.error(
                scope,
                &format!("delete the DB subnet group of database `{identifier}`"),
                e,
            )),
        }
    }
}

//! The `stackwright:expires` tag, renewed (or removed) on every resource of a stack at
//! once: one `CreateTags`/`DeleteTags` for every EC2 resource (a `DescribeKeyPairs` first
//! for the key pairs' `key-…` ids, which EC2 tags them by), `AddTags`/`RemoveTags` per 20
//! balancers, and per database an `AddTagsToResource`/`RemoveTagsFromResource` (RDS has no
//! batch tagging; one `DescribeDBInstances` finds every ARN). Route 53 records carry no
//! tags and are skipped.

use aws_sdk_ec2::types::Tag as Ec2Tag;
use aws_sdk_elasticloadbalancing::types::{Tag as ElbTag, TagKeyOnly};
use aws_sdk_rds::types::{Filter as RdsFilter, Tag as RdsTag};

use super::Aws;
use crate::provider::{LiveResource, ProviderError, Scope, TAG_EXPIRES};
use crate::stack::Kind;

/// EC2 takes up to 1,000 resource ids in one `CreateTags`.
const EC2_BATCH: usize = 1000;
/// A classic ELB's `AddTags` takes up to 20 balancer names.
const ELB_BATCH: usize = 20;
/// `DescribeDBInstances` takes up to 100 values in one filter.
const RDS_BATCH: usize = 100;

impl Aws {
    pub(super) async fn expire(
        &self,
        scope: &Scope,
        resources: &[LiveResource],
        at: Option<&str>,
    ) -> Result<(), ProviderError> {
        let of = |kind: Kind| -> Vec<String> {
            resources
                .iter()
                .filter(|r| r.address.kind == kind)
                .map(|r| r.id.clone())
                .collect()
        };
        let mut ec2_ids = of(Kind::SecurityGroup);
        ec2_ids.extend(of(Kind::Instance));
        ec2_ids.extend(self.key_pair_ids(scope, &of(Kind::KeyPair)).await?);
        for chunk in ec2_ids.chunks(EC2_BATCH) {
            self.expire_ec2(scope, chunk, at).await?;
        }
        for chunk in of(Kind::LoadBalancer).chunks(ELB_BATCH) {
            self.expire_elb(scope, chunk, at).await?;
        }
        for chunk in of(Kind::Database).chunks(RDS_BATCH) {
            for arn in self.database_arns(scope, chunk).await? {
                self.expire_rds(scope, &arn, at).await?;
            }
        }
        Ok(())
    }

    async fn key_pair_ids(
        &self,
        scope: &Scope,
        names: &[String],
    ) -> Result<Vec<String>, ProviderError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .ec2
            .describe_key_pairs()
            .set_key_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|e| self.error(scope, "describe key pairs to tag their expiry", e))?;
        Ok(out
            .key_pairs()
            .iter()
            .filter_map(|k| k.key_pair_id().map(String::from))
            .collect())
    }

    async fn expire_ec2(
        &self,
        scope: &Scope,
        ids: &[String],
        at: Option<&str>,
    ) -> Result<(), ProviderError> {
        let what = "tag the expiry of EC2 resources";
        match at {
            Some(at) => self
                .ec2
                .create_tags()
                .set_resources(Some(ids.to_vec()))
                .tags(Ec2Tag::builder().key(TAG_EXPIRES).value(at).build())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.error(scope, what, e)),
            None => self
                .ec2
                .delete_tags()
                .set_resources(Some(ids.to_vec()))
                .tags(Ec2Tag::builder().key(TAG_EXPIRES).build())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.error(scope, what, e)),
        }
    }

    async fn expire_elb(
        &self,
        scope: &Scope,
        names: &[String],
        at: Option<&str>,
    ) -> Result<(), ProviderError> {
        let what = "tag the expiry of load balancers";
        match at {
            Some(at) => {
                let tag = ElbTag::builder()
                    .key(TAG_EXPIRES)
                    .value(at)
                    .build()
                    .map_err(|e| self.failed(scope, what, e.to_string()))?;
                self.elb
                    .add_tags()
                    .set_load_balancer_names(Some(names.to_vec()))
                    .tags(tag)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| self.error(scope, what, e))
            }
            None => self
                .elb
                .remove_tags()
                .set_load_balancer_names(Some(names.to_vec()))
                .tags(TagKeyOnly::builder().key(TAG_EXPIRES).build())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.error(scope, what, e)),
        }
    }

    async fn database_arns(
        &self,
        scope: &Scope,
        identifiers: &[String],
    ) -> Result<Vec<String>, ProviderError> {
        let out = self
            .rds
            .describe_db_instances()
            .filters(
                RdsFilter::builder()
                    .name("db-instance-id")
                    .set_values(Some(identifiers.to_vec()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.error(scope, "describe databases to tag their expiry", e))?;
        Ok(out
            .db_instances()
            .iter()
            .filter_map(|db| db.db_instance_arn().map(String::from))
            .collect())
    }

    async fn expire_rds(
        &self,
        scope: &Scope,
        arn: &str,
        at: Option<&str>,
    ) -> Result<(), ProviderError> {
        let what = "tag the expiry of a database";
        match at {
            Some(at) => self
                .rds
                .add_tags_to_resource()
                .resource_name(arn)
                .tags(RdsTag::builder().key(TAG_EXPIRES).value(at).build())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.error(scope, what, e)),
            None => self
                .rds
                .remove_tags_from_resource()
                .resource_name(arn)
                .tag_keys(TAG_EXPIRES)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.error(scope, what, e)),
        }
    }
}

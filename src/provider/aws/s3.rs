//! S3: where the CloudFormation engine puts a template too large to send in a request.
//!
//! One bucket per account and region, `stackwright-templates-<account>-<region>`, made the
//! first time it is needed: public access blocked, encrypted by default (SSE-S3), tagged
//! `stackwright:purpose = cloudformation-templates`. The tag is written last, so a bucket
//! without it (a run killed while making it) is configured again. Every call names the
//! account as the bucket's expected owner: a bucket of that name that another account
//! made first is refused, never written to.
//!
//! A template is stored under `<CloudFormation stack name>/<sha256 of the template>.json`:
//! the same template is the same object, and a stack's objects are found, and deleted on
//! destroy, by that prefix. The bucket itself is left (it is shared by every stack of the
//! account and region).
//!
//! Only the calls named here are used: GetCallerIdentity (STS, for the account),
//! GetBucketTagging, CreateBucket, PutPublicAccessBlock, PutBucketEncryption,
//! PutBucketTagging, PutObject, ListObjectsV2, DeleteObject.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, Tag, Tagging,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::Aws;
use crate::provider::{ProviderError, Scope};

/// The tag that marks a bucket stackwright made and finished configuring.
pub const PURPOSE_TAG: (&str, &str) = ("stackwright:purpose", "cloudformation-templates");

/// Where a template was put.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTemplate {
    pub bucket: String,
    pub key: String,
    /// The URL CloudFormation reads it from (`TemplateURL`).
    pub url: String,
}

/// The bucket of an account and region.
pub fn bucket_name(account: &str, region: &str) -> String {
    format!("stackwright-templates-{account}-{region}")
}

/// The key of a template: `<stack>/<sha256 hex>.json`.
pub fn template_key(cfn_stack: &str, sha256_hex: &str) -> String {
    format!("{cfn_stack}/{sha256_hex}.json")
}

/// The URL CloudFormation reads an object from: S3's regional virtual-hosted form. (The
/// emulator reads it from its own S3 by bucket and key, whatever its endpoint.)
pub fn object_url(bucket: &str, region: &str, key: &str) -> String {
    format!("https://{bucket}.s3.{region}.amazonaws.com/{key}")
}

impl Aws {
    /// The account the credentials are of (STS GetCallerIdentity).
    pub async fn account(&self, scope: &Scope) -> Result<String, ProviderError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| self.error(scope, "find the AWS account (GetCallerIdentity)", e))?;
        out.account()
            .map(String::from)
            .ok_or_else(|| self.failed(scope, "find the AWS account", "STS named none".into()))
    }

    /// The templates bucket of the account and region, and the account.
    pub async fn templates_bucket(&self, scope: &Scope) -> Result<(String, String), ProviderError> {
        let account = self.account(scope).await?;
        Ok((bucket_name(&account, &self.region), account))
    }

    /// Make the bucket if it is missing, or finish configuring one a killed run left.
    pub async fn ensure_templates_bucket(
        &self,
        scope: &Scope,
        bucket: &str,
        account: &str,
    ) -> Result<(), ProviderError> {
        let action = format!("prepare the S3 bucket `{bucket}` for CloudFormation templates");
        let tagged = self
            .s3
            .get_bucket_tagging()
            .bucket(bucket)
            .expected_bucket_owner(account)
            .send()
            .await;
        let exists = match tagged {
            Ok(out) => {
                let (k, v) = PURPOSE_TAG;
                if out.tag_set().iter().any(|t| t.key() == k && t.value() == v) {
                    return Ok(());
                }
                true
            }
            Err(e) if e.code() == Some("NoSuchTagSet") => true,
            Err(e) if e.code() == Some("NoSuchBucket") => false,
            Err(e) if matches!(e.code(), Some("AccessDenied" | "Forbidden")) => {
                return Err(self.failed(
                    scope,
                    &action,
                    format!(
                        "access denied: the bucket belongs to another account, or these \
                         credentials may not read its tags ({})",
                        e.message().unwrap_or("no message")
                    ),
                ));
            }
            Err(e) => return Err(self.error(scope, &action, e)),
        };
        if !exists {
            let mut create = self.s3.create_bucket().bucket(bucket);
            // us-east-1 is the one region that takes no location constraint.
            if self.region != "us-east-1" {
                create = create.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                        .build(),
                );
            }
            match create.send().await {
                Ok(_) => {}
                // Another run made it first.
                Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => {}
                Err(e) => return Err(self.error(scope, &action, e)),
            }
        }
        let block = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        self.s3
            .put_public_access_block()
            .bucket(bucket)
            .expected_bucket_owner(account)
            .public_access_block_configuration(block)
            .send()
            .await
            .map_err(|e| self.error(scope, &action, e))?;
        let encryption = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .and_then(|by_default| {
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(by_default)
                            .build(),
                    )
                    .build()
            })
            .map_err(|e| self.failed(scope, &action, e.to_string()))?;
        self.s3
            .put_bucket_encryption()
            .bucket(bucket)
            .expected_bucket_owner(account)
            .server_side_encryption_configuration(encryption)
            .send()
            .await
            .map_err(|e| self.error(scope, &action, e))?;
        let (k, v) = PURPOSE_TAG;
        let tagging = Tag::builder()
            .key(k)
            .value(v)
            .build()
            .and_then(|tag| Tagging::builder().tag_set(tag).build())
            .map_err(|e| self.failed(scope, &action, e.to_string()))?;
        self.s3
            .put_bucket_tagging()
            .bucket(bucket)
            .expected_bucket_owner(account)
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| self.error(scope, &action, e))?;
        Ok(())
    }

    /// Put `body` (a template, which holds no secret) into the templates bucket under
    /// `key`, making the bucket first if needed.
    pub async fn put_template(
        &self,
        scope: &Scope,
        key: &str,
        body: &str,
    ) -> Result<StoredTemplate, ProviderError> {
        let (bucket, account) = self.templates_bucket(scope).await?;
        self.ensure_templates_bucket(scope, &bucket, &account)
            .await?;
        self.s3
            .put_object()
            .bucket(&bucket)
            .key(key)
            .expected_bucket_owner(&account)
            .content_type("application/json")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .await
            .map_err(|e| {
                self.error(
                    scope,
                    &format!("upload the template to S3 bucket `{bucket}`"),
                    e,
                )
            })?;
        Ok(StoredTemplate {
            url: object_url(&bucket, &self.region, key),
            bucket,
            key: key.to_string(),
        })
    }

    /// Delete every template object under `prefix` (`<stack>/`): how many were deleted.
    /// No bucket, nothing to delete; the bucket itself is left.
    pub async fn delete_templates(
        &self,
        scope: &Scope,
        prefix: &str,
    ) -> Result<usize, ProviderError> {
        let (bucket, account) = self.templates_bucket(scope).await?;
        let action = format!("delete the stack's templates from S3 bucket `{bucket}`");
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&bucket)
            .prefix(prefix)
            .expected_bucket_owner(&account)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => keys.extend(
                    page.contents()
                        .iter()
                        .filter_map(|o| o.key())
                        .map(String::from),
                ),
                Err(e) if e.code() == Some("NoSuchBucket") => return Ok(0),
                Err(e) => return Err(self.error(scope, &action, e)),
            }
        }
        for key in &keys {
            self.s3
                .delete_object()
                .bucket(&bucket)
                .key(key)
                .expected_bucket_owner(&account)
                .send()
                .await
                .map_err(|e| self.error(scope, &action, e))?;
        }
        Ok(keys.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keys_and_urls_are_derived_from_account_region_stack_and_digest() {
        let bucket = bucket_name("123456789012", "ap-southeast-2");
        assert_eq!(bucket, "stackwright-templates-123456789012-ap-southeast-2");
        // S3's limit on bucket names, with the longest region names.
        assert!(bucket_name("123456789012", "ap-southeast-2-long-x").len() <= 63);
        let key = template_key("paasmaker-production", "ab12");
        assert_eq!(key, "paasmaker-production/ab12.json");
        assert_eq!(
            object_url(&bucket, "ap-southeast-2", &key),
            "https://stackwright-templates-123456789012-ap-southeast-2.s3.ap-southeast-2.amazonaws.com/paasmaker-production/ab12.json"
        );
    }
}

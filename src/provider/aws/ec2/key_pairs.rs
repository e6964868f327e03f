//! EC2 key pairs: read with one tag-filtered call (with their public keys, where AWS
//! returns them), imported from the stack's public key, retagged in place (the only
//! change EC2 allows), and deleted.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::ResourceType;

use super::{address_filters, tag_spec, tagged};
use crate::provider::aws::{Aws, code, tag_filters};
use crate::provider::{Applied, Desired, LiveResource, ProviderError, Scope, Value};
use crate::stack::model::Spec;
use crate::stack::{Address, Kind};

impl Aws {
    pub(in crate::provider::aws) async fn read_key_pairs(
        &self,
        scope: &Scope,
    ) -> Result<Vec<LiveResource>, ProviderError> {
        let imports = crate::provider::aws::imports::ids_of(scope, Kind::KeyPair);
        let mut queries = vec![tag_filters(scope)];
        if !imports.is_empty() {
            queries.push(vec![
                aws_sdk_ec2::types::Filter::builder()
                    .name("key-name")
                    .set_values(Some(imports))
                    .build(),
            ]);
        }
        let mut outputs = Vec::new();
        for filters in queries {
            outputs.push(
                self.ec2
                    .describe_key_pairs()
                    .set_filters(Some(filters))
                    .include_public_key(true)
                    .send()
                    .await
                    .map_err(|e| self.error(scope, "describe key pairs", e))?,
            );
        }
        let mut out = Vec::new();
        let mut read = std::collections::BTreeSet::new();
        for key in outputs.iter().flat_map(|o| o.key_pairs()) {
            let tagged = tagged(key.tags());
            let Some(name) = key.key_name() else {
                continue;
            };
            if !read.insert(name.to_string()) {
                continue;
            }
            let Some(address) = self.claim(scope, Kind::KeyPair, &tagged, name) else {
                continue;
            };
            let mut attrs = BTreeMap::from([
                ("name".to_string(), Value::text(name)),
                ("tags".to_string(), tagged.user_tags()),
                ("prevent_destroy".to_string(), tagged.prevent_destroy()),
            ]);
            // The public key as AWS holds it, when it returns it; else what was applied.
            let public_key = key
                .public_key()
                .map(|k| Value::text(crate::provider::public_key_form(k)))
                .or_else(|| tagged.tracked("public_key"));
            if let Some(v) = public_key {
                attrs.insert("public_key".into(), v);
            }
            let outputs = BTreeMap::from([
                ("name".to_string(), name.to_string()),
                (
                    "fingerprint".to_string(),
                    key.key_fingerprint().unwrap_or_default().to_string(),
                ),
            ]);
            out.push(LiveResource {
                address,
                id: name.to_string(),
                attrs,
                outputs,
                applied: tagged.applied(),
                expires: tagged.expires(),
            });
        }
        Ok(out)
    }

    async fn find_key(
        &self,
        scope: &Scope,
        address: &Address,
    ) -> Result<Option<aws_sdk_ec2::types::KeyPairInfo>, ProviderError> {
        let output = self
            .ec2
            .describe_key_pairs()
            .set_filters(Some(address_filters(scope, address)))
            .send()
            .await
            .map_err(|e| self.error(scope, &format!("look for `{address}`"), e))?;
        Ok(output.key_pairs().first().cloned())
    }

    pub(in crate::provider::aws) async fn create_key(
        &self,
        scope: &Scope,
        want: &Desired<'_>,
    ) -> Result<Applied, ProviderError> {
        let Spec::KeyPair(key) = &want.resource.spec else {
            return Err(self.failed(scope, "import key pair", "not a key pair".into()));
        };
        let name = want.resource.physical_name.as_str();
        let imported = self
            .ec2
            .import_key_pair()
            .key_name(name)
            .public_key_material(aws_smithy_types::Blob::new(key.public_key.as_bytes()))
            .tag_specifications(tag_spec(ResourceType::KeyPair, &want.tags))
            .send()
            .await;
        let fingerprint = match imported {
            Ok(out) => out.key_fingerprint().unwrap_or_default().to_string(),
            Err(e) if code(&e) == Some("InvalidKeyPair.Duplicate") => {
                match self.find_key(scope, &want.resource.address).await? {
                    Some(k) => k.key_fingerprint().unwrap_or_default().to_string(),
                    None => {
                        return Err(self.failed(
                            scope,
                            &format!("import key pair `{name}`"),
                            "a key pair of that name exists and is not part of this stack".into(),
                        ));
                    }
                }
            }
            Err(e) => return Err(self.error(scope, &format!("import key pair `{name}`"), e)),
        };
        Ok(Applied {
            id: name.to_string(),
            outputs: BTreeMap::from([
                ("name".to_string(), name.to_string()),
                ("fingerprint".to_string(), fingerprint),
            ]),
        })
    }

    pub(in crate::provider::aws) async fn update_key(
        &self,
        scope: &Scope,
        live: &LiveResource,
        want: &Desired<'_>,
    ) -> Result<Applied, ProviderError> {
        // Only tags change in place; EC2 tags a key pair by its `key-…` id, found by the
        // key's name: an imported key has no address tag yet, a moved one the old address.
        let output = self
            .ec2
            .describe_key_pairs()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("key-name")
                    .values(&live.id)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.error(scope, &format!("look for key pair `{}`", live.id), e))?;
        let key = output
            .key_pairs()
            .first()
            .ok_or_else(|| self.failed(scope, "tag key pair", format!("`{}` is gone", live.id)))?;
        let key_id = key.key_pair_id().unwrap_or_default();
        self.retag(scope, key_id, live, want).await?;
        Ok(Applied {
            id: live.id.clone(),
            outputs: live.outputs.clone(),
        })
    }

    pub(in crate::provider::aws) async fn destroy_key(
        &self,
        scope: &Scope,
        live: &LiveResource,
    ) -> Result<(), ProviderError> {
        match self.ec2.delete_key_pair().key_name(&live.id).send().await {
            Ok(_) => Ok(()),
            Err(e) if code(&e) == Some("InvalidKeyPair.NotFound") => Ok(()),
            Err(e) => Err(self.error(scope, &format!("delete key pair `{}`", live.id), e)),
        }
    }
}

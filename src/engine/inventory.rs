//! `stackwright ls`: every stack and env the tags find, region by region, without any
//! stack's files. The reads are the provider's ([`Aws::inventory`]); the grouping is
//! [`crate::provider::inventory::list`].

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::EngineError;
use crate::provider::aws::Aws;
use crate::provider::inventory::{Listed, list};

/// What `ls` found, and the AWS calls it took in each region (by operation).
#[derive(Debug, Default)]
pub struct Listing {
    pub stacks: Vec<Listed>,
    pub calls: BTreeMap<String, BTreeMap<String, u64>>,
}

/// Every stack and env in `regions` (none: the configured region), region by region.
pub async fn ls(regions: &[String]) -> Result<Listing, EngineError> {
    let asked: Vec<Option<&str>> = if regions.is_empty() {
        vec![None]
    } else {
        regions.iter().map(|r| Some(r.as_str())).collect()
    };
    let mut out = Listing::default();
    for region in asked {
        let aws = Aws::connect_region(region).await?;
        let inventory = aws.inventory().await?;
        out.stacks
            .extend(list(aws.region(), &inventory, SystemTime::now()));
        out.calls
            .insert(aws.region().to_string(), aws.stats().by_operation());
    }
    Ok(out)
}

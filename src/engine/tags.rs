//! A stack known by its tags alone: `destroy --stack NAME --env ENV`, from any directory.
//!
//! The stack is a name, an env and a region with no resources: the direct engine's
//! teardown then proposes to destroy everything refresh finds under those tags, with the
//! runner's gates (`prevent_destroy` from its tag, the data-loss gate), its lock and its
//! order (kinds in reverse dependency order: records first, instances before groups, a
//! balancer before its members' groups). Route 53 records carry no tags: every public
//! hosted zone of the account is searched for the stack's claims. A database goes as its
//! `stackwright:final-snapshot` tag says.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Direct, EngineError, secrets};
use crate::graph::Graph;
use crate::provider::aws::Aws;
use crate::stack::{Stack, names};

/// The stack `name` in `env` with nothing declared, and its (empty) graph. Names that no
/// stack could have are refused before anything is read.
pub fn nothing_of(
    name: &str,
    env: &str,
    region: Option<&str>,
) -> Result<(Stack, Graph), EngineError> {
    names::check_stack_name(name)
        .map_err(|why| EngineError::Message(format!("invalid stack name `{name}`: {why}")))?;
    names::check_stack_name(env)
        .map_err(|why| EngineError::Message(format!("invalid env name `{env}`: {why}")))?;
    let stack = Stack {
        name: name.to_string(),
        env: env.to_string(),
        region: region.unwrap_or_default().to_string(),
        endpoint_url: None,
        expires_secs: None,
        vpc: None,
        imports: BTreeMap::new(),
        moved: BTreeMap::new(),
        secrets: BTreeMap::new(),
        resources: BTreeMap::new(),
        outputs: BTreeMap::new(),
    };
    let graph = Graph::build(&stack)
        .map_err(|_| EngineError::Message("an empty stack has no cycle".into()))?;
    Ok((stack, graph))
}

impl Direct<Aws> {
    /// Connect for a teardown of `stack` (from [`nothing_of`]) by its tags: its records
    /// are found in the hosted zones tagged `stackwright:records:<stack>/<env>`, which
    /// refresh reads whatever zones the stack names (here none).
    pub async fn connect_by_tags(stack: Stack, graph: Graph) -> Result<Self, EngineError> {
        let lookup = secrets::process_env();
        let scope = secrets::scope(&stack, false, &lookup)?;
        let aws = Aws::connect(&stack).await?;
        Ok(Direct::new(Arc::new(aws), stack, graph, scope, lookup))
    }
}

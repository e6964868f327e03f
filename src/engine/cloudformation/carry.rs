//! Carrying a CloudFormation proposal out: execute the change set (or delete the stack),
//! then follow the stack's events until it settles, reporting each resource's progress.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;

use super::{Carry, Cloudformation, Proposal, Result};
use crate::cloudformation::changes::Tracker;
use crate::engine::console::redact_report;
use crate::engine::error::fail;
use crate::engine::{Console, EngineError, Finish, Operation, Redacting, redact};

impl Cloudformation<'_> {
    /// Set the proposal going (it has passed the gates and been agreed to), then follow it.
    pub(super) async fn carry(
        &self,
        proposal: &Proposal,
        operation: Operation,
        console: &Arc<dyn Console>,
        cancel: watch::Receiver<bool>,
    ) -> Result<Option<Finish>> {
        let (scope, aws) = (&self.scope, &self.aws);
        let stack_id = match &proposal.carry {
            Carry::Execute { stack_id, .. } | Carry::Delete { stack_id } => stack_id,
            Carry::Nothing => return Ok(None),
        };
        let since = aws.cfn_last_event(scope, stack_id).await?;
        // A saved plan: the stack may have moved on while the question was asked.
        if let Some(expected) = &proposal.last_event
            && since != *expected
        {
            fail!(
                "CloudFormation stack `{}` has changed since this plan was made; nothing was \
                 changed\n\nhint: plan again",
                self.name
            );
        }
        let started = match &proposal.carry {
            Carry::Execute { change_set, .. } => aws.cfn_execute(scope, change_set).await,
            _ => aws.cfn_delete_stack(scope, stack_id).await,
        };
        started.map_err(|e| {
            EngineError::Message(format!(
                "{}; nothing was changed\n\nhint: CloudFormation refuses a change set made \
                 before the stack last changed: plan again",
                redact(&e.to_string(), &proposal.secrets)
            ))
        })?;
        self.follow(proposal, operation, stack_id, since, console, cancel)
            .await
            .map(Some)
    }

    /// Follow what CloudFormation was set going until the stack settles, then say how it
    /// went.
    async fn follow(
        &self,
        proposal: &Proposal,
        operation: Operation,
        stack_id: &str,
        since: Option<String>,
        console: &Arc<dyn Console>,
        cancel: watch::Receiver<bool>,
    ) -> Result<Finish> {
        let (scope, aws) = (&self.scope, &self.aws);
        let plan = &proposal.plan;
        let reporter = Arc::new(Redacting {
            inner: console.reporter(),
            secrets: proposal.secrets.clone(),
        });
        let mut tracker = Tracker::new(
            plan,
            &[&proposal.new, &proposal.old],
            &proposal.touched,
            reporter,
        );
        let settled = aws
            .cfn_follow(scope, stack_id, since, &mut |e| tracker.event(e), cancel)
            .await;
        let settled = match settled {
            Ok(s) => s,
            Err(e) => fail!(
                "{}\n\nhint: CloudFormation carries on with stack `{}`; `stackwright plan \
                 --engine cloudformation` shows where it stands",
                redact(&EngineError::from(e).to_string(), &proposal.secrets),
                self.name
            ),
        };
        let reached = match operation {
            Operation::Apply => matches!(
                settled.status.as_str(),
                "CREATE_COMPLETE" | "UPDATE_COMPLETE"
            ),
            Operation::Destroy => settled.status == "DELETE_COMPLETE",
        };
        let (mut report, warnings) = tracker.finish(&settled.status, reached, settled.cancelled);
        redact_report(&mut report, &proposal.secrets);
        for w in &warnings {
            console.warning(&redact(w, &proposal.secrets));
        }
        let finish = |report, outputs, succeeded| Finish::Carried {
            plan: plan.clone(),
            report,
            outputs,
            succeeded,
        };
        if settled.cancelled {
            console.notice(&format!(
                "CloudFormation carries on with stack `{}` ({}); `stackwright plan --engine \
                 cloudformation` shows where it stands.",
                self.name, settled.status
            ));
            return Ok(finish(report, None, false));
        }
        if !reached || !report.succeeded() {
            console.notice(&redact(
                &format!(
                    "error: CloudFormation stack `{}` settled at {}{}",
                    self.name,
                    settled.status,
                    settled
                        .reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ),
                &proposal.secrets,
            ));
            return Ok(finish(report, None, false));
        }
        if operation == Operation::Destroy {
            // The templates uploaded for the stack (those too large for a request) go
            // with it; the bucket, which other stacks share, is left.
            let prefix = format!("{}/", self.name);
            if let Err(e) = aws.delete_templates(scope, &prefix).await {
                console.warning(&format!(
                    "{e}; CloudFormation stack `{}` is deleted, but its templates are left in S3",
                    self.name
                ));
            }
        }
        let outputs: Option<BTreeMap<String, Option<String>>> = match operation {
            Operation::Apply => {
                let info = aws.cfn_stack(scope, &self.name).await?.unwrap_or_default();
                // The template just deployed: no need to read it back.
                Some(self.outputs_of(&info, &proposal.new).await?)
            }
            Operation::Destroy => None,
        };
        Ok(finish(report, outputs, true))
    }
}

//! CloudFormation: the calls of the cloudformation engine. Stacks, change sets, templates
//! and events, turned into the plain types of [`crate::provider::cloudformation`].
//!
//! Where the emulator differs (write for AWS, handle both): moto refuses a change set with
//! no changes at `CreateChangeSet` ("No updates are to be performed."), where AWS creates
//! it and marks it `FAILED` with a reason; both are [`ChangeSet::Unchanged`]. Moto's change
//! sets say nothing of replacement, and it writes no per-resource events.

use std::time::Duration;

use aws_sdk_cloudformation::types::{ChangeSetType, Parameter as CfnParameter, TemplateStage};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::sync::watch;

use super::Aws;
pub use crate::provider::cloudformation::{
    ChangeSet, ChangeSetRequest, ChangeSetSummary, Described, Settled, TemplateSource,
};
use crate::provider::cloudformation::{ResourceChange, STACK_TYPE, StackEvent, StackInfo, settled};
use crate::provider::{ProviderError, Scope};

/// AWS's words for "a change set that changes nothing" (FAILED status reason) and the
/// emulator's (an error at CreateChangeSet).
fn says_no_changes(message: &str) -> bool {
    message.contains("didn't contain changes") || message.contains("No updates are to be performed")
}

impl Aws {
    /// The stack `name`, or `None` if there is none (or only a deleted one).
    pub async fn cfn_stack(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<Option<StackInfo>, ProviderError> {
        let out = match self.cfn.describe_stacks().stack_name(name).send().await {
            Ok(out) => out,
            Err(e) if e.message().is_some_and(|m| m.contains("does not exist")) => return Ok(None),
            Err(e) => return Err(self.error(scope, "describe the CloudFormation stack", e)),
        };
        let Some(s) = out.stacks().first() else {
            return Ok(None);
        };
        let status = s
            .stack_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if status == "DELETE_COMPLETE" {
            return Ok(None);
        }
        Ok(Some(StackInfo {
            id: s.stack_id().unwrap_or(name).to_string(),
            status,
            reason: s.stack_status_reason().map(String::from),
            outputs: s
                .outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
                .collect(),
            parameters: s
                .parameters()
                .iter()
                .filter_map(|p| p.parameter_key().map(String::from))
                .collect(),
        }))
    }

    /// The stack's status by its id (which still finds a deleted stack).
    async fn cfn_status(
        &self,
        scope: &Scope,
        stack_id: &str,
    ) -> Result<(String, Option<String>), ProviderError> {
        let out = self.cfn.describe_stacks().stack_name(stack_id).send().await;
        match out {
            Ok(out) => {
                let s = out.stacks().first();
                if s.is_none() {
                    return Ok(("DELETE_COMPLETE".to_string(), None));
                }
                Ok((
                    s.and_then(|s| s.stack_status())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    s.and_then(|s| s.stack_status_reason()).map(String::from),
                ))
            }
            // The emulator forgets some deleted stacks; AWS answers DELETE_COMPLETE.
            Err(e) if e.message().is_some_and(|m| m.contains("does not exist")) => {
                Ok(("DELETE_COMPLETE".to_string(), None))
            }
            Err(e) => Err(self.error(scope, "describe the CloudFormation stack", e)),
        }
    }

    /// The template the stack runs now (as submitted, not processed).
    pub async fn cfn_template(&self, scope: &Scope, name: &str) -> Result<String, ProviderError> {
        let out = self
            .cfn
            .get_template()
            .stack_name(name)
            .template_stage(TemplateStage::Original)
            .send()
            .await
            .map_err(|e| self.error(scope, "read the CloudFormation stack's template", e))?;
        Ok(out.template_body().unwrap_or("{}").to_string())
    }

    /// The physical id of each of the stack's resources that exists, by logical id (a
    /// resource deleted, by a rollback say, is still listed, `DELETE_COMPLETE`).
    pub async fn cfn_resources(
        &self,
        scope: &Scope,
        name: &str,
    ) -> Result<std::collections::BTreeMap<String, String>, ProviderError> {
        let mut out = std::collections::BTreeMap::new();
        let mut pages = self
            .cfn
            .list_stack_resources()
            .stack_name(name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| self.error(scope, "list the CloudFormation stack's resources", e))?;
            for r in page.stack_resource_summaries() {
                let gone = r
                    .resource_status()
                    .is_some_and(|s| s.as_str() == "DELETE_COMPLETE");
                // The emulator lists a key pair with an empty logical id: not one to know.
                let logical = r.logical_resource_id().filter(|l| !l.is_empty());
                if let (false, Some(l), Some(p)) = (gone, logical, r.physical_resource_id()) {
                    out.insert(l.to_string(), p.to_string());
                }
            }
        }
        Ok(out)
    }

    /// Create the change set `request` asks for and wait until CloudFormation has worked
    /// out its changes (or `cancel`).
    pub async fn cfn_change_set(
        &self,
        scope: &Scope,
        request: &ChangeSetRequest<'_>,
        mut cancel: watch::Receiver<bool>,
    ) -> Result<ChangeSet, ProviderError> {
        let ChangeSetRequest {
            stack: name,
            change_set,
            description,
            template,
            parameters,
            create,
        } = *request;
        let mut call = self
            .cfn
            .create_change_set()
            .stack_name(name)
            .change_set_name(change_set)
            .description(description)
            .change_set_type(if create {
                ChangeSetType::Create
            } else {
                ChangeSetType::Update
            });
        call = match template {
            TemplateSource::Body(body) => call.template_body(body),
            TemplateSource::Url(url) => call.template_url(url),
        };
        for p in parameters {
            let param = CfnParameter::builder().parameter_key(&p.key);
            call = call.parameters(match &p.value {
                Some(v) => param.parameter_value(v.expose()).build(),
                None => param.use_previous_value(true).build(),
            });
        }
        let created = match call.send().await {
            Ok(out) => out,
            Err(e) if e.message().is_some_and(says_no_changes) => {
                return Ok(ChangeSet::Unchanged { id: None });
            }
            Err(e) => return Err(self.error(scope, "create a CloudFormation change set", e)),
        };
        let id = created.id().unwrap_or(change_set).to_string();
        let stack_id = created.stack_id().unwrap_or(name).to_string();
        let failed = |id: String, stack_id: String, reason: String| {
            Ok(ChangeSet::Failed {
                id,
                stack_id,
                reason,
            })
        };
        let mut delay = Duration::from_millis(500);
        let started = tokio::time::Instant::now();
        // Ctrl-C: CloudFormation cannot delete a change set it is still working out, so
        // it is waited for (a minute at most) to be deleted after.
        let mut interrupted: Option<tokio::time::Instant> = None;
        loop {
            let described = match self.cfn_describe_change_set(scope, &id).await {
                Ok(Some(described)) => described,
                Ok(None) => {
                    let reason = "the change set is gone (deleted by someone else)".to_string();
                    return failed(id, stack_id, reason);
                }
                // The change set exists: it must be withdrawn, so its id is not lost.
                Err(e) => return failed(id, stack_id, e.to_string()),
            };
            let Described {
                status,
                reason,
                changes,
                ..
            } = described;
            let working = matches!(status.as_str(), "CREATE_PENDING" | "CREATE_IN_PROGRESS");
            match (status.as_str(), interrupted) {
                (_, Some(since)) if !working || since.elapsed() > Duration::from_secs(60) => {
                    return failed(id, stack_id, "interrupted".to_string());
                }
                ("CREATE_COMPLETE", None) => {
                    return Ok(ChangeSet::Ready {
                        id,
                        stack_id,
                        changes,
                    });
                }
                ("FAILED", None) if reason.as_deref().is_some_and(says_no_changes) => {
                    return Ok(ChangeSet::Unchanged { id: Some(id) });
                }
                ("FAILED", None) => {
                    let reason = reason.unwrap_or_else(|| "no reason given".into());
                    return failed(id, stack_id, reason);
                }
                _ if started.elapsed() > Duration::from_secs(600) => {
                    let reason = format!("still {status} after 10 minutes");
                    return failed(id, stack_id, reason);
                }
                _ => {
                    if interrupted.is_none() {
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            _ = cancel.wait_for(|c| *c) => {
                                interrupted = Some(tokio::time::Instant::now());
                            }
                        }
                    } else {
                        tokio::time::sleep(delay).await;
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// A change set as it is now, all pages of its changes; `None` if it is gone.
    pub async fn cfn_describe_change_set(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<Option<Described>, ProviderError> {
        let mut out = Described::default();
        let mut pages = self
            .cfn
            .describe_change_set()
            .change_set_name(id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(e) if e.code() == Some("ChangeSetNotFound") => return Ok(None),
                // The emulator's word for it.
                Err(e) if e.code() == Some("ValidationError") && out.status.is_empty() => {
                    return Ok(None);
                }
                Err(e) => {
                    return Err(self.error(scope, "describe the CloudFormation change set", e));
                }
            };
            out.status = page
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            out.execution_status = page
                .execution_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            out.reason = page.status_reason().map(String::from);
            out.stack_id = page.stack_id().map(String::from);
            out.description = page.description().unwrap_or_default().to_string();
            out.changes.extend(
                page.changes()
                    .iter()
                    .filter_map(|c| c.resource_change())
                    .map(|rc| ResourceChange {
                        action: rc
                            .action()
                            .map(|a| a.as_str().to_string())
                            .unwrap_or_default(),
                        logical_id: rc.logical_resource_id().unwrap_or_default().to_string(),
                        physical_id: rc.physical_resource_id().map(String::from),
                        resource_type: rc.resource_type().unwrap_or_default().to_string(),
                        replacement: rc.replacement().map(|r| r.as_str().to_string()),
                        properties: rc
                            .details()
                            .iter()
                            .filter_map(|d| d.target())
                            .filter_map(|t| {
                                Some((
                                    t.name().or(t.attribute().map(|a| a.as_str()))?.to_string(),
                                    t.requires_recreation().map(|r| r.as_str().to_string()),
                                ))
                            })
                            .collect(),
                    }),
            );
            // Changes are listed only once CloudFormation has worked them out.
            if out.status != "CREATE_COMPLETE" {
                break;
            }
        }
        Ok(Some(out))
    }

    /// The change sets of stack `stack_id` (ListChangeSets, all pages), but those being
    /// deleted.
    pub async fn cfn_change_sets(
        &self,
        scope: &Scope,
        stack_id: &str,
    ) -> Result<Vec<ChangeSetSummary>, ProviderError> {
        let mut out = Vec::new();
        let mut pages = self
            .cfn
            .list_change_sets()
            .stack_name(stack_id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| self.error(scope, "list the CloudFormation change sets", e))?;
            // The emulator lists every stack's: keep the asked one's.
            out.extend(
                page.summaries()
                    .iter()
                    .filter(|c| c.stack_id() == Some(stack_id))
                    .filter(|c| {
                        !c.status()
                            .is_some_and(|s| s.as_str().starts_with("DELETE_"))
                    })
                    .map(|c| ChangeSetSummary {
                        id: c.change_set_id().unwrap_or_default().to_string(),
                        description: c.description().unwrap_or_default().to_string(),
                    }),
            );
        }
        Ok(out)
    }

    /// A stack's status by its id: what [`Aws::cfn_follow`] reads.
    pub async fn cfn_status_of(
        &self,
        scope: &Scope,
        stack_id: &str,
    ) -> Result<String, ProviderError> {
        Ok(self.cfn_status(scope, stack_id).await?.0)
    }

    pub async fn cfn_delete_change_set(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<(), ProviderError> {
        self.cfn
            .delete_change_set()
            .change_set_name(id)
            .send()
            .await
            .map_err(|e| self.error(scope, "delete the CloudFormation change set", e))?;
        Ok(())
    }

    /// Start deleting a stack (follow it with [`Aws::cfn_follow`]).
    pub async fn cfn_delete_stack(
        &self,
        scope: &Scope,
        stack_id: &str,
    ) -> Result<(), ProviderError> {
        self.cfn
            .delete_stack()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| self.error(scope, "delete the CloudFormation stack", e))?;
        Ok(())
    }

    pub async fn cfn_execute(
        &self,
        scope: &Scope,
        change_set_id: &str,
    ) -> Result<(), ProviderError> {
        self.cfn
            .execute_change_set()
            .change_set_name(change_set_id)
            .send()
            .await
            .map_err(|e| self.error(scope, "execute the CloudFormation change set", e))?;
        Ok(())
    }

    /// The id of the stack's newest event: what a follow starts after.
    pub async fn cfn_last_event(
        &self,
        scope: &Scope,
        stack_id: &str,
    ) -> Result<Option<String>, ProviderError> {
        let out = self
            .cfn
            .describe_stack_events()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(|e| self.error(scope, "read the CloudFormation stack's events", e))?;
        Ok(out
            .stack_events()
            .first()
            .and_then(|e| e.event_id())
            .map(String::from))
    }

    /// The events after `after`, oldest first. Events come newest first, a page at a time:
    /// read back until `after` is met.
    async fn cfn_events_since(
        &self,
        scope: &Scope,
        stack_id: &str,
        after: Option<&str>,
    ) -> Result<Vec<StackEvent>, ProviderError> {
        let mut out = Vec::new();
        let mut pages = self
            .cfn
            .describe_stack_events()
            .stack_name(stack_id)
            .into_paginator()
            .send();
        'pages: while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| self.error(scope, "read the CloudFormation stack's events", e))?;
            for e in page.stack_events() {
                let id = e.event_id().unwrap_or_default();
                if Some(id) == after {
                    break 'pages;
                }
                out.push(StackEvent {
                    id: id.to_string(),
                    logical_id: e.logical_resource_id().unwrap_or_default().to_string(),
                    resource_type: e.resource_type().unwrap_or_default().to_string(),
                    status: e
                        .resource_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    reason: e.resource_status_reason().map(String::from),
                });
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Follow the stack's events after `after` until its status settles, handing each to
    /// `on_event`; a Ctrl-C (`cancel`) stops following, not CloudFormation.
    pub async fn cfn_follow(
        &self,
        scope: &Scope,
        stack_id: &str,
        mut after: Option<String>,
        on_event: &mut (dyn FnMut(&StackEvent) + Send),
        mut cancel: watch::Receiver<bool>,
    ) -> Result<Settled, ProviderError> {
        let mut delay = Duration::from_secs(1);
        let started = tokio::time::Instant::now();
        // A settled status counts once the stack has said it started this operation (an
        // event of its own after `after`): a status read just after the call that started
        // it may still be the last operation's. A minute without one, it counts anyway.
        let mut began = false;
        loop {
            let events = self
                .cfn_events_since(scope, stack_id, after.as_deref())
                .await?;
            if let Some(last) = events.last() {
                after = Some(last.id.clone());
            }
            for e in &events {
                began |= e.resource_type == STACK_TYPE;
                on_event(e);
            }
            let (status, reason) = self.cfn_status(scope, stack_id).await?;
            let waited = started.elapsed() > Duration::from_secs(60);
            if settled(&status).is_some() && (began || waited) {
                // Events written between the read above and the status: read them too.
                for e in self
                    .cfn_events_since(scope, stack_id, after.as_deref())
                    .await?
                {
                    on_event(&e);
                }
                return Ok(Settled {
                    status,
                    reason,
                    cancelled: false,
                });
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = cancel.wait_for(|c| *c) => {
                    return Ok(Settled { status, reason, cancelled: true });
                }
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}

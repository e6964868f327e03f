//! CloudFormation's limits on a template, checked before anything is sent to AWS.
//!
//! CloudFormation takes a template of at most [`BODY_LIMIT`] bytes in the request itself
//! (`TemplateBody`); a larger one must be uploaded to S3 and passed by URL
//! (`TemplateURL`), up to [`URL_LIMIT`] bytes. A stack holds at most [`RESOURCE_LIMIT`]
//! resources. A template over either of the last two can never be deployed: it is refused
//! at plan time, with its size and its count, and nothing is sent.

use serde_json::Value as Json;

/// The most bytes of template CloudFormation takes in a request (`TemplateBody`).
pub const BODY_LIMIT: usize = 51_200;
/// The most bytes of template CloudFormation reads from S3 (`TemplateURL`): 1 MB.
pub const URL_LIMIT: usize = 1_048_576;
/// The most resources a CloudFormation stack holds.
pub const RESOURCE_LIMIT: usize = 500;

/// How a template reaches CloudFormation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// In the request (`TemplateBody`).
    Body,
    /// Uploaded to S3 first, passed as `TemplateURL`.
    S3,
}

/// A template CloudFormation would refuse, whichever way it were sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "stack `{stack}` is too large for CloudFormation; nothing was sent to AWS:\n{}\n\
     hint: split the stack, or use the direct engine (drop --engine cloudformation), which \
     has no such limit",
    reasons.iter().map(|r| format!("  - {r}\n")).collect::<String>()
)]
pub struct LimitError {
    pub stack: String,
    /// One sentence per limit passed, with the figure.
    pub reasons: Vec<String>,
}

/// The template as it is sent: compact JSON, no whitespace (an export for people may be
/// pretty; what CloudFormation reads need not be).
pub fn body(template: &Json) -> String {
    // A `serde_json::Value` always serializes: its keys are strings.
    serde_json::to_string(template).unwrap_or_default()
}

/// The number of resources of a template.
pub fn resources(template: &Json) -> usize {
    template["Resources"].as_object().map_or(0, |r| r.len())
}

/// How the template of stack `stack` (`body` as sent, `resources` of them) reaches
/// CloudFormation, or why it cannot.
pub fn delivery(stack: &str, body: &str, resources: usize) -> Result<Delivery, LimitError> {
    let mut reasons = Vec::new();
    if resources > RESOURCE_LIMIT {
        reasons.push(format!(
            "its template has {resources} resources; a CloudFormation stack holds at most \
             {RESOURCE_LIMIT}"
        ));
    }
    if body.len() > URL_LIMIT {
        reasons.push(format!(
            "its template is {} bytes; CloudFormation reads at most {URL_LIMIT} (1 MB), \
             even from S3",
            body.len()
        ));
    }
    if !reasons.is_empty() {
        return Err(LimitError {
            stack: stack.to_string(),
            reasons,
        });
    }
    Ok(if body.len() > BODY_LIMIT {
        Delivery::S3
    } else {
        Delivery::Body
    })
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    /// A stack directory: `count` replicas of one instance, and `distinct` instances each
    /// with user data of its own, `user_data` bytes long.
    pub(crate) fn stack_dir(count: u32, distinct: usize, user_data: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut toml = String::from(
            "[stack]\nname = \"big\"\nregion = \"ap-southeast-2\"\n\n\
             [instance.node]\ncount = \"${var.count}\"\nami = \"ami-785db401\"\n\
             instance_type = \"t3.micro\"\n\n[vars]\ncount = 1\n",
        );
        std::fs::create_dir_all(dir.path().join("files")).expect("files/");
        std::fs::create_dir_all(dir.path().join("env")).expect("env/");
        for i in 0..distinct {
            let _ = write!(
                toml,
                "\n[instance.solo{i}]\nami = \"ami-785db401\"\ninstance_type = \"t3.micro\"\n\
                 user_data = {{ template = \"files/solo{i}.sh\" }}\n"
            );
            let line = format!("echo solo {i}\n");
            let text = line.repeat(user_data / line.len() + 1);
            std::fs::write(
                dir.path().join(format!("files/solo{i}.sh")),
                &text[..user_data],
            )
            .expect("user data");
        }
        std::fs::write(dir.path().join("stack.toml"), toml).expect("stack.toml");
        std::fs::write(
            dir.path().join("env/test.toml"),
            format!("[vars]\ncount = {count}\n"),
        )
        .expect("env file");
        dir
    }

    fn load(dir: &tempfile::TempDir) -> crate::stack::Stack {
        crate::stack::load(dir.path(), Some("test"))
            .unwrap_or_else(|e| panic!("{:#?}", e.diagnostics))
            .stack
    }

    #[test]
    fn a_template_goes_in_the_request_up_to_51200_bytes_then_through_s3() {
        let at = "x".repeat(BODY_LIMIT);
        assert_eq!(delivery("s", &at, 1), Ok(Delivery::Body));
        let over = "x".repeat(BODY_LIMIT + 1);
        assert_eq!(delivery("s", &over, 1), Ok(Delivery::S3));
        let most = "x".repeat(URL_LIMIT);
        assert_eq!(delivery("s", &most, RESOURCE_LIMIT), Ok(Delivery::S3));
    }

    #[test]
    fn over_1_mb_or_500_resources_is_refused_with_the_figures() {
        let e = delivery("big", "{}", RESOURCE_LIMIT + 1).unwrap_err();
        assert_eq!(e.reasons.len(), 1);
        let text = e.to_string();
        assert!(text.contains("stack `big`"), "{text}");
        assert!(text.contains("501 resources"), "{text}");
        assert!(text.contains("at most 500"), "{text}");
        assert!(text.contains("nothing was sent to AWS"), "{text}");

        let e = delivery("big", &"x".repeat(URL_LIMIT + 1), RESOURCE_LIMIT + 7).unwrap_err();
        let text = e.to_string();
        assert_eq!(e.reasons.len(), 2, "{text}");
        assert!(text.contains("1048577 bytes"), "{text}");
        assert!(text.contains("507 resources"), "{text}");
    }

    /// Issue 18: a stack of 501 replicas is counted as the template CloudFormation gets.
    #[test]
    fn a_stack_of_501_instances_is_refused_and_500_are_not() {
        let dir = stack_dir(501, 0, 0);
        let t = crate::cloudformation::template(&load(&dir));
        let e = delivery("big", &body(&t), resources(&t)).unwrap_err();
        assert!(e.to_string().contains("501 resources"), "{e}");

        let dir = stack_dir(500, 0, 0);
        let t = crate::cloudformation::template(&load(&dir));
        assert_eq!(resources(&t), 500);
        assert!(delivery("big", &body(&t), resources(&t)).is_ok());
    }

    /// Issue 18: 80 instances of 15,000 bytes of user data each make a template over 1 MB.
    #[test]
    fn a_template_over_1_mb_is_refused_with_its_size() {
        let dir = stack_dir(0, 80, 15_000);
        let t = crate::cloudformation::template(&load(&dir));
        let sent = body(&t);
        assert!(sent.len() > URL_LIMIT, "{}", sent.len());
        let e = delivery("big", &sent, resources(&t)).unwrap_err();
        assert_eq!(e.reasons.len(), 1, "{e}");
        assert!(
            e.to_string().contains(&format!("{} bytes", sent.len())),
            "{e}"
        );
    }

    #[test]
    fn the_body_sent_has_no_whitespace_between_tokens() {
        let dir = stack_dir(2, 1, 100);
        let t = crate::cloudformation::template(&load(&dir));
        let sent = body(&t);
        assert!(!sent.contains("\n  "), "pretty-printed");
        assert!(!sent.contains("\": "), "pretty-printed");
        assert_eq!(serde_json::from_str::<Json>(&sent).ok(), Some(t));
    }
}

//! The CloudFormation engine at any size (issue 18): a stack whose template is over the
//! 51,200 bytes CloudFormation takes in a request plans, applies, re-plans clean and is
//! destroyed, its template going through S3, with no secret in the bucket.
//!
//! Four instances with large user data of their own (not shared, so not written once)
//! make the template large with few resources, to keep the test fast. Everything runs
//! through `scripts/aws-proxy`, which counts the S3 calls.
//!
//! Leans on the emulator: moto reads a `TemplateURL` from its own S3 by bucket and key
//! (AWS fetches it over HTTPS), accepts bodies over 51,200 bytes too (so only the proxy's
//! counts and the bucket show which way the template went), and serves buckets by path
//! (`force_path_style`, which stackwright sets when an endpoint is given).

use std::collections::BTreeSet;

use aws_sdk_cloudformation::types::TemplateStage;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use stackwright::cloudformation::{self, limits};
use stackwright::provider::aws::s3;

use crate::emulator::{self, Proxy};
use crate::plan::{AMI, Aws, StackDir, TOKEN_VAR, runtime};
use crate::support::text;

const TOKEN: &str = "s3-canary-token-16180";
/// Instances, each with user data of this many bytes.
const INSTANCES: usize = 4;
const USER_DATA: usize = 14_000;

/// A group and [`INSTANCES`] instances, each with [`USER_DATA`] bytes of user data of its
/// own that holds the token.
fn big_stack(name: &str, _zone: &str) -> String {
    let mut out = format!(
        "[stack]\nname = \"{name}\"\nregion = \"us-east-1\"\n\n\
         [secrets]\ntoken = {{ env = \"{TOKEN_VAR}\" }}\n\n\
         [security_group.web]\ndescription = \"web nodes\"\n\
         ingress = [ {{ protocol = \"tcp\", ports = \"80\", cidr = \"0.0.0.0/0\" }} ]\n"
    );
    for i in 0..INSTANCES {
        let mut script = format!("#!/bin/sh\necho 'token=${{secret.token}}' > /etc/node{i}.conf\n");
        let mut n = 0;
        while script.len() < USER_DATA {
            script.push_str(&format!(
                "echo 'node {i} line {n}: padding to make the template large'\n"
            ));
            n += 1;
        }
        out.push_str(&format!(
            "\n[instance.node{i}]\nami = \"{AMI}\"\ninstance_type = \"t2.micro\"\n\
             security_groups = [\"web\"]\nuser_data = \"\"\"{script}\"\"\"\n"
        ));
    }
    out
}

/// An S3 client on the emulator, by path.
async fn s3_client() -> aws_sdk_s3::Client {
    let config = Aws::config().await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

/// The templates bucket of the emulator's account in us-east-1.
async fn bucket() -> String {
    let config = Aws::config().await;
    let me = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    s3::bucket_name(me.account().expect("an account"), "us-east-1")
}

/// The keys under `prefix`.
async fn keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> BTreeSet<String> {
    let out = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("ListObjectsV2");
    out.contents()
        .iter()
        .filter_map(|o| o.key())
        .map(String::from)
        .collect()
}

/// How many times the proxy saw `op`.
fn count(proxy: &Proxy, op: &str) -> u64 {
    proxy.stats()["by_operation"][op].as_u64().unwrap_or(0)
}

#[test]
fn a_template_over_51200_bytes_goes_through_s3_and_its_objects_go_with_the_stack() {
    let s = StackDir::new("cfs3", big_stack);
    let sent = limits::body(&cloudformation::template(&s.load()));
    assert!(sent.len() > limits::BODY_LIMIT, "{} bytes", sent.len());
    assert!(sent.len() < limits::URL_LIMIT, "{} bytes", sent.len());

    let proxy = Proxy::start(emulator::endpoint(), &[]);
    let mut printed = Vec::new();
    let mut run = |command: &str, args: &[&str], code: i32| {
        let mut all = vec!["--engine", "cloudformation"];
        all.extend_from_slice(args);
        let out = s.run_with(command, &all, &[(TOKEN_VAR, TOKEN)], &proxy.endpoint);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(code),
            "{command} {args:?}\n--- stdout\n{stdout}--- stderr\n{stderr}"
        );
        printed.push(format!("{stdout}{stderr}"));
        stdout
    };
    let rt = runtime();
    let s3c = rt.block_on(s3_client());
    let bucket = rt.block_on(bucket());
    let cf_name = format!("{}-{}", s.name, crate::plan::ENV);
    let prefix = format!("{cf_name}/");

    // Plan: the change set is made from the template in S3 (and deleted).
    let plan = run("plan", &["--detailed-exitcode"], 2);
    assert!(
        plan.contains(&format!("Plan: {} to create", INSTANCES + 1)),
        "{plan}"
    );
    assert_eq!(count(&proxy, "PutObject"), 1, "{}", proxy.stats());
    assert_eq!(count(&proxy, "CreateChangeSet"), 1, "{}", proxy.stats());

    // Apply, then a clean re-plan.
    run("apply", &["--yes"], 0);
    let plan = run("plan", &["--detailed-exitcode"], 0);
    assert!(plan.contains("No changes."), "{plan}");
    assert_eq!(count(&proxy, "CreateChangeSet"), 3, "{}", proxy.stats());
    // One object: the same template, the same key (written again, not added).
    assert_eq!(count(&proxy, "PutObject"), 3, "{}", proxy.stats());

    // The template CloudFormation runs is the object in the bucket, named by its digest;
    // no secret in it, and none in any object of the stack.
    let (deployed, objects) = rt.block_on(async {
        let cfn = aws_sdk_cloudformation::Client::new(&Aws::config().await);
        let deployed = cfn
            .get_template()
            .stack_name(&cf_name)
            .template_stage(TemplateStage::Original)
            .send()
            .await
            .expect("GetTemplate")
            .template_body()
            .unwrap_or_default()
            .to_string();
        let mut objects = Vec::new();
        for key in keys(&s3c, &bucket, &prefix).await {
            let body = s3c
                .get_object()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await
                .expect("GetObject")
                .body
                .collect()
                .await
                .expect("the object's body")
                .into_bytes();
            objects.push((key, String::from_utf8(body.to_vec()).expect("UTF-8")));
        }
        (deployed, objects)
    });
    let digest: String = Sha256::digest(deployed.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let keys_found: Vec<&str> = objects.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys_found, [s3::template_key(&cf_name, &digest)]);
    for (key, body) in &objects {
        assert!(
            !body.contains(TOKEN),
            "the secret is in s3://{bucket}/{key}"
        );
        assert!(
            body.len() > limits::BODY_LIMIT,
            "{key}: {} bytes",
            body.len()
        );
        let template: Json = serde_json::from_str(body).expect("a template");
        assert_eq!(template["Parameters"]["SecretToken"]["NoEcho"], true);
    }

    // The bucket: public access blocked, encrypted, tagged.
    rt.block_on(async {
        let block = s3c
            .get_public_access_block()
            .bucket(&bucket)
            .send()
            .await
            .expect("GetPublicAccessBlock");
        let block = block
            .public_access_block_configuration()
            .expect("a public access block");
        assert_eq!(block.block_public_acls(), Some(true));
        assert_eq!(block.ignore_public_acls(), Some(true));
        assert_eq!(block.block_public_policy(), Some(true));
        assert_eq!(block.restrict_public_buckets(), Some(true));
        let encryption = s3c
            .get_bucket_encryption()
            .bucket(&bucket)
            .send()
            .await
            .expect("GetBucketEncryption");
        let rules = encryption
            .server_side_encryption_configuration()
            .expect("encryption")
            .rules();
        assert!(!rules.is_empty());
        let tags = s3c
            .get_bucket_tagging()
            .bucket(&bucket)
            .send()
            .await
            .expect("GetBucketTagging");
        let (k, v) = s3::PURPOSE_TAG;
        assert!(
            tags.tag_set()
                .iter()
                .any(|t| t.key() == k && t.value() == v),
            "{:?}",
            tags.tag_set()
        );
    });

    // Destroy: the stack and its objects go; the bucket stays.
    run("destroy", &["--yes"], 0);
    rt.block_on(async {
        assert!(keys(&s3c, &bucket, &prefix).await.is_empty());
        s3c.head_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("the bucket is left");
    });
    assert!(count(&proxy, "DeleteObject") >= 1, "{}", proxy.stats());
    for out in &printed {
        assert!(!out.contains(TOKEN), "a secret was printed\n{out}");
    }
}

/// Issue 18: a stack over CloudFormation's 500 resources is refused at plan time with the
/// count, and no call reaches AWS (the proxy counts none).
#[test]
fn a_stack_over_500_resources_is_refused_before_any_call() {
    let s = StackDir::new("cfbig", |name, _zone| {
        format!(
            "[stack]\nname = \"{name}\"\nregion = \"us-east-1\"\n\n\
             [instance.node]\ncount = 501\nami = \"{AMI}\"\ninstance_type = \"t2.micro\"\n"
        )
    });
    let proxy = Proxy::start(emulator::endpoint(), &[]);
    for command in ["plan", "apply"] {
        let out = s.run_with(
            command,
            &["--engine", "cloudformation", "--yes"][..if command == "plan" { 2 } else { 3 }],
            &[],
            &proxy.endpoint,
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}\n{stderr}");
        assert!(stderr.contains("501 resources"), "{command}\n{stderr}");
        assert!(
            stderr.contains("nothing was sent to AWS"),
            "{command}\n{stderr}"
        );
    }
    assert_eq!(proxy.stats()["total"], 0, "{}", proxy.stats());

    // Exported all the same, for people, with a warning.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .args(["export", "cloudformation"])
        .arg(s.path())
        .args(["--env", crate::plan::ENV])
        .envs(crate::plan::aws_env_at(&proxy.endpoint))
        .output()
        .expect("run stackwright");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.starts_with("warning: stack"), "{stderr}");
    assert!(stderr.contains("501 resources"), "{stderr}");
    assert!(text(&out.stdout).contains("\"InstanceNode500\""));
}

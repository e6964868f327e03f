//! `export cloudformation` end to end: the exported template, handed to the emulator's
//! CloudFormation through the real SDK, creates the stack.
//!
//! Leans on the emulator: moto creates every resource at once and computes outputs; it
//! does not check a template as strictly as CloudFormation (unknown properties pass). Its
//! `AWS::EC2::KeyPair` is broken (created under a mangled name, listed without its
//! logical id), so the key pair is the one resource not checked here.

use std::collections::BTreeSet;

use aws_sdk_cloudformation::types::{Parameter, StackStatus};
use serde_json::Value as Json;

use crate::plan::{Aws, ENV, PW_VAR, StackDir, TOKEN_VAR, full_stack, runtime};
use crate::support::text;

const PW: &str = "cfn-canary-pw-31337";
const TOKEN: &str = "cfn-canary-token-27182";

#[test]
fn the_exported_template_holds_no_secret_and_cloudformation_creates_the_stack() {
    let s = StackDir::new("cfn", full_stack);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .args(["export", "cloudformation"])
        .arg(s.path())
        .args(["--env", ENV])
        .env(PW_VAR, PW)
        .env(TOKEN_VAR, TOKEN)
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run stackwright");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for secret in [PW, TOKEN] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
    let template: Json = serde_json::from_str(&stdout).expect("the template is JSON");
    let types: BTreeSet<&str> = template["Resources"]
        .as_object()
        .expect("Resources")
        .values()
        .map(|r| r["Type"].as_str().expect("Type"))
        .collect();
    let expected: BTreeSet<&str> = [
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::SecurityGroupIngress",
        "AWS::EC2::KeyPair",
        "AWS::ElasticLoadBalancing::LoadBalancer",
        "AWS::RDS::DBInstance",
        "AWS::EC2::Instance",
        "AWS::Route53::RecordSet",
    ]
    .into();
    assert_eq!(types, expected);
    assert_eq!(template["Parameters"]["SecretPw"]["NoEcho"], true);

    let rt = runtime();
    rt.block_on(async {
        Aws::connect().await.zone(&s.zone).await;
        let config = Aws::config().await;
        let cfn = aws_sdk_cloudformation::Client::new(&config);
        let parameter = |k: &str, v: &str| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        };
        cfn.create_stack()
            .stack_name(&s.name)
            .template_body(&stdout)
            .parameters(parameter("SecretPw", PW))
            .parameters(parameter("SecretToken", TOKEN))
            .send()
            .await
            .expect("CreateStack");
        let stack = cfn
            .describe_stacks()
            .stack_name(&s.name)
            .send()
            .await
            .expect("DescribeStacks");
        let stack = &stack.stacks()[0];
        assert_eq!(
            stack.stack_status(),
            Some(&StackStatus::CreateComplete),
            "{:?}",
            stack.stack_status_reason()
        );
        let resources = cfn
            .describe_stack_resources()
            .stack_name(&s.name)
            .send()
            .await
            .expect("DescribeStackResources");
        let created: BTreeSet<&str> = resources
            .stack_resources()
            .iter()
            .filter_map(|r| r.logical_resource_id())
            .collect();
        for id in [
            "SecurityGroupWeb",
            "SecurityGroupDb",
            "LoadBalancerWeb",
            "DatabaseMain",
            "InstanceWeb0",
            "InstanceWeb1",
            "DnsRecordWww",
        ] {
            assert!(created.contains(id), "{id} not created: {created:?}");
        }
        cfn.delete_stack()
            .stack_name(&s.name)
            .send()
            .await
            .expect("DeleteStack");
    });
}

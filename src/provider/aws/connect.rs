//! Connecting: the clients of every service a stack uses, from the standard chain, with
//! the run's retries, EC2 rate limiters and call counters.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::ProvideCredentials;

use super::{Aws, CallStats, ProviderError, stats, throttle};
use crate::stack::Stack;

/// A connection that closed before its answer came (a response lost on the way) is
/// retried like a 5xx. The SDK retries I/O errors and timeouts but not hyper's "connection
/// closed before message completed", which it reports as an unclassified connector error.
/// Every call stackwright makes is safe to repeat (reads; creates that find what a lost
/// answer made by its tag or token), and RunInstances, which is not, has its retries off.
#[derive(Clone, Copy, Debug)]
struct ConnectionLost;

impl aws_smithy_runtime_api::client::retries::classifiers::ClassifyRetry for ConnectionLost {
    fn classify_retry(
        &self,
        ctx: &aws_smithy_runtime_api::client::interceptors::context::InterceptorContext,
    ) -> aws_smithy_runtime_api::client::retries::classifiers::RetryAction {
        use aws_smithy_runtime_api::client::retries::classifiers::RetryAction;
        match ctx.output_or_error() {
            Some(Err(e)) if e.as_connector_error().is_some() => RetryAction::transient_error(),
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "connection lost"
    }
}

impl Aws {
    /// Connect for `stack`: the standard chain for credentials and profiles; the region
    /// from the env file, else the stack, else `AWS_REGION`; the endpoint from
    /// `AWS_ENDPOINT_URL`, else the env file's `endpoint_url`. Standard retries, ten
    /// attempts, so 5xx answers and other services' throttling are retried with backoff;
    /// EC2's requests go through the run's rate limiters ([`throttle`]), which wait out
    /// throttling.
    pub async fn connect(stack: &Stack) -> Result<Aws, ProviderError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        // The user's AWS_MAX_ATTEMPTS / AWS_RETRY_MODE (or profile settings) win; without
        // them, ten attempts instead of the SDK's three (exponential backoff, capped at 20 s:
        // about two minutes in all): a plan of a large stack should ride out a burst of
        // throttling from ELB, RDS or Route 53, whose limits have no limiter here.
        let configured = ["AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        if !configured {
            loader = loader.retry_config(RetryConfig::standard().with_max_attempts(10));
        }
        if !stack.region.is_empty() {
            loader = loader.region(Region::new(stack.region.clone()));
        }
        let from_env = std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .filter(|v| !v.is_empty());
        if from_env.is_none()
            && let Some(url) = &stack.endpoint_url
        {
            loader = loader.endpoint_url(url);
        }
        // An endpoint of one's own (the emulator) serves buckets by path, not by host name.
        let path_style = from_env.is_some() || stack.endpoint_url.is_some();
        let endpoint = from_env
            .or_else(|| stack.endpoint_url.clone())
            .unwrap_or_else(|| format!("AWS ({})", stack.region));
        let config = loader.load().await;
        let credentials =
            config
                .credentials_provider()
                .ok_or_else(|| ProviderError::NoCredentials {
                    detail: "no credentials provider is configured".into(),
                })?;
        if let Err(e) = credentials.provide_credentials().await {
            return Err(ProviderError::NoCredentials {
                detail: e.to_string(),
            });
        }
        let stats = Arc::new(CallStats::default());
        let interceptor = stats::Counter(stats.clone());
        let limits = Arc::new(throttle::Limits::default());
        let ec2 = aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&config)
                .http_client(throttle::http::client(limits.clone()))
                // A request waiting its turn at the rate limiter has not started its
                // upload: that is not a stalled stream (EC2's bodies are small forms).
                .stalled_stream_protection(
                    aws_sdk_ec2::config::StalledStreamProtectionConfig::enabled()
                        .upload_enabled(false)
                        .build(),
                )
                .retry_classifier(ConnectionLost)
                .interceptor(interceptor.clone())
                .build(),
        );
        let elb = aws_sdk_elasticloadbalancing::Client::from_conf(
            aws_sdk_elasticloadbalancing::config::Builder::from(&config)
                .retry_classifier(ConnectionLost)
                .interceptor(interceptor.clone())
                .build(),
        );
        let rds = aws_sdk_rds::Client::from_conf(
            aws_sdk_rds::config::Builder::from(&config)
                .retry_classifier(ConnectionLost)
                .interceptor(interceptor.clone())
                .build(),
        );
        let route53 = aws_sdk_route53::Client::from_conf(
            aws_sdk_route53::config::Builder::from(&config)
                .retry_classifier(ConnectionLost)
                .interceptor(interceptor.clone())
                .build(),
        );
        let cfn = aws_sdk_cloudformation::Client::from_conf(
            aws_sdk_cloudformation::config::Builder::from(&config)
                .retry_classifier(ConnectionLost)
                .interceptor(interceptor.clone())
                .build(),
        );
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(path_style)
                .retry_classifier(ConnectionLost)
                .interceptor(interceptor.clone())
                .build(),
        );
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&config)
                .retry_classifier(ConnectionLost)
                .interceptor(interceptor)
                .build(),
        );
        let region = config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| stack.region.clone());
        Ok(Aws {
            ec2,
            elb,
            rds,
            route53,
            cfn,
            s3,
            sts,
            region,
            endpoint,
            stats,
            limits,
            terminations: Arc::default(),
            root_devices: Arc::default(),
            other_engine: Arc::default(),
            zones: Arc::default(),
            imports: Arc::default(),
        })
    }

    /// The region the standard chain configures (`AWS_REGION`, the profile), if any.
    pub async fn configured_region() -> Option<String> {
        aws_config::defaults(BehaviorVersion::latest())
            .load()
            .await
            .region()
            .map(ToString::to_string)
    }

    /// Connect to one region (`None`: the configured one) for what is not one stack's:
    /// `stackwright ls` and `destroy --expired`.
    pub async fn connect_region(region: Option<&str>) -> Result<Aws, ProviderError> {
        let stack = Stack {
            name: String::new(),
            env: String::new(),
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
        Aws::connect(&stack).await
    }
}

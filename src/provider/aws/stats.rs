//! Counting AWS calls: an SDK interceptor that records every attempt sent on the wire
//! (retries included), by operation. `--stats` prints it; the benchmark reads it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Calls made, by `service:Operation`.
#[derive(Debug, Default)]
pub struct CallStats {
    calls: Mutex<BTreeMap<String, u64>>,
}

impl CallStats {
    fn record(&self, operation: String) {
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry(operation).or_default() += 1;
        }
    }

    pub fn by_operation(&self) -> BTreeMap<String, u64> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn total(&self) -> u64 {
        self.by_operation().values().sum()
    }
}

#[derive(Clone, Debug)]
pub(super) struct Counter(pub Arc<CallStats>);

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "stackwright-call-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or_else(
            || "unknown".to_string(),
            |m| format!("{}:{}", short_service(m.service()), m.name()),
        );
        self.0.record(operation);
        Ok(())
    }
}

/// `Elastic Load Balancing` → `elb`, `Route 53` → `route53`, `EC2` → `ec2`.
fn short_service(service: &str) -> String {
    match service.to_ascii_lowercase().as_str() {
        "elastic load balancing" => "elb".into(),
        other => other.replace(' ', ""),
    }
}

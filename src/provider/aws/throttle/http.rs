//! The EC2 client's HTTP connector, in front of the SDK's default one: each request waits
//! for its class's limiter, and a throttled answer goes back to the limiter (and the
//! request back in its queue) instead of to the SDK.
//!
//! A throttled request was not carried out, so sending the same signed request again is
//! safe, RunInstances included. A signature is good for five minutes, so after
//! [`RESEND_FOR`] of throttling the answer goes to the SDK, whose retries sign afresh.

use std::sync::Arc;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use tokio::time::Instant;

use super::{Class, Limits, notice};

/// How long one signed request is sent again while AWS throttles it.
const RESEND_FOR: Duration = Duration::from_secs(240);
/// The largest error answer read to tell throttling from other errors.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The SDK's default HTTPS client (rustls, proxy settings from the environment), with
/// each connector wrapped in [`Limited`].
pub(in crate::provider::aws) fn client(limits: Arc<Limits>) -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::{Builder, ConnectorBuilder, tls};
    let inner = Builder::new().build_with_connector_fn(|settings, components| {
        let mut builder = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        builder.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            builder.set_sleep_impl(components.sleep_impl());
        }
        builder.set_proxy_config(Some(ProxyConfig::from_env()));
        builder.build()
    });
    SharedHttpClient::new(LimitedClient { inner, limits })
}

#[derive(Debug)]
struct LimitedClient {
    inner: SharedHttpClient,
    limits: Arc<Limits>,
}

impl HttpClient for LimitedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Limited {
            inner: self.inner.http_connector(settings, components),
            limits: self.limits.clone(),
        })
    }
}

/// A connector whose requests wait for their class's limiter.
#[derive(Debug)]
struct Limited {
    inner: SharedHttpConnector,
    limits: Arc<Limits>,
}

impl HttpConnector for Limited {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let limits = self.limits.clone();
        HttpConnectorFuture::new(async move {
            let action = action(&request).unwrap_or_default();
            let limiter = limits.limiter(Class::of(&action));
            let started = Instant::now();
            let mut told = false;
            loop {
                limiter
                    .acquire(|| {
                        if !told {
                            notice(format!(
                                "waiting for the EC2 rate limit ({action}, {:.1} calls/s)",
                                limiter.rate()
                            ));
                        }
                    })
                    .await;
                told = told || started.elapsed() >= super::REPORTED_WAIT;
                let Some(copy) = request.try_clone() else {
                    return inner.call(request).await;
                };
                let response = inner.call(copy).await?;
                let (throttled, response) = throttled(response).await?;
                if !throttled {
                    limiter.answered();
                    return Ok(response);
                }
                limits.count_throttled(&action);
                limiter.throttled();
                if started.elapsed() >= RESEND_FOR {
                    return Ok(response);
                }
                if !told {
                    notice(format!(
                        "throttled by EC2 ({action}); waiting for the EC2 rate limit ({:.1} calls/s)",
                        limiter.rate()
                    ));
                    told = true;
                }
            }
        })
    }
}

/// The EC2 action of a query-protocol request (`Action=RunInstances&…` in its body).
fn action(request: &HttpRequest) -> Option<String> {
    let body = request.body().bytes()?;
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(String::from)
}

/// Whether AWS throttled the request (`RequestLimitExceeded`, HTTP 503 from EC2, or
/// `Throttling`), and the answer, its body read back in where it had to be read.
async fn throttled(mut response: HttpResponse) -> Result<(bool, HttpResponse), ConnectorError> {
    let status = response.status().as_u16();
    if !matches!(status, 400 | 429 | 503) {
        return Ok((false, response));
    }
    let body = ByteStream::new(response.take_body())
        .collect()
        .await
        .map_err(|e| ConnectorError::io(e.into()))?
        .into_bytes();
    let head = &body[..body.len().min(MAX_ERROR_BODY)];
    let text = String::from_utf8_lossy(head);
    let throttled = ["RequestLimitExceeded", "Throttling", "ThrottlingException"]
        .iter()
        .any(|code| text.contains(&format!("<Code>{code}</Code>")));
    *response.body_mut() = SdkBody::from(body);
    Ok((throttled, response))
}

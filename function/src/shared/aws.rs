//! The AWS configuration every role and CLI shares: one HTTP client, and timeouts that fit
//! a Lambda function's deadline or a CLI's patience.

use std::time::Duration;

/// The SDK's HTTP client: rustls with ring and the system's root certificates. The SDK's
/// default client links aws-lc as well, which doubles the package for nothing a
/// DynamoDB, SQS or EventBridge call needs.
pub fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The AWS configuration of the Lambda functions: the standard environment and profile
/// chain, [`http_client`] and [`sdk_timeouts`].
pub async fn load_aws_config() -> aws_config::SdkConfig {
    load_aws_config_with(sdk_timeouts()).await
}

/// The AWS configuration of the command-line tools: as the functions', with
/// [`cli_timeouts`].
pub async fn load_cli_aws_config() -> aws_config::SdkConfig {
    load_aws_config_with(cli_timeouts()).await
}

async fn load_aws_config_with(
    timeouts: aws_config::timeout::TimeoutConfig,
) -> aws_config::SdkConfig {
    aws_config::from_env()
        .http_client(http_client())
        .timeout_config(timeouts)
        .load()
        .await
}

/// The tools answer to no Lambda deadline: a slow API (a throttled table, an emulator
/// taking 64 concurrent requests) should slow a run down, not fail its events.
pub fn cli_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(60))
        .build()
}

/// SDK timeouts that fit inside the function's: a stalled connection or request fails
/// fast and is retried by the SDK (3 attempts), and no one DynamoDB operation outlasts
/// 3 s, so the handler reports a typed error before Lambda's timeout (10 s by default)
/// would kill the sandbox. See docs/deployment-package.md, "Timeouts", for the budget.
pub fn sdk_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(500))
        .operation_attempt_timeout(Duration::from_secs(1))
        .operation_timeout(Duration::from_secs(3))
        .build()
}

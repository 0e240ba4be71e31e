//! The notifier Lambda: the table's stream (status changes) and the grace-period queue in,
//! announcements on EventBridge out. Answers with the failed records
//! (`ReportBatchItemFailures`), so Lambda retries only those.

use iot_connectivity::notifier::{BatchResponse, Notifier, NotifierConfig};
use iot_connectivity::processor::load_aws_config;
use lambda_runtime::tracing::error;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    iot_connectivity::logging::init(std::io::stdout);
    let config =
        NotifierConfig::from_env().inspect_err(|err| error!(error = %err, "cannot start"))?;
    let aws = load_aws_config().await;
    let notifier = Notifier::new(&aws, config);
    let notifier = &notifier;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Boxed, as in bootstrap: the SDK futures are deep.
        let response: BatchResponse = Box::pin(notifier.handle(&event.payload)).await;
        Ok::<_, Error>(response)
    }))
    .await
}

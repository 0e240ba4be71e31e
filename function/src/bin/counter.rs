//! The counter Lambda: the table's stream (status changes and removals) in, tallies and
//! counter shards out; on its schedule, the `ConnectedDevices` metric. Answers stream
//! batches with the failed record (`ReportBatchItemFailures`), so Lambda retries from it.

use iot_connectivity::counter::{Counter, CounterConfig};
use iot_connectivity::notifier::BatchResponse;
use iot_connectivity::processor::load_aws_config;
use lambda_runtime::tracing::error;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    iot_connectivity::logging::init(std::io::stdout);
    let config =
        CounterConfig::from_env().inspect_err(|err| error!(error = %err, "cannot start"))?;
    let aws = load_aws_config().await;
    let counter = Counter::new(aws_sdk_dynamodb::Client::new(&aws), config);
    let counter = &counter;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Boxed, as in bootstrap: the SDK futures are deep.
        let response: BatchResponse = Box::pin(counter.handle(&event.payload))
            .await
            .inspect_err(|err| error!(error = %err, "the count was not published"))?;
        Ok::<_, Error>(response)
    }))
    .await
}

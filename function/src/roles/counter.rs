//! The counter role: the table's stream (status changes and removals) in, tallies and
//! counter shards out; on its schedule, the `ConnectedDevices` metric. Answers stream
//! batches with the failed record (`ReportBatchItemFailures`), so Lambda retries from it.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tracing::error;

use crate::count::counter::{Counter, CounterConfig};
use crate::shared::aws::load_aws_config;
use crate::shared::stream::BatchResponse;

pub async fn run() -> Result<(), Error> {
    let config =
        CounterConfig::from_env().inspect_err(|err| error!(error = %err, "cannot start"))?;
    let aws = load_aws_config().await;
    let counter = Counter::new(aws_sdk_dynamodb::Client::new(&aws), config);
    let counter = &counter;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Boxed, as in the notifier role: the SDK futures are deep.
        let response: BatchResponse = Box::pin(counter.handle(&event.payload))
            .await
            .inspect_err(|err| error!(error = %err, "the count was not published"))?;
        Ok::<_, Error>(response)
    }))
    .await
}

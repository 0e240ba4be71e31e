//! The notifier role: the table's stream (status changes) and the grace-period queue in,
//! announcements on EventBridge out. Answers with the failed records
//! (`ReportBatchItemFailures`), so Lambda retries only those.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tracing::error;

use crate::notifier::{BatchResponse, Notifier, NotifierConfig};
use crate::processor::load_aws_config;

pub async fn run() -> Result<(), Error> {
    let config =
        NotifierConfig::from_env().inspect_err(|err| error!(error = %err, "cannot start"))?;
    let aws = load_aws_config().await;
    let notifier = Notifier::new(&aws, config);
    let notifier = &notifier;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Boxed: the SDK's futures are deep enough to overflow the compiler's layout
        // recursion limit once nested in the runtime's.
        let response: BatchResponse = Box::pin(notifier.handle(&event.payload)).await;
        Ok::<_, Error>(response)
    }))
    .await
}

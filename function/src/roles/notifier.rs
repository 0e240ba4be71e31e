//! The notifier role: the table's stream (status changes) and the grace-period queue in,
//! announcements on EventBridge out. Answers with the failed records
//! (`ReportBatchItemFailures`), so Lambda retries only those.

use std::time::{Duration, Instant};

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tracing::error;

use crate::announcements::notifier::{Notifier, NotifierConfig};
use crate::shared::aws::load_aws_config;
use crate::shared::stream::BatchResponse;

pub async fn run() -> Result<(), Error> {
    let config =
        NotifierConfig::from_env().inspect_err(|err| error!(error = %err, "cannot start"))?;
    let aws = load_aws_config().await;
    let notifier = Notifier::new(&aws, config);
    let notifier = &notifier;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Boxed: the SDK's futures are deep enough to overflow the compiler's layout
        // recursion limit once nested in the runtime's.
        let stop_at = stop_at(event.context.deadline);
        let response: BatchResponse = Box::pin(notifier.handle(&event.payload, stop_at)).await;
        Ok::<_, Error>(response)
    }))
    .await
}

/// Time kept back from the invocation's deadline: a batch of looks started before it (a
/// read, a claim, a PutEvents with its retries, a confirmation) ends before the deadline.
const LOOK_MARGIN: Duration = Duration::from_secs(8);

/// When to start no more looks: `LOOK_MARGIN` before the deadline (epoch milliseconds).
fn stop_at(deadline_ms: u64) -> Instant {
    let now = crate::shared::time::since_epoch();
    let left = Duration::from_millis(deadline_ms).saturating_sub(now);
    Instant::now() + left.saturating_sub(LOOK_MARGIN)
}

//! The pager role: the pages queue (announcements from EventBridge, and its own delayed
//! looks) and the scheduled pass in, PagerDuty's Events API out. Answers with the failed
//! records (`ReportBatchItemFailures`), so SQS delivers only those again.

use std::time::{Duration, Instant};

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tracing::error;

use crate::paging::pager::{Pager, PagerConfig};
use crate::shared::aws::load_aws_config;
use crate::shared::stream::BatchResponse;

/// Time kept back from the invocation's deadline: a look started before it (reads, a
/// claim, a post of up to 10 s, a settle) ends before the deadline.
const LOOK_MARGIN: Duration = Duration::from_secs(15);

pub async fn run() -> Result<(), Error> {
    let config = PagerConfig::from_env().inspect_err(|err| error!(error = %err, "cannot start"))?;
    let aws = load_aws_config().await;
    let pager = Pager::new(&aws, config);
    let pager = &pager;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = crate::shared::time::since_epoch();
        let left = Duration::from_millis(event.context.deadline).saturating_sub(now);
        let stop_at = Instant::now() + left.saturating_sub(LOOK_MARGIN);
        let response: BatchResponse = Box::pin(pager.handle(&event.payload, stop_at)).await;
        Ok::<_, Error>(response)
    }))
    .await
}

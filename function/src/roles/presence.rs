//! The presence role: one lifecycle event per invocation (the IoT rule invokes it
//! asynchronously, so a returned error is retried and then sent to the failure destination).

use std::time::Duration;

use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde_json::Value;
use tracing::error;

use crate::ingest::processor::{Config, Outcome, Processor};
use crate::presence::store::StoreError;
use crate::shared::aws::load_aws_config;

/// Time kept back from the invocation's deadline to report a typed error: a function
/// that answers keeps its warm sandbox, one that Lambda times out loses it.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// Stable `errorType` values for the failure destination and metrics filters.
#[derive(Debug)]
enum HandlerError {
    Store(StoreError),
    Deadline(Duration),
}

impl From<HandlerError> for Diagnostic {
    fn from(err: HandlerError) -> Self {
        let (error_type, error_message) = match err {
            HandlerError::Store(err) => {
                let error_type = match err {
                    StoreError::DynamoDb { .. } => "StoreError.DynamoDb",
                    StoreError::Contention { .. } => "StoreError.Contention",
                };
                (error_type, err.to_string())
            }
            HandlerError::Deadline(budget) => (
                "Handler.DeadlineExceeded",
                format!("the event was not stored within {budget:?} of the invocation's time"),
            ),
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message,
        }
    }
}

#[derive(serde::Serialize)]
struct Response {
    outcome: Outcome,
}

pub async fn run() -> Result<(), Error> {
    let config = Config::from_env(None).inspect_err(|err| error!(error = %err, "cannot start"))?;
    // Built once per sandbox; credentials resolve lazily on the first request, so
    // nothing here waits on the network (cold start stays in single-digit ms).
    let aws = load_aws_config().await;
    let processor = Processor::new(aws_sdk_dynamodb::Client::new(&aws), config);
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let budget = time_left(event.context.deadline).saturating_sub(DEADLINE_MARGIN);
        // Boxed: the SDK's futures are deep enough to overflow the compiler's layout
        // recursion limit once nested in the runtime's.
        let processing = Box::pin(processor.process(&event.payload));
        let outcome = match tokio::time::timeout(budget, processing).await {
            Ok(result) => result.map_err(HandlerError::Store)?,
            Err(_) => {
                error!(outcome = "failed", payload = %event.payload, "lifecycle event not stored: deadline");
                return Err(HandlerError::Deadline(budget));
            }
        };
        Ok::<_, HandlerError>(Response { outcome })
    }))
    .await
}

/// Time until the invocation's deadline (epoch milliseconds).
fn time_left(deadline_ms: u64) -> Duration {
    Duration::from_millis(deadline_ms).saturating_sub(crate::shared::time::since_epoch())
}

//! The Lambda function: one lifecycle event per invocation (the IoT rule invokes it
//! asynchronously, so a returned error is retried and then sent to the failure destination).

use iot_connectivity::processor::{Config, Outcome, Processor};
use iot_connectivity::store::StoreError;
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde_json::Value;

/// Stable `errorType` values for the failure destination and metrics filters.
#[derive(Debug)]
struct HandlerError(StoreError);

impl From<HandlerError> for Diagnostic {
    fn from(HandlerError(err): HandlerError) -> Self {
        let error_type = match err {
            StoreError::DynamoDb { .. } => "StoreError.DynamoDb",
            StoreError::Contention { .. } => "StoreError.Contention",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}

#[derive(serde::Serialize)]
struct Response {
    outcome: Outcome,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = Config::from_env(None)
        .inspect_err(|err| lambda_runtime::tracing::error!(error = %err, "cannot start"))?;
    // Built once per sandbox; credentials resolve lazily on the first request, so
    // nothing here waits on the network (cold start stays in single-digit ms).
    let aws = aws_config::load_from_env().await;
    let processor = Processor::new(aws_sdk_dynamodb::Client::new(&aws), config);
    let processor = &processor;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Boxed: the SDK's futures are deep enough to overflow the compiler's layout
        // recursion limit once nested in the runtime's.
        let outcome = Box::pin(processor.process(&event.payload))
            .await
            .map_err(HandlerError)?;
        Ok::<_, HandlerError>(Response { outcome })
    }))
    .await
}

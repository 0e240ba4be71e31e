//! The view role (`examples/complete`'s consumer): announcements from an SQS queue that an
//! EventBridge rule delivers to, applied by sequence to the table `VIEW_TABLE_NAME`.
//! Answers with the records whose write failed (`ReportBatchItemFailures`), so only those
//! come back; a malformed record is logged and skipped, since retrying cannot mend it.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tracing::{error, info, warn};

use crate::announcements::view::{apply, parse};
use crate::shared::aws::load_aws_config;
use crate::shared::stream::{BatchResponse, ItemFailure};

pub async fn run() -> Result<(), Error> {
    let table = std::env::var("VIEW_TABLE_NAME")
        .ok()
        .filter(|name| !name.is_empty())
        .ok_or("VIEW_TABLE_NAME is not set")
        .inspect_err(|err| error!(error = %err, "cannot start"))?;
    let client = aws_sdk_dynamodb::Client::new(&load_aws_config().await);
    let (client, table) = (&client, table.as_str());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(Box::pin(handle(client, table, &event.payload)).await)
    }))
    .await
}

async fn handle(client: &aws_sdk_dynamodb::Client, table: &str, payload: &Value) -> BatchResponse {
    let mut response = BatchResponse::default();
    let records = payload["Records"].as_array().cloned().unwrap_or_default();
    for record in &records {
        let announcement = match parse(record["body"].as_str().unwrap_or_default()) {
            Ok(announcement) => announcement,
            Err(err) => {
                warn!(error = %err, "skipped");
                continue;
            }
        };
        match apply(client, table, &announcement).await {
            Ok(applied) => info!(
                clientId = announcement.client_id,
                sequence = announcement.sequence,
                applied = ?applied,
                "announcement read"
            ),
            Err(err) => {
                error!(error = %err, "not applied: delivered again");
                response.batch_item_failures.push(ItemFailure {
                    item_identifier: record["messageId"].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
    }
    response
}

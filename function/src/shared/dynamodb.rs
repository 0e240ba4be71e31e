//! The DynamoDB kit every pipeline's store uses: the error of a failed call (with the SDK's
//! error as its source, and the service's code, so a caller can tell throttling from
//! denial), number attributes, and item expiry.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::shared::time::since_epoch;
use crate::shared::Item;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} on table {table} for client {client_id} failed: {message}")]
    DynamoDb {
        operation: &'static str,
        table: String,
        client_id: String,
        message: String,
        /// The service's error code (`ProvisionedThroughputExceededException`,
        /// `AccessDeniedException`, ...), or None when the call never got an answer.
        code: Option<String>,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("client {client_id}: item kept changing under {attempts} conditional writes")]
    Contention { client_id: String, attempts: usize },
}

impl StoreError {
    /// The error of `operation` on `table` for `client_id`, from the SDK's.
    pub fn dynamodb<E, R>(
        operation: &'static str,
        table: &str,
        client_id: &str,
        err: SdkError<E, R>,
    ) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        StoreError::DynamoDb {
            operation,
            table: table.to_owned(),
            client_id: client_id.to_owned(),
            message: error_message(&err),
            code: err.code().map(str::to_owned),
            source: Box::new(err),
        }
    }

    /// Whether DynamoDB refused the call for throughput (worth retrying later).
    pub fn is_throttling(&self) -> bool {
        matches!(self, StoreError::DynamoDb { code: Some(code), .. }
            if code == "ProvisionedThroughputExceededException"
                || code == "ThrottlingException"
                || code == "RequestLimitExceeded")
    }
}

/// A DynamoDB error as one line: the service's code and message, or what went wrong on
/// the way (timeout, connection, credentials).
pub fn error_message<E, R>(err: &SdkError<E, R>) -> String
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(failure) => {
            let meta = failure.err().meta();
            format!(
                "{}: {}",
                meta.code().unwrap_or("unknown error"),
                meta.message().unwrap_or("no message")
            )
        }
        other => DisplayErrorContext(other).to_string(),
    }
}

/// A DynamoDB number.
pub fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A number attribute of an item, parsed; None when it is absent or not a `T`.
pub fn number_attr<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// Epoch seconds at which an item written now may expire.
pub fn expiry(ttl: Duration) -> u64 {
    (since_epoch() + ttl).as_secs()
}

/// Placeholders for an expression. DynamoDB rejects unused ones, so each is added only
/// when the expression text uses it.
#[derive(Default)]
pub(crate) struct Expression {
    pub(crate) names: HashMap<String, String>,
    pub(crate) values: HashMap<String, AttributeValue>,
}

impl Expression {
    pub(crate) fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{attribute}");
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    pub(crate) fn value(&mut self, key: &str, value: AttributeValue) -> String {
        let placeholder = format!(":{key}");
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub(crate) fn assign(&mut self, attribute: &str, value: AttributeValue) -> String {
        format!(
            "{} = {}",
            self.name(attribute),
            self.value(attribute, value)
        )
    }
}

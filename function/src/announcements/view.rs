//! A consumer of the announcements, as the docs tell consumers to be: each device's latest
//! announced status kept in a table of its own, an announcement applied only if its
//! `sequence` is above the one applied last (one conditional write), so EventBridge's
//! unordered, repeated delivery leaves the table on the newest. `examples/complete` runs
//! it (the `view` role) behind a queue its rule delivers to.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::shared::dynamodb::{error_message, number};

/// The view table's attributes (hash key `ClientID`).
pub mod attr {
    pub const CLIENT_ID: &str = "ClientID";
    pub const STATUS: &str = "Status";
    pub const SEQUENCE: &str = "Sequence";
    pub const EVENT_ID: &str = "EventId";
    /// The announcement's `reason`, for a removed device.
    pub const REASON: &str = "Reason";
}

/// What the view keeps of one announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub client_id: String,
    pub status: String,
    pub sequence: u64,
    pub event_id: String,
    pub reason: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("not an announcement ({0}): {1}")]
    Malformed(&'static str, String),
    #[error(
        "DynamoDB UpdateItem of the view table {table} for client {client_id} failed: {message}"
    )]
    DynamoDb {
        table: String,
        client_id: String,
        message: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// An announcement from the EventBridge event `body` (JSON, as an SQS target receives it).
pub fn parse(body: &str) -> Result<Announcement, ViewError> {
    let event: Value = serde_json::from_str(body)
        .map_err(|err| ViewError::Malformed("not JSON", err.to_string()))?;
    let detail = &event["detail"];
    let text = |name: &'static str| {
        detail[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ViewError::Malformed(name, body.chars().take(200).collect()))
    };
    Ok(Announcement {
        client_id: text("clientId")?,
        status: text("status")?,
        // Announcements put before sequences existed carry none: 0, older than any other.
        sequence: match &detail["sequence"] {
            Value::Null => 0,
            sequence => sequence.as_u64().ok_or_else(|| {
                ViewError::Malformed("sequence", body.chars().take(200).collect())
            })?,
        },
        event_id: text("eventId")?,
        reason: detail["reason"].as_str().map(str::to_owned),
    })
}

/// What applying an announcement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Newer than what the view held: it holds this now.
    Newer,
    /// Not newer (a late or repeated delivery): left as it was.
    Stale,
}

/// Applies `announcement` to the view `table` if its sequence is above the stored one.
pub async fn apply(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    announcement: &Announcement,
) -> Result<Applied, ViewError> {
    let mut update = client
        .update_item()
        .table_name(table)
        .key(
            attr::CLIENT_ID,
            AttributeValue::S(announcement.client_id.clone()),
        )
        .update_expression(if announcement.reason.is_some() {
            "SET #status = :status, #sequence = :sequence, #eventId = :eventId, #reason = :reason"
        } else {
            "SET #status = :status, #sequence = :sequence, #eventId = :eventId REMOVE #reason"
        })
        .condition_expression("attribute_not_exists(#sequence) OR #sequence < :sequence")
        .expression_attribute_names("#status", attr::STATUS)
        .expression_attribute_names("#sequence", attr::SEQUENCE)
        .expression_attribute_names("#eventId", attr::EVENT_ID)
        .expression_attribute_names("#reason", attr::REASON)
        .expression_attribute_values(":status", AttributeValue::S(announcement.status.clone()))
        .expression_attribute_values(":sequence", number(announcement.sequence))
        .expression_attribute_values(":eventId", AttributeValue::S(announcement.event_id.clone()));
    if let Some(reason) = &announcement.reason {
        update = update.expression_attribute_values(":reason", AttributeValue::S(reason.clone()));
    }
    match update.send().await {
        Ok(_) => Ok(Applied::Newer),
        Err(err) if err.code() == Some("ConditionalCheckFailedException") => Ok(Applied::Stale),
        Err(err) => Err(ViewError::DynamoDb {
            table: table.to_owned(),
            client_id: announcement.client_id.clone(),
            message: error_message(&err),
            source: Box::new(err),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_parse_from_their_events_and_malformed_ones_say_why() {
        let body = r#"{"detail-type": "Device Disconnected", "detail": {"clientId": "a/b",
            "status": "Disconnected", "sequence": 1796300676367, "eventId": "e", "reason": "ITEM_DELETED"}}"#;
        let announcement = parse(body).unwrap();
        assert_eq!(announcement.sequence, 1_796_300_676_367);
        assert_eq!(announcement.reason.as_deref(), Some("ITEM_DELETED"));
        let unsequenced = r#"{"detail": {"clientId": "a", "status": "Connected", "eventId": "e"}}"#;
        assert_eq!(parse(unsequenced).unwrap().sequence, 0);
        let garbled = r#"{"detail": {"clientId": "a", "status": "Connected", "eventId": "e", "sequence": "x"}}"#;
        assert!(matches!(
            parse(garbled),
            Err(ViewError::Malformed("sequence", _))
        ));
        assert!(matches!(
            parse("{"),
            Err(ViewError::Malformed("not JSON", _))
        ));
    }
}

//! The notifier's glue: the table's stream and the grace-period queue in, announcements on
//! EventBridge out ([`crate::announce`] decides, [`crate::store`] records).
//!
//! One invocation carries a batch of either kind of record. Stream records are handled in
//! order and the first failure stops the batch (Lambda retries from it:
//! `ReportBatchItemFailures`); queue messages are independent, and only the failed ones are
//! reported. A malformed record is logged and skipped: retrying cannot mend it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Map, Value};
use tracing::{error, info, warn};

use crate::announce::{claim, due, on_change, Claim, Due, OnChange, Transition, MAX_DELAY_SECONDS};
use crate::ordering::Presence;
use crate::store::{attr, snapshot_of, Item, Store, StoreError};

/// The schema version of an announcement's `detail`.
pub const DETAIL_VERSION: &str = "1";

/// Settings read from the environment the module gives the notifier.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    pub table_name: String,
    pub event_bus_name: String,
    pub event_source: String,
    pub grace_period: Duration,
    pub grace_queue_url: String,
    /// Where announcement metrics go (EMF on stdout); None: no metrics.
    pub metrics: Option<crate::metrics::MetricsConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifierConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("GRACE_PERIOD_SECONDS must be a whole number of seconds, got {0:?}")]
    InvalidGracePeriod(String),
}

impl NotifierConfig {
    /// Reads `TABLE_NAME`, `EVENT_BUS_NAME`, `EVENT_SOURCE`, `GRACE_PERIOD_SECONDS` and
    /// `GRACE_QUEUE_URL`.
    pub fn from_env() -> Result<Self, NotifierConfigError> {
        let var = |name: &'static str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.is_empty())
                .ok_or(NotifierConfigError::Missing(name))
        };
        let grace = var("GRACE_PERIOD_SECONDS")?;
        Ok(Self {
            table_name: var("TABLE_NAME")?,
            event_bus_name: var("EVENT_BUS_NAME")?,
            event_source: var("EVENT_SOURCE")?,
            grace_period: Duration::from_secs(
                grace
                    .parse()
                    .map_err(|_| NotifierConfigError::InvalidGracePeriod(grace.clone()))?,
            ),
            grace_queue_url: var("GRACE_QUEUE_URL")?,
            metrics: crate::metrics::MetricsConfig::from_env(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("EventBridge PutEvents for client {client_id} failed: {message}")]
    PutEvents { client_id: String, message: String },
    #[error("SQS SendMessage of the grace check for client {client_id} failed: {message}")]
    Schedule { client_id: String, message: String },
    #[error("client {client_id}: no decision after {attempts} attempts (the item kept changing)")]
    Contention { client_id: String, attempts: usize },
}

/// The answer Lambda reads with `ReportBatchItemFailures`.
#[derive(Debug, Default, serde::Serialize, PartialEq, Eq)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, serde::Serialize, PartialEq, Eq)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

const MAX_ATTEMPTS: usize = 8;

pub struct Notifier {
    store: Store,
    events: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
    config: NotifierConfig,
}

impl Notifier {
    pub fn new(aws: &aws_config::SdkConfig, config: NotifierConfig) -> Self {
        Self {
            store: Store::new(
                aws_sdk_dynamodb::Client::new(aws),
                config.table_name.clone(),
                None,
            ),
            events: aws_sdk_eventbridge::Client::new(aws),
            sqs: aws_sdk_sqs::Client::new(aws),
            config,
        }
    }

    pub async fn handle(&self, payload: &Value) -> BatchResponse {
        let mut response = BatchResponse::default();
        let Some(records) = payload.get("Records").and_then(Value::as_array) else {
            warn!(%payload, "not a stream or queue batch: skipped");
            return response;
        };
        for record in records {
            match record.get("eventSource").and_then(Value::as_str) {
                Some("aws:dynamodb") => {
                    if let Err(err) = self.on_stream_record(record).await {
                        let sequence = record["dynamodb"]["SequenceNumber"].as_str();
                        error!(error = %err, sequenceNumber = sequence, "stream record failed");
                        if let Some(sequence) = sequence {
                            response.batch_item_failures.push(ItemFailure {
                                item_identifier: sequence.to_owned(),
                            });
                        }
                        break; // in order: Lambda retries from this record
                    }
                }
                Some("aws:sqs") => {
                    if let Err(err) = self.on_grace_check(record).await {
                        let message_id = record["messageId"].as_str().unwrap_or_default();
                        error!(error = %err, messageId = message_id, "grace check failed");
                        response.batch_item_failures.push(ItemFailure {
                            item_identifier: message_id.to_owned(),
                        });
                    }
                }
                _ => warn!(%record, "record of an unknown source: skipped"),
            }
        }
        response
    }

    async fn on_stream_record(&self, record: &Value) -> Result<(), NotifierError> {
        let dynamodb = &record["dynamodb"];
        let Some(client_id) = dynamodb["Keys"]["ClientID"]["S"].as_str() else {
            warn!(%record, "stream record without a ClientID key: skipped");
            return Ok(());
        };
        let old = item_of(&dynamodb["OldImage"]);
        let new = item_of(&dynamodb["NewImage"]);
        let old_status = snapshot_of(&old).status;
        match on_change(client_id, old_status, &snapshot_of(&new)) {
            OnChange::Announce(transition) => self.announce(&transition).await,
            OnChange::CheckLater(transition) if self.config.grace_period.is_zero() => {
                self.announce(&transition).await
            }
            OnChange::CheckLater(transition) => {
                let due_at = now_ms() + self.config.grace_period.as_millis() as i64;
                let delay = self.config.grace_period.as_secs().min(MAX_DELAY_SECONDS);
                self.schedule(&transition, due_at, delay).await
            }
            OnChange::Nothing => Ok(()),
        }
    }

    async fn on_grace_check(&self, record: &Value) -> Result<(), NotifierError> {
        let Some(check) = record["body"]
            .as_str()
            .and_then(|body| serde_json::from_str::<GraceCheck>(body).ok())
        else {
            warn!(%record, "not a grace check: skipped");
            return Ok(());
        };
        let transition = Transition {
            client_id: check.client_id,
            status: Presence::Disconnected,
            at: check.at,
        };
        match due(check.due_at, now_ms()) {
            // Longer than SQS's longest delay: wait again.
            Due::Later { delay_seconds } => {
                self.schedule(&transition, check.due_at, delay_seconds)
                    .await
            }
            Due::Now => self.announce(&transition).await,
        }
    }

    async fn schedule(
        &self,
        transition: &Transition,
        due_at: i64,
        delay_seconds: u64,
    ) -> Result<(), NotifierError> {
        let check = GraceCheck {
            client_id: transition.client_id.clone(),
            at: transition.at,
            due_at,
        };
        self.sqs
            .send_message()
            .queue_url(&self.config.grace_queue_url)
            .message_body(serde_json::to_string(&check).expect("a check serializes"))
            .delay_seconds(delay_seconds as i32)
            .send()
            .await
            .map_err(|err| NotifierError::Schedule {
                client_id: transition.client_id.clone(),
                message: aws_sdk_sqs::error::DisplayErrorContext(err).to_string(),
            })?;
        info!(
            clientId = transition.client_id,
            disconnectTime = transition.at,
            dueAt = due_at,
            "disconnect: checking again after the grace period"
        );
        Ok(())
    }

    /// Decides against the item as it is, records, puts and confirms; see [`claim`].
    async fn announce(&self, transition: &Transition) -> Result<(), NotifierError> {
        let client_id = &transition.client_id;
        for _ in 0..MAX_ATTEMPTS {
            let Some(item) = self.store.get(client_id).await? else {
                return Ok(()); // deleted (TTL): nothing to announce
            };
            match claim(&snapshot_of(&item), transition) {
                Claim::Nothing => return Ok(()),
                Claim::ResumePending => {
                    let detail = text(&item, attr::ANNOUNCEMENT_DETAIL).unwrap_or_default();
                    let event_id = text(&item, attr::ANNOUNCEMENT_ID).unwrap_or_default();
                    self.put(client_id, &detail).await?;
                    self.store
                        .confirm_announcement(client_id, &event_id)
                        .await?;
                }
                Claim::Announce => {
                    let detail = detail_of(&item, transition).to_string();
                    if self.store.claim_announcement(transition, &detail).await? {
                        self.put(client_id, &detail).await?;
                        self.store
                            .confirm_announcement(client_id, &transition.event_id())
                            .await?;
                        return Ok(());
                    }
                }
            }
        }
        Err(NotifierError::Contention {
            client_id: client_id.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }

    async fn put(&self, client_id: &str, detail: &str) -> Result<(), NotifierError> {
        let fields: Value = serde_json::from_str(detail).unwrap_or_default();
        let detail_type = detail_type(fields["status"].as_str() == Some("Connected"));
        let failure = |message: String| NotifierError::PutEvents {
            client_id: client_id.to_owned(),
            message,
        };
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source(&self.config.event_source)
            .detail_type(detail_type)
            .detail(detail)
            .event_bus_name(&self.config.event_bus_name)
            .build();
        let output = self
            .events
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|err| {
                failure(aws_sdk_eventbridge::error::DisplayErrorContext(err).to_string())
            })?;
        if output.failed_entry_count() > 0 {
            let entry = output.entries().first();
            return Err(failure(format!(
                "{}: {}",
                entry.and_then(|e| e.error_code()).unwrap_or("unknown"),
                entry
                    .and_then(|e| e.error_message())
                    .unwrap_or("no message")
            )));
        }
        info!(
            clientId = client_id,
            eventId = fields["eventId"].as_str(),
            detailType = detail_type,
            "announced"
        );
        if let Some(metrics) = &self.config.metrics {
            crate::metrics::emit(
                metrics,
                &[crate::metrics::Directive {
                    dimensions: &[("DetailType", detail_type)],
                    metrics: &[crate::metrics::Metric::count("Announcements", 1.0)],
                }],
            );
        }
        Ok(())
    }
}

pub fn detail_type(connected: bool) -> &'static str {
    if connected {
        "Device Connected"
    } else {
        "Device Disconnected"
    }
}

/// A message on the grace-period queue.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraceCheck {
    client_id: String,
    /// `timestamp` of the disconnect to check.
    at: i64,
    /// Wall-clock ms after which the check is due.
    due_at: i64,
}

/// The announcement's `detail`: the newest connect and disconnect as stored.
pub fn detail_of(item: &Item, transition: &Transition) -> Value {
    let connect = fields(
        item,
        &[
            ("versionNumber", attr::CONNECT_VERSION),
            ("timestamp", attr::CONNECT_TIME),
            ("sessionIdentifier", attr::SESSION_IDENTIFIER),
            ("principalIdentifier", attr::PRINCIPAL_IDENTIFIER),
            ("ipAddress", attr::IP_ADDRESS),
            ("thingName", attr::THING_NAME),
        ],
    );
    let disconnect = fields(
        item,
        &[
            ("versionNumber", attr::DISCONNECT_VERSION),
            ("timestamp", attr::DISCONNECT_TIME),
            ("disconnectReason", attr::DISCONNECT_REASON),
            (
                "clientInitiatedDisconnect",
                attr::CLIENT_INITIATED_DISCONNECT,
            ),
        ],
    );
    let mut detail = json!({
        "version": DETAIL_VERSION,
        "eventId": transition.event_id(),
        "clientId": transition.client_id,
        "status": transition.status.status(),
        "connect": connect,
        "disconnect": disconnect,
    });
    if transition.status == Presence::Connected {
        // A return: the last announcement said Disconnected (null for a first sighting).
        let returning = text(item, attr::ANNOUNCED_STATUS).as_deref() == Some("Disconnected");
        let offline = disconnect["timestamp"]
            .as_i64()
            .filter(|&at| returning && at < transition.at)
            .map(|at| transition.at - at);
        detail["offlineDurationMs"] = json!(offline);
    }
    detail
}

fn fields(item: &Item, names: &[(&str, &str)]) -> Value {
    let mut map = Map::new();
    for (key, attribute) in names {
        let value = match item.get(*attribute) {
            Some(AttributeValue::S(text)) => json!(text),
            Some(AttributeValue::N(number)) => number
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| json!(number)),
            Some(AttributeValue::Bool(flag)) => json!(flag),
            _ => continue,
        };
        map.insert((*key).to_owned(), value);
    }
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name)?.as_s().ok().cloned()
}

/// A stream image (DynamoDB JSON) as an item; attribute types other than S, N and BOOL
/// are left out (the item has none).
pub fn item_of(image: &Value) -> Item {
    let mut item = Item::new();
    if let Some(attributes) = image.as_object() {
        for (name, value) in attributes {
            let attribute = if let Some(text) = value["S"].as_str() {
                AttributeValue::S(text.to_owned())
            } else if let Some(number) = value["N"].as_str() {
                AttributeValue::N(number.to_owned())
            } else if let Some(flag) = value["BOOL"].as_bool() {
                AttributeValue::Bool(flag)
            } else {
                continue;
            };
            item.insert(name.clone(), attribute);
        }
    }
    item
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_images_read_as_items() {
        let image = json!({"ClientID": {"S": "a"}, "ConnectTime": {"N": "5"},
                           "ClientInitiatedDisconnect": {"BOOL": false}, "Tags": {"SS": ["x"]}});
        let item = item_of(&image);
        assert_eq!(item.len(), 3);
        assert_eq!(item["ConnectTime"], AttributeValue::N("5".into()));
    }

    #[test]
    fn a_return_says_how_long_the_device_was_offline() {
        let item = item_of(&json!({
            "ClientID": {"S": "a"}, "Status": {"S": "Connected"},
            "ConnectVersionNum": {"N": "3"}, "ConnectTime": {"N": "9000"},
            "DisconnectVersionNum": {"N": "2"}, "DisconnectTime": {"N": "4000"},
            "DisconnectReason": {"S": "CONNECTION_LOST"}, "AnnouncedStatus": {"S": "Disconnected"}
        }));
        let transition = Transition {
            client_id: "a".into(),
            status: Presence::Connected,
            at: 9000,
        };
        let detail = detail_of(&item, &transition);
        assert_eq!(detail["offlineDurationMs"], 5000);
        assert_eq!(detail["connect"]["versionNumber"], 3);
        assert_eq!(detail["disconnect"]["disconnectReason"], "CONNECTION_LOST");
        assert_eq!(detail["eventId"], transition.event_id());
        assert_eq!(detail["version"], DETAIL_VERSION);

        let mut first_sighting = item.clone();
        first_sighting.remove("AnnouncedStatus");
        let detail = detail_of(&first_sighting, &transition);
        assert_eq!(detail["offlineDurationMs"], Value::Null);
    }
}

//! The history table: one item per connect or disconnect, under the client and the
//! event's own key ([`HistoryEvent::key`]), written only if that key is new. So a duplicate
//! or a replay rewrites nothing, and any arrival order stores the same items.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use crate::history::{time_key, HistoryEvent, LOOKBACK_MS};
use crate::ordering::Presence;
use crate::store::{error_message, number, number_attr, Item, StoreError};

/// Attribute names of a history item.
pub mod attr {
    pub const CLIENT_ID: &str = "ClientID";
    pub const EVENT_KEY: &str = "EventKey";
    pub const EVENT_TYPE: &str = "EventType";
    pub const TIMESTAMP: &str = "Timestamp";
    pub const VERSION_NUMBER: &str = "VersionNumber";
    pub const SESSION_IDENTIFIER: &str = "SessionIdentifier";
    pub const DISCONNECT_REASON: &str = "DisconnectReason";
    pub const CLIENT_INITIATED_DISCONNECT: &str = "ClientInitiatedDisconnect";
    /// Seconds since the epoch: the event's timestamp plus the retention (DynamoDB TTL).
    pub const EXPIRES_AT: &str = "ExpiresAt";
}

#[derive(Debug, Clone)]
pub struct HistoryStore {
    client: Client,
    table: String,
    retention: Duration,
}

/// What one read of the fleet's history returned: events by client, and what it cost.
#[derive(Debug, Default)]
pub struct FleetHistory {
    pub events: BTreeMap<String, Vec<HistoryEvent>>,
    pub requests: u64,
    pub read_units: f64,
}

impl HistoryStore {
    pub fn new(client: Client, table: impl Into<String>, retention: Duration) -> Self {
        Self {
            client,
            table: table.into(),
            retention,
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Keeps one event; false when it was kept already (a duplicate or a replay).
    pub async fn record(&self, client_id: &str, event: &HistoryEvent) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.item(client_id, event)))
            .condition_expression("attribute_not_exists(#key)")
            .expression_attribute_names("#key", attr::EVENT_KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(failure))
                if matches!(
                    failure.err(),
                    PutItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(false)
            }
            Err(err) => Err(StoreError::DynamoDb {
                operation: "PutItem",
                table: self.table.clone(),
                client_id: client_id.to_owned(),
                message: error_message(&err),
            }),
        }
    }

    fn item(&self, client_id: &str, event: &HistoryEvent) -> Item {
        let mut item = Item::from([
            (
                attr::CLIENT_ID.to_owned(),
                AttributeValue::S(client_id.to_owned()),
            ),
            (attr::EVENT_KEY.to_owned(), AttributeValue::S(event.key())),
            (
                attr::EVENT_TYPE.to_owned(),
                AttributeValue::S(event_type(event.presence).to_owned()),
            ),
            (attr::TIMESTAMP.to_owned(), number(event.timestamp)),
            (attr::VERSION_NUMBER.to_owned(), number(event.version)),
            // From the event's own time, so every delivery writes the same item.
            (
                attr::EXPIRES_AT.to_owned(),
                number(event.timestamp.max(0) / 1000 + self.retention.as_secs() as i64),
            ),
        ]);
        let mut text = |name: &str, value: &Option<String>| {
            if let Some(value) = value {
                item.insert(name.to_owned(), AttributeValue::S(value.clone()));
            }
        };
        text(attr::SESSION_IDENTIFIER, &event.session_identifier);
        text(attr::DISCONNECT_REASON, &event.disconnect_reason);
        if let Some(initiated) = event.client_initiated {
            item.insert(
                attr::CLIENT_INITIATED_DISCONNECT.to_owned(),
                AttributeValue::Bool(initiated),
            );
        }
        item
    }

    /// A client's events that decide its sessions and status in `[since, until)`: those
    /// stamped from [`LOOKBACK_MS`] before `since` to `until`, and the newest before that.
    /// Returns the events and the requests they took.
    pub async fn client_events(
        &self,
        client_id: &str,
        since: i64,
        until: i64,
    ) -> Result<(Vec<HistoryEvent>, u64), StoreError> {
        let from = time_key(since.saturating_sub(LOOKBACK_MS));
        // '$' sorts after '#': every key stamped at `until` is included.
        let to = format!("{}$", time_key(until));
        let mut events = Vec::new();
        let mut requests = 0;
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#client = :client AND #key BETWEEN :from AND :to")
                .expression_attribute_names("#client", attr::CLIENT_ID)
                .expression_attribute_names("#key", attr::EVENT_KEY)
                .expression_attribute_values(":client", AttributeValue::S(client_id.to_owned()))
                .expression_attribute_values(":from", AttributeValue::S(from.clone()))
                .expression_attribute_values(":to", AttributeValue::S(to.clone()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|err| self.error("Query", client_id, &err))?;
            requests += 1;
            events.extend(page.items().iter().filter_map(history_event));
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let before = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#client = :client AND #key < :from")
            .expression_attribute_names("#client", attr::CLIENT_ID)
            .expression_attribute_names("#key", attr::EVENT_KEY)
            .expression_attribute_values(":client", AttributeValue::S(client_id.to_owned()))
            .expression_attribute_values(":from", AttributeValue::S(from))
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await
            .map_err(|err| self.error("Query", client_id, &err))?;
        requests += 1;
        events.extend(before.items().iter().filter_map(history_event));
        Ok((events, requests))
    }

    /// Every client's events that decide `[since, until)`, read with a parallel Scan of
    /// `segments` segments; `progress` is called with the items read so far. Per client it
    /// keeps what [`Self::client_events`] returns, so memory follows the window.
    pub async fn fleet_events(
        &self,
        since: i64,
        until: i64,
        segments: i32,
        progress: impl Fn(u64) + Sync,
    ) -> Result<FleetHistory, StoreError> {
        use futures::stream::{self, StreamExt, TryStreamExt};
        let from = time_key(since.saturating_sub(LOOKBACK_MS));
        let to = format!("{}$", time_key(until));
        let read = std::sync::atomic::AtomicU64::new(0);
        let segment_results: Vec<FleetHistory> = stream::iter(0..segments)
            .map(|segment| {
                let (from, to, read, progress) = (&from, &to, &read, &progress);
                async move {
                    let mut history = FleetHistory::default();
                    // Per client, the newest event before the lookback: the status there.
                    let mut before: BTreeMap<String, (String, HistoryEvent)> = BTreeMap::new();
                    let mut start = None;
                    loop {
                        let page = self
                            .client
                            .scan()
                            .table_name(&self.table)
                            .segment(segment)
                            .total_segments(segments)
                            .return_consumed_capacity(
                                aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total,
                            )
                            .set_exclusive_start_key(start)
                            .send()
                            .await
                            .map_err(|err| self.error("Scan", "*", &err))?;
                        history.requests += 1;
                        history.read_units += page
                            .consumed_capacity()
                            .and_then(|capacity| capacity.capacity_units())
                            .unwrap_or(0.0);
                        for item in page.items() {
                            let (Some(client), Some(key), Some(event)) = (
                                item.get(attr::CLIENT_ID).and_then(|v| v.as_s().ok()),
                                item.get(attr::EVENT_KEY).and_then(|v| v.as_s().ok()),
                                history_event(item),
                            ) else {
                                continue;
                            };
                            if key.as_str() > to.as_str() {
                                continue;
                            }
                            if key.as_str() >= from.as_str() {
                                history
                                    .events
                                    .entry(client.clone())
                                    .or_default()
                                    .push(event);
                            } else if before.get(client).is_none_or(|(newest, _)| newest < key) {
                                before.insert(client.clone(), (key.clone(), event));
                            }
                        }
                        let total = read.fetch_add(
                            page.items().len() as u64,
                            std::sync::atomic::Ordering::Relaxed,
                        ) + page.items().len() as u64;
                        progress(total);
                        start = page.last_evaluated_key;
                        if start.is_none() {
                            break;
                        }
                    }
                    for (client, (_, event)) in before {
                        history.events.entry(client).or_default().push(event);
                    }
                    Ok::<_, StoreError>(history)
                }
            })
            .buffer_unordered(segments.max(1) as usize)
            .try_collect()
            .await?;
        let mut fleet = FleetHistory::default();
        for segment in segment_results {
            fleet.requests += segment.requests;
            fleet.read_units += segment.read_units;
            // A client's items live in one partition, so in one segment.
            for (client, events) in segment.events {
                fleet.events.entry(client).or_default().extend(events);
            }
        }
        Ok(fleet)
    }

    fn error<E, R>(
        &self,
        operation: &'static str,
        client_id: &str,
        err: &SdkError<E, R>,
    ) -> StoreError
    where
        E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
        R: std::fmt::Debug,
    {
        StoreError::DynamoDb {
            operation,
            table: self.table.clone(),
            client_id: client_id.to_owned(),
            message: error_message(err),
        }
    }
}

fn event_type(presence: Presence) -> &'static str {
    match presence {
        Presence::Connected => "connected",
        Presence::Disconnected => "disconnected",
    }
}

/// A stored event; None for an item this release cannot read (skipped, never guessed).
pub fn history_event(item: &Item) -> Option<HistoryEvent> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let presence = match text(attr::EVENT_TYPE)?.as_str() {
        "connected" => Presence::Connected,
        "disconnected" => Presence::Disconnected,
        _ => return None,
    };
    Some(HistoryEvent {
        presence,
        timestamp: number_attr(item, attr::TIMESTAMP)?,
        version: number_attr(item, attr::VERSION_NUMBER)?,
        session_identifier: text(attr::SESSION_IDENTIFIER),
        disconnect_reason: text(attr::DISCONNECT_REASON),
        client_initiated: item
            .get(attr::CLIENT_INITIATED_DISCONNECT)
            .and_then(|v| v.as_bool().ok())
            .copied(),
    })
}

//! The history table: one item per connect or disconnect, under the client and the
//! event's own key ([`HistoryEvent::key`]), written only if that key is new. So a duplicate
//! or a replay rewrites nothing, and any arrival order stores the same items.

use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, ReturnConsumedCapacity};
use aws_sdk_dynamodb::Client;

use crate::history::sessions::{time_key, HistoryEvent, LOOKBACK_MS, MAX_STAMP_ERROR_MS};
use crate::presence::ordering::Presence;
use crate::shared::dynamodb::{number, number_attr, StoreError};
use crate::shared::Item;

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

/// A client's events, and what reading them cost.
#[derive(Debug, Default)]
pub struct ClientEvents {
    pub events: Vec<HistoryEvent>,
    pub requests: u64,
    /// As DynamoDB reports them (ReturnConsumedCapacity); 0 where it reports none.
    pub read_units: f64,
}

impl ClientEvents {
    fn count(&mut self, capacity: Option<&ConsumedCapacity>) {
        self.requests += 1;
        self.read_units += capacity
            .and_then(ConsumedCapacity::capacity_units)
            .unwrap_or(0.0);
    }
}

#[derive(Debug, Clone)]
pub struct HistoryStore {
    client: Client,
    table: String,
    retention: Duration,
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
            .set_item(Some(self.item_of(client_id, event)))
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
            Err(err) => Err(StoreError::dynamodb("PutItem", &self.table, client_id, err)),
        }
    }

    /// The item that keeps `event`.
    pub fn item_of(&self, client_id: &str, event: &HistoryEvent) -> Item {
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
    /// stamped from [`LOOKBACK_MS`] before `since` to the stamps' error after `until`, and
    /// before that the newest ones (within the stamps' error of the newest): two Queries
    /// in the common case, so only the window is read, whatever the retention.
    pub async fn client_events(
        &self,
        client_id: &str,
        since: i64,
        until: i64,
    ) -> Result<ClientEvents, StoreError> {
        let from = time_key(since.saturating_sub(LOOKBACK_MS));
        // Up to the stamps' error past `until`: a disconnect stamped late still closes its
        // session ('$' sorts after '#': every key stamped at the bound is included).
        let to = format!(
            "{}$",
            time_key(until.saturating_add(2 * MAX_STAMP_ERROR_MS))
        );
        let mut read = ClientEvents::default();
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
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|err| self.error("Query", client_id, err))?;
            read.count(page.consumed_capacity());
            read.events
                .extend(page.items().iter().filter_map(history_event));
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        // Before the lookback: the newest event by stamp, and every event stamped within
        // the stamps' error of it, since the rule may order one of those after it.
        let mut start = None;
        let mut newest: Option<i64> = None;
        'before: loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#client = :client AND #key < :from")
                .expression_attribute_names("#client", attr::CLIENT_ID)
                .expression_attribute_names("#key", attr::EVENT_KEY)
                .expression_attribute_values(":client", AttributeValue::S(client_id.to_owned()))
                .expression_attribute_values(":from", AttributeValue::S(from.clone()))
                .scan_index_forward(false)
                .limit(4)
                .set_exclusive_start_key(start)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|err| self.error("Query", client_id, err))?;
            read.count(page.consumed_capacity());
            for event in page.items().iter().filter_map(history_event) {
                let first = *newest.get_or_insert(event.timestamp);
                if event.timestamp < first - 2 * MAX_STAMP_ERROR_MS {
                    break 'before;
                }
                read.events.push(event);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(read)
    }

    fn error<E, R>(
        &self,
        operation: &'static str,
        client_id: &str,
        err: SdkError<E, R>,
    ) -> StoreError
    where
        E: std::error::Error
            + aws_sdk_dynamodb::error::ProvideErrorMetadata
            + Send
            + Sync
            + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        StoreError::dynamodb(operation, &self.table, client_id, err)
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

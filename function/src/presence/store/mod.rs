//! The DynamoDB store: one item per client, changed only by atomic conditional writes.
//!
//! Each presence event first tries one `UpdateItem` whose condition is "this event is newer
//! than both stored events" (the in-order common case: one round trip). When that condition
//! fails, DynamoDB returns the current item with the failure (`ALL_OLD`), the pure
//! [`decide`] says what to do, and a write guarded by the item's `Revision` applies it, so
//! a concurrent writer can never be overwritten by a decision made on a state it changed.

mod connect_failed;
mod expression;

use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use sha2::{Digest, Sha256};

use crate::presence::event::{Connected, Disconnected};
use crate::presence::ordering::{decide, Decision, Latest, Mark, Presence, RESET_WINDOW_MS};
pub(crate) use expression::{update_expression, Expression};

pub(crate) use crate::shared::dynamodb::expiry;
pub use crate::shared::dynamodb::{error_message, number, number_attr, StoreError};
use crate::shared::time::now_ms;
pub use crate::shared::Item;

/// Attribute names. The first seven are the original sample's and keep its meaning.
pub mod attr {
    pub const CLIENT_ID: &str = "ClientID";
    pub const STATUS: &str = "Status";
    pub const CONNECT_VERSION: &str = "ConnectVersionNum";
    pub const CONNECT_TIME: &str = "ConnectTime";
    pub const DISCONNECT_VERSION: &str = "DisconnectVersionNum";
    pub const DISCONNECT_TIME: &str = "DisconnectTime";
    pub const SESSION_IDENTIFIER: &str = "SessionIdentifier";
    pub const PRINCIPAL_IDENTIFIER: &str = "PrincipalIdentifier";
    pub const IP_ADDRESS: &str = "IpAddress";
    pub const THING_NAME: &str = "ThingName";
    pub const DISCONNECT_REASON: &str = "DisconnectReason";
    pub const CLIENT_INITIATED_DISCONNECT: &str = "ClientInitiatedDisconnect";
    pub const CONNECT_FAILED_TIME: &str = "ConnectFailedTime";
    pub const CONNECT_FAILURE_REASON: &str = "ConnectFailureReason";
    /// Wall-clock milliseconds of the last write.
    pub const LAST_UPDATE_TIME: &str = "LastUpdateTime";
    /// Incremented by every write; the optimistic-concurrency guard.
    pub const REVISION: &str = "Revision";
    /// Wall-clock milliseconds at which the item was created: a removed and recreated
    /// item's Revision starts again, its CreatedTime does not (see [`crate::count::decision`]).
    pub const CREATED_TIME: &str = "CreatedTime";
    /// Epoch seconds; written only when an item TTL is configured.
    pub const EXPIRES_AT: &str = "ExpiresAt";
    /// `<Status>#<shard>`, the status index key (status index only); see [`super::status_shard`].
    pub const STATUS_SHARD: &str = "StatusShard";
    /// `Owed#<shard>` while the item may owe an announcement (events_enabled): the key of
    /// the sparse index the reconciler reads. Set by every presence write, removed by the
    /// notifier once the last announcement agrees with the status.
    pub const OWED_SHARD: &str = "OwedShard";
    /// Wall-clock ms at which the newest disconnect was recorded: the grace period counts
    /// from it (events_enabled).
    pub const DISCONNECT_RECORDED_AT: &str = "DisconnectRecordedAt";
}

/// Ways the owed index key is split, so a mass outage spreads its index writes.
pub const OWED_SHARDS: u32 = 16;

/// The owed index key of `client_id`.
pub fn owed_shard_key(client_id: &str) -> String {
    owed_key(status_shard(client_id, OWED_SHARDS))
}

/// The owed index key of a shard: `Owed#7`.
pub fn owed_key(shard: u32) -> String {
    format!("Owed#{shard}")
}

/// Conditional writes for one event before giving up. Each retry means another writer
/// changed the same client's item in between, so this is only reached under a storm.
const MAX_CONDITIONAL_WRITES: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Applied,
    /// Older than, or a duplicate of, what is stored: nothing written.
    Stale,
    /// A connect failure of a client the table does not know: not recorded (anyone can
    /// choose a client ID and fail to connect).
    UnknownClient,
}

/// What became of one event, and how many DynamoDB requests it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub written: Written,
    pub round_trips: u32,
}

/// The result of one conditional write.
pub(crate) enum Attempt {
    Written,
    /// The condition failed; the item as it is now (`None`: there is none).
    ConditionFailed(Option<Item>),
}

#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
    pub(crate) item_ttl: Option<Duration>,
    record_unknown_connect_failures: bool,
    status_index_shards: Option<u32>,
    announcements: bool,
}

/// A connect or disconnect, as the attributes it owns.
struct PresenceWrite<'a> {
    client_id: &'a str,
    mark: Mark,
    set: Vec<(&'static str, AttributeValue)>,
    remove: Vec<&'static str>,
}

impl<'a> PresenceWrite<'a> {
    fn connected(event: &'a Connected) -> Self {
        let mut write = Self::new(&event.client_id, event.mark());
        write.optional(
            attr::SESSION_IDENTIFIER,
            event.session_identifier.as_deref(),
        );
        write.optional(
            attr::PRINCIPAL_IDENTIFIER,
            event.principal_identifier.as_deref(),
        );
        write.optional(attr::IP_ADDRESS, event.ip_address.as_deref());
        write.optional(attr::THING_NAME, event.thing_name.as_deref());
        write
    }

    fn disconnected(event: &'a Disconnected) -> Self {
        let mut write = Self::new(&event.client_id, event.mark());
        write.optional(attr::DISCONNECT_REASON, event.disconnect_reason.as_deref());
        match event.client_initiated_disconnect {
            Some(initiated) => write.set.push((
                attr::CLIENT_INITIATED_DISCONNECT,
                AttributeValue::Bool(initiated),
            )),
            None => write.remove.push(attr::CLIENT_INITIATED_DISCONNECT),
        }
        write
    }

    fn new(client_id: &'a str, mark: Mark) -> Self {
        let (version_attr, time_attr) = presence_attrs(mark.presence);
        Self {
            client_id,
            mark,
            set: vec![
                (version_attr, number(mark.version)),
                (time_attr, number(mark.timestamp)),
            ],
            remove: Vec::new(),
        }
    }

    /// Attributes of the newest event of a kind describe that event alone: a value the
    /// newer event lacks is removed rather than left over from an older one.
    fn optional(&mut self, name: &'static str, value: Option<&str>) {
        match value {
            Some(value) => self.set.push((name, AttributeValue::S(value.to_owned()))),
            None => self.remove.push(name),
        }
    }
}

/// What a presence write is conditioned on.
enum Guard {
    /// The event is newer than both stored events (or there are none).
    NewestOfAll,
    /// The item is still the one the decision was made on.
    Unchanged { revision: Option<u64> },
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>, item_ttl: Option<Duration>) -> Self {
        Self {
            client,
            table: table.into(),
            item_ttl,
            record_unknown_connect_failures: false,
            status_index_shards: None,
            announcements: false,
        }
    }

    /// Whether presence writes mark the item as owing an announcement (events_enabled).
    /// An owed item gets no `ExpiresAt` until the notifier settles it, so TTL never
    /// deletes a debt.
    pub fn with_announcements(mut self, announcements: bool) -> Self {
        self.announcements = announcements;
        self
    }

    /// Whether presence writes keep the status index key, and over how many shards.
    pub fn with_status_index_shards(mut self, shards: Option<u32>) -> Self {
        self.status_index_shards = shards;
        self
    }

    /// Whether a connect failure of a client the table does not know creates its item.
    pub fn recording_unknown_connect_failures(mut self, record: bool) -> Self {
        self.record_unknown_connect_failures = record;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub async fn record_connected(&self, event: &Connected) -> Result<Recorded, StoreError> {
        self.record_presence(PresenceWrite::connected(event)).await
    }

    pub async fn record_disconnected(&self, event: &Disconnected) -> Result<Recorded, StoreError> {
        self.record_presence(PresenceWrite::disconnected(event))
            .await
    }

    async fn record_presence(&self, write: PresenceWrite<'_>) -> Result<Recorded, StoreError> {
        let mut round_trips = 0;
        let mut guard = Guard::NewestOfAll;
        let mut status = write.mark.presence;
        for _ in 0..MAX_CONDITIONAL_WRITES {
            let attempt = self
                .write_presence(&write, &guard, status, &mut round_trips)
                .await?;
            let written = match attempt {
                Attempt::Written => Written::Applied,
                Attempt::ConditionFailed(None) => {
                    // Deleted since the condition failed: start over as if new.
                    guard = Guard::NewestOfAll;
                    continue;
                }
                Attempt::ConditionFailed(Some(item)) => {
                    match decide(&latest_of(&item), &write.mark) {
                        Decision::Stale => Written::Stale,
                        Decision::Apply { status: decided } => {
                            status = decided;
                            guard = Guard::Unchanged {
                                revision: number_attr(&item, attr::REVISION),
                            };
                            continue;
                        }
                    }
                }
            };
            return Ok(Recorded {
                written,
                round_trips,
            });
        }
        Err(StoreError::Contention {
            client_id: write.client_id.to_owned(),
            attempts: MAX_CONDITIONAL_WRITES,
        })
    }

    async fn write_presence(
        &self,
        write: &PresenceWrite<'_>,
        guard: &Guard,
        status: Presence,
        round_trips: &mut u32,
    ) -> Result<Attempt, StoreError> {
        let mut expr = Expression::default();
        let mut sets = self.common_sets(&mut expr);
        sets.push(expr.assign(attr::STATUS, AttributeValue::S(status.status().into())));
        // Only presence writes move an item between index shards: connect failures
        // never change Status, so they never rewrite the index key.
        if let Some(shards) = self.status_index_shards {
            let shard = status_shard(write.client_id, shards);
            sets.push(expr.assign(
                attr::STATUS_SHARD,
                AttributeValue::S(status_shard_key(status.status(), shard)),
            ));
        }
        for (name, value) in &write.set {
            sets.push(expr.assign(name, value.clone()));
        }
        let mut removes: Vec<String> = write.remove.iter().map(|name| expr.name(name)).collect();
        if self.announcements {
            // Every presence write may change what is owed: the notifier looks, and
            // removes the mark once the last announcement agrees with the status.
            sets.push(expr.assign(
                attr::OWED_SHARD,
                AttributeValue::S(owed_shard_key(write.client_id)),
            ));
            if write.mark.presence == Presence::Disconnected {
                sets.push(expr.assign(attr::DISCONNECT_RECORDED_AT, number(now_ms())));
            }
        }
        // Only a client whose newest presence event is a disconnect may expire, and an
        // owed one only once settled.
        match (status, self.item_ttl) {
            (Presence::Disconnected, Some(_)) if self.announcements => {
                removes.push(expr.name(attr::EXPIRES_AT))
            }
            (Presence::Disconnected, Some(ttl)) => {
                sets.push(expr.assign(attr::EXPIRES_AT, number(expiry(ttl))));
            }
            (Presence::Connected, _) => removes.push(expr.name(attr::EXPIRES_AT)),
            (Presence::Disconnected, None) => {}
        }
        let update = update_expression(&sets, &removes);
        let condition = match guard {
            Guard::NewestOfAll => {
                let own = expr.newer_than_stored(&write.mark, write.mark.presence);
                let other = expr.newer_than_stored(&write.mark, opposite(write.mark.presence));
                format!("{own} AND {other}")
            }
            Guard::Unchanged { revision } => expr.unchanged(*revision),
        };
        self.conditional_update(write.client_id, update, condition, expr, round_trips)
            .await
    }

    /// Reads one client's item, strongly consistent.
    pub async fn get(&self, client_id: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::CLIENT_ID, AttributeValue::S(client_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| self.error("GetItem", client_id, err))?;
        Ok(output.item)
    }

    /// Attributes every write sets: when, since when the item exists, and the revision bump.
    fn common_sets(&self, expr: &mut Expression) -> Vec<String> {
        let revision = expr.name(attr::REVISION);
        let zero = expr.value("zero", number(0));
        let one = expr.value("one", number(1));
        let created = expr.name(attr::CREATED_TIME);
        let now = expr.value(attr::LAST_UPDATE_TIME, number(now_ms()));
        vec![
            format!("{} = {now}", expr.name(attr::LAST_UPDATE_TIME)),
            format!("{created} = if_not_exists({created}, {now})"),
            format!("{revision} = if_not_exists({revision}, {zero}) + {one}"),
        ]
    }

    pub(crate) async fn conditional_update(
        &self,
        client_id: &str,
        update: String,
        condition: String,
        expr: Expression,
        round_trips: &mut u32,
    ) -> Result<Attempt, StoreError> {
        *round_trips += 1;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::CLIENT_ID, AttributeValue::S(client_id.to_owned()))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(expr.names))
            // DynamoDB refuses an empty map (a settle at no revision, without a TTL).
            .set_expression_attribute_values((!expr.values.is_empty()).then_some(expr.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Attempt::Written),
            Err(SdkError::ServiceError(failure)) => match failure.err() {
                UpdateItemError::ConditionalCheckFailedException(failed) => match failed.item() {
                    Some(item) => Ok(Attempt::ConditionFailed(Some(item.clone()))),
                    // Some DynamoDB-compatible APIs do not return the item (nor is there
                    // one when the item does not exist): read it.
                    None => {
                        *round_trips += 1;
                        Ok(Attempt::ConditionFailed(self.get(client_id).await?))
                    }
                },
                _ => Err(self.error("UpdateItem", client_id, SdkError::ServiceError(failure))),
            },
            Err(err) => Err(self.error("UpdateItem", client_id, err)),
        }
    }

    fn error<E, R>(
        &self,
        operation: &'static str,
        client_id: &str,
        err: SdkError<E, R>,
    ) -> StoreError
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        StoreError::dynamodb(operation, &self.table, client_id, err)
    }
}

/// The status index shard of a client: the first 8 bytes of SHA-256(ClientID) as a
/// big-endian integer, modulo `shards`. Stable across releases and languages, so any
/// reader can compute it; uniform, so a storm spreads evenly.
pub fn status_shard(client_id: &str, shards: u32) -> u32 {
    let digest = Sha256::digest(client_id.as_bytes());
    let prefix: [u8; 8] = digest[..8].try_into().expect("SHA-256 has 32 bytes");
    (u64::from_be_bytes(prefix) % u64::from(shards.max(1))) as u32
}

/// The status index key of a status in a shard: `Connected#7`.
pub fn status_shard_key(status: &str, shard: u32) -> String {
    format!("{status}#{shard}")
}

fn presence_attrs(presence: Presence) -> (&'static str, &'static str) {
    match presence {
        Presence::Connected => (attr::CONNECT_VERSION, attr::CONNECT_TIME),
        Presence::Disconnected => (attr::DISCONNECT_VERSION, attr::DISCONNECT_TIME),
    }
}

fn opposite(presence: Presence) -> Presence {
    match presence {
        Presence::Connected => Presence::Disconnected,
        Presence::Disconnected => Presence::Connected,
    }
}

/// The ordering state stored in an item.
fn latest_of(item: &Item) -> Latest {
    let mark = |presence| {
        let (version_attr, time_attr) = presence_attrs(presence);
        Some(Mark {
            presence,
            version: number_attr(item, version_attr)?,
            timestamp: number_attr(item, time_attr)?,
        })
    };
    Latest {
        connect: mark(Presence::Connected),
        disconnect: mark(Presence::Disconnected),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_shards_are_stable_and_spread_evenly() {
        // Python: int.from_bytes(hashlib.sha256(b"device-1").digest()[:8], "big") % 32
        assert_eq!(status_shard("device-1", 32), 12);
        assert_eq!(status_shard("site-3/gw-1", 32), 31);
        assert_eq!(status_shard("anything", 1), 0);
        let shards = 16;
        let mut counts = vec![0u32; shards as usize];
        for i in 0..16_000 {
            counts[status_shard(&format!("client-{i}"), shards) as usize] += 1;
        }
        // 1,000 expected per shard; a fair hash stays well within ±15%.
        assert!(
            counts.iter().all(|&n| (850..=1150).contains(&n)),
            "{counts:?}"
        );
    }
}

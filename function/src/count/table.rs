//! The counts table: each client's tally and the counter shards of the Connected count
//! ([`crate::count::decision`] decides; this module writes).
//!
//! Items: `Key = "Tally#<ClientID>"` with the counted [`Version`] (`CreatedTime`,
//! `Revision`, `Removed`), `Connected` (BOOL) and, on tombstones, `ExpiresAt`; and
//! `Key = "Connected#<shard>"` with `Count` (N), the shard being
//! [`crate::presence::store::status_shard`] of the client. A tally change that moves the count is
//! one `TransactWriteItems` of the tally and its shard; one that does not is a single
//! conditional write. Either is conditioned on the tally it was decided on, so a
//! concurrent writer is never overwritten. The first write assumes the tally the stream
//! record implies and reads nothing: one round trip in the common case.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use aws_sdk_dynamodb::Client;

use crate::count::decision::{step, Observed, Step, Tally, Version};
use crate::presence::store::status_shard;
use crate::shared::backoff::full_jitter;
use crate::shared::dynamodb::{error_message, expiry, number, number_attr};
use crate::shared::Item;

pub const KEY: &str = "Key";
pub const CREATED: &str = "CreatedTime";
pub const REVISION: &str = "Revision";
/// 1 on a tombstone (the item was removed), else 0.
pub const REMOVED: &str = "Removed";
pub const CONNECTED: &str = "Connected";
/// The counts table's TTL attribute, set on tombstones only.
pub const EXPIRES_AT: &str = "ExpiresAt";
pub const COUNT: &str = "Count";

const TOMBSTONE_LIFETIME: Duration = Duration::from_secs(2 * 86_400);

/// Writes for one observation before giving up: each retry means another writer
/// changed the same tally in between, or a transaction conflicted on a counter shard.
const MAX_ATTEMPTS: usize = 10;

/// BatchGetItem reads at most 100 keys.
pub const MAX_SHARDS: u32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum CountsError {
    #[error("DynamoDB {operation} on table {table} failed: {message}")]
    DynamoDb {
        operation: &'static str,
        table: String,
        message: String,
    },
    #[error("client {client_id}: tally kept changing under {attempts} conditional writes")]
    Contention { client_id: String, attempts: usize },
}

/// What became of one observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// What the count changed by (0: stale, or counted as it was).
    pub delta: i64,
    pub round_trips: u32,
}

enum Attempt {
    Written,
    /// The tally is not the one assumed; here it is as it is now (None: there is none).
    Changed(Option<Tally>),
    /// A concurrent transaction held the counter shard: try again.
    Conflict,
}

#[derive(Debug, Clone)]
pub struct Counts {
    client: Client,
    table: String,
    shards: u32,
}

impl Counts {
    pub fn new(client: Client, table: impl Into<String>, shards: u32) -> Self {
        Self {
            client,
            table: table.into(),
            shards: shards.clamp(1, MAX_SHARDS),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Brings the client's tally up to `observed`, and the count with it. The first
    /// write assumes the tally says `assumed_connected` (what the record's old image
    /// implies) at an older version, and reads nothing.
    pub async fn apply(
        &self,
        client_id: &str,
        observed: Observed,
        assumed_connected: bool,
    ) -> Result<Applied, CountsError> {
        let mut expected = Expected::Older {
            connected: assumed_connected,
        };
        let mut delta = i64::from(observed.connected) - i64::from(assumed_connected);
        for attempt in 0..MAX_ATTEMPTS {
            let round_trips = attempt as u32 + 1;
            match self.write(client_id, &expected, observed, delta).await? {
                Attempt::Written => return Ok(Applied { delta, round_trips }),
                Attempt::Changed(actual) => match step(actual, observed) {
                    Step::Stale => {
                        return Ok(Applied {
                            delta: 0,
                            round_trips,
                        })
                    }
                    Step::Write {
                        delta: actual_delta,
                    } => {
                        delta = actual_delta;
                        expected = Expected::Exactly(actual);
                    }
                },
                Attempt::Conflict => {
                    tokio::time::sleep(full_jitter(Duration::from_millis(10), attempt as u32)).await
                }
            }
        }
        Err(CountsError::Contention {
            client_id: client_id.to_owned(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// The Connected count: the sum of the counter shards, read strongly consistent.
    pub async fn connected(&self) -> Result<i64, CountsError> {
        let keys = (0..self.shards)
            .map(|shard| key(shard_key(shard)))
            .collect::<Vec<_>>();
        let mut request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(|err| self.error_text("BatchGetItem", err.to_string()))?;
        let mut total = 0;
        loop {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|err| self.error("BatchGetItem", err))?;
            for item in output
                .responses()
                .and_then(|responses| responses.get(&self.table))
                .into_iter()
                .flatten()
            {
                total += item
                    .get(COUNT)
                    .and_then(|count| count.as_n().ok())
                    .and_then(|count| count.parse::<i64>().ok())
                    .unwrap_or(0);
            }
            match output
                .unprocessed_keys()
                .and_then(|unprocessed| unprocessed.get(&self.table))
            {
                Some(rest) if !rest.keys().is_empty() => request = rest.clone(),
                _ => return Ok(total),
            }
        }
    }

    async fn write(
        &self,
        client_id: &str,
        expected: &Expected,
        observed: Observed,
        delta: i64,
    ) -> Result<Attempt, CountsError> {
        let mut values = HashMap::new();
        let condition = expected.condition(observed.version, &mut values);
        let version = observed.version;
        values.insert(":nextCreated".into(), number(version.created));
        values.insert(":nextRevision".into(), number(version.revision));
        values.insert(":nextRemoved".into(), number(u8::from(version.removed)));
        values.insert(
            ":nextConnected".into(),
            AttributeValue::Bool(observed.connected),
        );
        let mut update_expression = "SET #created = :nextCreated, #revision = :nextRevision, \
            #removed = :nextRemoved, #connected = :nextConnected"
            .to_owned();
        if version.removed {
            // A tombstone is needed only while older records may still arrive.
            values.insert(":expiresAt".into(), number(tombstone_expiry()));
            update_expression.push_str(", #expiresAt = :expiresAt");
        } else {
            update_expression.push_str(" REMOVE #expiresAt");
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(tally_key(client_id))))
            .set_expression_attribute_names(Some(names_in(&[&update_expression, &condition])))
            .update_expression(update_expression)
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .expect("table, key and expression are set");
        if delta == 0 {
            self.update_alone(update).await
        } else {
            let item = TransactWriteItem::builder().update(update).build();
            self.with_count(client_id, item, delta).await
        }
    }

    async fn with_count(
        &self,
        client_id: &str,
        tally_write: TransactWriteItem,
        delta: i64,
    ) -> Result<Attempt, CountsError> {
        let shard = status_shard(client_id, self.shards);
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(shard_key(shard))))
            .update_expression("ADD #count :delta")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_values(":delta", number(delta))
            .build()
            .expect("table, key and expression are set");
        let result = self
            .client
            .transact_write_items()
            .transact_items(tally_write)
            .transact_items(TransactWriteItem::builder().update(count).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Attempt::Written),
            Err(SdkError::ServiceError(failure)) => match failure.err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                    let reasons = cancelled.cancellation_reasons();
                    let code = |index: usize| reasons.get(index).and_then(|r| r.code());
                    if code(0) == Some("ConditionalCheckFailed") {
                        Ok(Attempt::Changed(reasons[0].item().and_then(tally_of)))
                    } else if reasons
                        .iter()
                        .any(|reason| reason.code() == Some("TransactionConflict"))
                    {
                        Ok(Attempt::Conflict)
                    } else {
                        Err(self.error("TransactWriteItems", SdkError::ServiceError(failure)))
                    }
                }
                TransactWriteItemsError::TransactionInProgressException(_) => Ok(Attempt::Conflict),
                _ => Err(self.error("TransactWriteItems", SdkError::ServiceError(failure))),
            },
            Err(err) => Err(self.error("TransactWriteItems", err)),
        }
    }

    async fn update_alone(&self, update: Update) -> Result<Attempt, CountsError> {
        let result = self
            .client
            .update_item()
            .table_name(update.table_name())
            .set_key(Some(update.key().clone()))
            .update_expression(update.update_expression())
            .set_condition_expression(update.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(update.expression_attribute_names().cloned())
            .set_expression_attribute_values(update.expression_attribute_values().cloned())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Attempt::Written),
            Err(SdkError::ServiceError(failure)) => match failure.err() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    Ok(Attempt::Changed(failed.item().and_then(tally_of)))
                }
                _ => Err(self.error("UpdateItem", SdkError::ServiceError(failure))),
            },
            Err(err) => Err(self.error("UpdateItem", err)),
        }
    }

    fn error<E, R>(&self, operation: &'static str, err: SdkError<E, R>) -> CountsError
    where
        E: std::error::Error + ProvideErrorMetadata + 'static,
        R: std::fmt::Debug,
    {
        self.error_text(operation, error_message(&err))
    }

    fn error_text(&self, operation: &'static str, message: String) -> CountsError {
        CountsError::DynamoDb {
            operation,
            table: self.table.clone(),
            message,
        }
    }
}

/// The tally a write is conditioned on.
enum Expected {
    /// Any tally of an older version saying `connected`; none at all counts as not
    /// connected.
    Older { connected: bool },
    /// Exactly this tally (None: no tally).
    Exactly(Option<Tally>),
}

impl Expected {
    fn condition(&self, observed: Version, values: &mut HashMap<String, AttributeValue>) -> String {
        match self {
            Expected::Older { connected } => {
                expect(values, observed, *connected);
                // Version order: CreatedTime, then Revision, then the removal.
                let older = "(#created < :created OR (#created = :created AND \
                    (#revision < :revision OR (#revision = :revision AND #removed < :removed))))";
                let assumed = format!("{older} AND #connected = :wasConnected");
                if *connected {
                    assumed
                } else {
                    format!("attribute_not_exists(#key) OR ({assumed})")
                }
            }
            Expected::Exactly(None) => "attribute_not_exists(#key)".to_owned(),
            Expected::Exactly(Some(tally)) => {
                expect(values, tally.version, tally.connected);
                "#created = :created AND #revision = :revision AND #removed = :removed \
                 AND #connected = :wasConnected"
                    .to_owned()
            }
        }
    }
}

/// The values a condition compares the tally with.
fn expect(values: &mut HashMap<String, AttributeValue>, version: Version, connected: bool) {
    values.insert(":created".into(), number(version.created));
    values.insert(":revision".into(), number(version.revision));
    values.insert(":removed".into(), number(u8::from(version.removed)));
    values.insert(":wasConnected".into(), AttributeValue::Bool(connected));
}

/// The attribute name placeholders `expressions` use: DynamoDB rejects unused ones.
fn names_in(expressions: &[&str]) -> HashMap<String, String> {
    [
        ("#key", KEY),
        ("#created", CREATED),
        ("#revision", REVISION),
        ("#removed", REMOVED),
        ("#connected", CONNECTED),
        ("#expiresAt", EXPIRES_AT),
    ]
    .into_iter()
    .filter(|(placeholder, _)| expressions.iter().any(|e| e.contains(placeholder)))
    .map(|(placeholder, name)| (placeholder.to_owned(), name.to_owned()))
    .collect()
}

pub fn tally_key(client_id: &str) -> String {
    format!("Tally#{client_id}")
}

pub fn shard_key(shard: u32) -> String {
    format!("Connected#{shard}")
}

fn key(value: String) -> HashMap<String, AttributeValue> {
    HashMap::from([(KEY.to_owned(), AttributeValue::S(value))])
}

/// A tally as stored; None when the item is not one.
pub fn tally_of(item: &Item) -> Option<Tally> {
    Some(Tally {
        version: Version {
            created: number_attr(item, CREATED)?,
            revision: number_attr(item, REVISION)?,
            removed: number_attr::<u8>(item, REMOVED)? == 1,
        },
        connected: *item.get(CONNECTED)?.as_bool().ok()?,
    })
}

/// Epoch seconds after which a tombstone may expire: beyond the stream's 24-hour
/// retention (and the mapping's maximum record age), no older record can arrive.
fn tombstone_expiry() -> u64 {
    expiry(TOMBSTONE_LIFETIME)
}

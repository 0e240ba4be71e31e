//! The pages table: one item per incident key (what is wanted, what is settled, who holds
//! it) and one per routing key and minute (the rate budget). Every change is one
//! conditional write; [`crate::paging::decision`] decides which.
//!
//! Keys: `key = <deployment>/<clientId>` or `<deployment>/storm/<stormId>`; rate buckets
//! `key = rate#<routing key digest>#<limit>` (the times of the last `limit` posts). Items owing a post carry `owed = "1"`, the
//! key of the sparse index [`OWED_INDEX`] the pass reads.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use super::decision::{Action, KeyState};
use super::page::Intent;
use crate::shared::dynamodb::{expiry, number, number_attr, Expression, StoreError};
use crate::shared::Item;

/// The sparse index of keys owing a post.
pub const OWED_INDEX: &str = "ByOwed";
/// How long a key's item outlives its last change: longer than SQS keeps a message (14
/// days) and EventBridge retries one (24 h), so a late announcement still meets its fence.
const KEY_RETENTION: Duration = Duration::from_secs(15 * 86_400);

mod attr {
    pub const KEY: &str = "key";
    pub const WANT: &str = "wantAction";
    pub const WANT_SEQ: &str = "wantSeq";
    pub const PAYLOAD: &str = "payload";
    pub const SECRET: &str = "secretArn";
    pub const NOT_BEFORE: &str = "notBefore";
    pub const SETTLED: &str = "settledSeq";
    pub const REFUSED: &str = "refusedSeq";
    pub const MAYBE_OPEN: &str = "maybeOpen";
    pub const STORM: &str = "stormId";
    pub const CLAIM: &str = "claimOwner";
    pub const CLAIM_UNTIL: &str = "claimUntil";
    pub const ATTEMPTS: &str = "attempts";
    pub const OWED: &str = "owed";
    pub const EXPIRES_AT: &str = "expiresAt";
    pub const RING: &str = "ring";
    pub const TAKEN: &str = "taken";
    pub const OPEN_SECRET: &str = "openSecretArn";
}

/// One incident key as stored.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub state: KeyState,
    pub payload: Value,
    /// Where the latest trigger goes.
    pub secret_arn: Option<String>,
    /// Where the alert that may be open went: where its resolve goes.
    pub open_secret_arn: Option<String>,
    pub attempts: u32,
    pub owed_marked: bool,
}

#[derive(Clone)]
pub struct PagesTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

impl PagesTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        PagesTable { client, table }
    }

    /// Records what `intent` wants, if its sequence is newer than the recorded one: the
    /// fence that keeps a late trigger from replacing its device's resolve. Ok(false) for
    /// a duplicate or an older announcement.
    pub async fn record(&self, intent: &Intent, now_ms: u64) -> Result<bool, StoreError> {
        let mut u = Expression::default();
        let mut sets = vec![
            u.assign(attr::WANT, s(intent.action.event_action())),
            u.assign(attr::WANT_SEQ, number(intent.sequence)),
            u.assign(
                attr::NOT_BEFORE,
                number(now_ms + intent.hold.as_millis() as u64),
            ),
            u.assign(attr::OWED, s("1")),
            u.assign(attr::ATTEMPTS, number(0)),
        ];
        // A resolve goes where its trigger went (see `claim`), whatever its own route says.
        if intent.action == Action::Trigger {
            sets.push(u.assign(attr::SECRET, s(&intent.destination.routing_key_secret_arn)));
            sets.push(u.assign(attr::PAYLOAD, s(&intent.payload.to_string())));
        }
        let want_seq = u.name(attr::WANT_SEQ);
        let condition = format!(
            "attribute_not_exists({want_seq}) OR {want_seq} < {}",
            u.value("sequence", number(intent.sequence))
        );
        // Owed: kept until settled (TTL only ever removes a key with nothing owed or open).
        let update = format!(
            "SET {} REMOVE {}",
            sets.join(", "),
            u.name(attr::EXPIRES_AT)
        );
        self.update(&intent.key, update, Some(condition), u).await
    }

    /// Marks a device as listed in an open storm: its own trigger waits for the storm's end.
    /// A key with nothing recorded yet may expire; one with a want keeps its expiry as is.
    pub async fn mark_storm(&self, key: &str, storm_id: &str) -> Result<(), StoreError> {
        for _ in 0..3 {
            let mut u = Expression::default();
            let update = format!("SET {}", u.assign(attr::STORM, s(storm_id)));
            let condition = format!("attribute_exists({})", u.name(attr::WANT_SEQ));
            if self.update(key, update, Some(condition), u).await? {
                return Ok(());
            }
            let mut u = Expression::default();
            let update = format!(
                "SET {}, {}",
                u.assign(attr::STORM, s(storm_id)),
                u.assign(attr::EXPIRES_AT, number(expiry(KEY_RETENTION)))
            );
            let condition = format!("attribute_not_exists({})", u.name(attr::WANT_SEQ));
            if self.update(key, update, Some(condition), u).await? {
                return Ok(());
            }
        }
        Err(StoreError::Contention {
            client_id: key.to_owned(),
            attempts: 3,
        })
    }

    pub async fn read(&self, key: &str) -> Result<Option<Stored>, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::KEY, s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| StoreError::dynamodb("GetItem", &self.table, key, err))?
            .item;
        Ok(item.map(|item| stored_of(&item)))
    }

    /// Takes the key to post `action` for `sequence`: only while that is still what is
    /// wanted, not settled, and no other sender's claim is live. A trigger marks the key
    /// possibly open before it is posted, so a resolve after a crash mid-post is sent,
    /// never skipped. Some(whether it was possibly open before): claimed; None: not.
    pub async fn claim(
        &self,
        key: &str,
        me: &str,
        action: Action,
        sequence: u64,
        now_ms: u64,
        lease: Duration,
    ) -> Result<Option<bool>, StoreError> {
        let mut u = Expression::default();
        let mut sets = vec![
            u.assign(attr::CLAIM, s(me)),
            u.assign(attr::CLAIM_UNTIL, number(now_ms + lease.as_millis() as u64)),
        ];
        let settled = u.name(attr::SETTLED);
        let seq = u.value("sequence", number(sequence));
        let mut condition = format!(
            "{} AND (attribute_not_exists({settled}) OR {settled} < {seq}) AND {}",
            wanted_is(&mut u, sequence),
            free_for(&mut u, me, now_ms),
        );
        match action {
            Action::Trigger => {
                sets.push(u.assign(attr::MAYBE_OPEN, AttributeValue::Bool(true)));
                // Where the alert may now be open: its resolve goes there.
                let open_secret = u.name(attr::OPEN_SECRET);
                sets.push(format!("{open_secret} = {}", u.name(attr::SECRET)));
            }
            // A resolve is posted only while the key may be open.
            Action::Resolve => {
                let open = u.name(attr::MAYBE_OPEN);
                condition.push_str(&format!(
                    " AND {open} = {}",
                    u.value("open", AttributeValue::Bool(true))
                ));
            }
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::KEY, s(key))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(u.names))
            .set_expression_attribute_values(Some(u.values))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedOld)
            .send()
            .await;
        match result {
            // A resolve's claim required the key possibly open and left it so; a trigger's
            // set it, and UPDATED_OLD says what it was.
            Ok(_) if action == Action::Resolve => Ok(Some(true)),
            Ok(output) => Ok(Some(
                output
                    .attributes()
                    .and_then(|old| old.get(attr::MAYBE_OPEN))
                    .and_then(|v| v.as_bool().ok())
                    .copied()
                    .unwrap_or(false),
            )),
            Err(err)
                if aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&err)
                    == Some("ConditionalCheckFailedException") =>
            {
                Ok(None)
            }
            Err(err) => Err(StoreError::dynamodb("UpdateItem", &self.table, key, err)),
        }
    }

    /// Settles `sequence` after PagerDuty answered `me`'s post (`maybe_open` as the answer
    /// left it), or without a post (`me` None: only while nobody holds the key, it is still
    /// wanted, and no trigger may be open).
    pub async fn settle(
        &self,
        key: &str,
        me: Option<&str>,
        sequence: u64,
        maybe_open: bool,
        refused: bool,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let mut u = Expression::default();
        let mut sets = vec![
            u.assign(attr::SETTLED, number(sequence)),
            u.assign(attr::MAYBE_OPEN, AttributeValue::Bool(maybe_open)),
            u.assign(attr::ATTEMPTS, number(0)),
        ];
        if refused {
            sets.push(u.assign(attr::REFUSED, number(sequence)));
        }
        let condition = match me {
            Some(me) => format!("{} = {}", u.name(attr::CLAIM), u.value("me", s(me))),
            None => {
                let open = u.name(attr::MAYBE_OPEN);
                format!(
                    "{} AND {} AND (attribute_not_exists({open}) OR {open} = {})",
                    wanted_is(&mut u, sequence),
                    unclaimed(&mut u, now_ms),
                    u.value("closed", AttributeValue::Bool(false))
                )
            }
        };
        // A key that may be open never expires: its resolve needs it.
        let update = if maybe_open {
            format!(
                "SET {} REMOVE {}, {}, {}",
                sets.join(", "),
                u.name(attr::CLAIM),
                u.name(attr::CLAIM_UNTIL),
                u.name(attr::EXPIRES_AT)
            )
        } else {
            sets.push(u.assign(attr::EXPIRES_AT, number(expiry(KEY_RETENTION))));
            format!(
                "SET {} REMOVE {}, {}",
                sets.join(", "),
                u.name(attr::CLAIM),
                u.name(attr::CLAIM_UNTIL)
            )
        };
        self.update(key, update, Some(condition), u).await
    }

    /// Lets go of `me`'s claim without settling, posting nothing before `not_before_ms`
    /// (PagerDuty throttled the post, or the rate budget is spent: nothing is in flight),
    /// with `maybe_open` as it was before the claim, counting a failed attempt when `failed`.
    pub async fn release(
        &self,
        key: &str,
        me: &str,
        failed: bool,
        not_before_ms: u64,
        maybe_open: bool,
    ) -> Result<bool, StoreError> {
        let mut u = Expression::default();
        let attempts = u.name(attr::ATTEMPTS);
        let step = u.value("step", number(u32::from(failed)));
        let zero = u.value("zero", number(0));
        let update = format!(
            "SET {attempts} = if_not_exists({attempts}, {zero}) + {step}, {}, {} REMOVE {}, {}",
            u.assign(attr::NOT_BEFORE, number(not_before_ms)),
            u.assign(attr::MAYBE_OPEN, AttributeValue::Bool(maybe_open)),
            u.name(attr::CLAIM),
            u.name(attr::CLAIM_UNTIL)
        );
        let condition = format!("{} = {}", u.name(attr::CLAIM), u.value("me", s(me)));
        self.update(key, update, Some(condition), u).await
    }

    /// After a post whose fate is unknown (5xx, no answer): the claim is kept to its lease's
    /// end, so nothing else is posted for the key while the post may still be on its way,
    /// and counted as a failed attempt.
    pub async fn keep_claim(&self, key: &str, me: &str) -> Result<bool, StoreError> {
        let mut u = Expression::default();
        let attempts = u.name(attr::ATTEMPTS);
        let update = format!(
            "SET {attempts} = if_not_exists({attempts}, {}) + {}",
            u.value("zero", number(0)),
            u.value("one", number(1))
        );
        let condition = format!("{} = {}", u.name(attr::CLAIM), u.value("me", s(me)));
        self.update(key, update, Some(condition), u).await
    }

    /// Takes the key off the pass's index once what it wants is settled (a newer want
    /// recorded meanwhile keeps it on).
    pub async fn clear_owed(&self, key: &str, sequence: u64) -> Result<bool, StoreError> {
        let mut u = Expression::default();
        let settled = u.name(attr::SETTLED);
        let condition = format!(
            "{} AND {settled} = {}",
            wanted_is(&mut u, sequence),
            u.value("settled", number(sequence))
        );
        let update = format!("REMOVE {}", u.name(attr::OWED));
        self.update(key, update, Some(condition), u).await
    }

    /// Makes a page PagerDuty refused (400) owed again, when it is re-driven from the
    /// dead-letter queue and nothing newer was wanted since.
    pub async fn reopen_refused(&self, key: &str, sequence: u64) -> Result<bool, StoreError> {
        let mut u = Expression::default();
        let refused = u.name(attr::REFUSED);
        let condition = format!(
            "{} AND {refused} = {}",
            wanted_is(&mut u, sequence),
            u.value("refused", number(sequence))
        );
        let update = format!(
            "SET {} REMOVE {}, {refused}",
            u.assign(attr::OWED, s("1")),
            u.name(attr::SETTLED)
        );
        self.update(key, update, Some(condition), u).await
    }

    /// Takes one post from a routing key's budget: at most `limit` in any `window`.
    /// The bucket's item keeps the times of the last `limit` posts in a ring; a post is
    /// taken only when the time it overwrites is at least `window` old, by a write
    /// conditional on the count of posts taken it read. Ok(None): taken; Ok(Some(t)): not before t
    /// (epoch ms).
    pub async fn take_rate(
        &self,
        bucket: &str,
        limit: u32,
        window: Duration,
        now_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        let window_ms = window.as_millis() as u64;
        for _ in 0..5 {
            let item = self
                .client
                .get_item()
                .table_name(&self.table)
                .key(attr::KEY, s(bucket))
                .consistent_read(true)
                .send()
                .await
                .map_err(|err| StoreError::dynamodb("GetItem", &self.table, bucket, err))?
                .item;
            let Some(taken) = item
                .as_ref()
                .and_then(|item| number_attr::<u64>(item, attr::TAKEN))
            else {
                let mut u = Expression::default();
                let ring = AttributeValue::L(vec![number(0); limit as usize]);
                let update = format!(
                    "SET {}, {}, {}",
                    u.assign(attr::RING, ring),
                    u.assign(attr::TAKEN, number(0)),
                    u.assign(attr::EXPIRES_AT, number(expiry(KEY_RETENTION)))
                );
                let condition = format!("attribute_not_exists({})", u.name(attr::TAKEN));
                self.update(bucket, update, Some(condition), u).await?;
                continue;
            };
            // The slot of the post `limit` posts ago; `taken` only grows, so a write
            // conditional on it cannot land on a slot another take reused meanwhile.
            let slot = taken % u64::from(limit);
            let oldest = item
                .as_ref()
                .and_then(|item| {
                    item.get(attr::RING)?
                        .as_l()
                        .ok()?
                        .get(slot as usize)?
                        .as_n()
                        .ok()?
                        .parse::<u64>()
                        .ok()
                })
                .unwrap_or(0);
            if oldest + window_ms > now_ms {
                return Ok(Some(oldest + window_ms));
            }
            let mut u = Expression::default();
            let ring = u.name(attr::RING);
            let taken_name = u.name(attr::TAKEN);
            let update = format!(
                "SET {ring}[{slot}] = {}, {taken_name} = {}, {}",
                u.value("now", number(now_ms)),
                u.value("next", number(taken + 1)),
                u.assign(attr::EXPIRES_AT, number(expiry(KEY_RETENTION)))
            );
            let condition = format!("{taken_name} = {}", u.value("taken", number(taken)));
            if self.update(bucket, update, Some(condition), u).await? {
                return Ok(None);
            }
        }
        // Other posts kept taking slots: try again in a moment.
        Ok(Some(now_ms + 1_000))
    }

    /// The keys owing a post, from the sparse index (eventually consistent: each is read
    /// again before it is acted on).
    pub async fn owed_keys(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(OWED_INDEX)
                .key_condition_expression("#owed = :one")
                .expression_attribute_names("#owed", attr::OWED)
                .expression_attribute_values(":one", s("1"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|err| StoreError::dynamodb("Query", &self.table, OWED_INDEX, err))?;
            keys.extend(
                page.items()
                    .iter()
                    .filter_map(|item| item.get(attr::KEY)?.as_s().ok().cloned()),
            );
            start = page.last_evaluated_key;
            if start.is_none() || keys.len() >= limit {
                keys.truncate(limit);
                return Ok(keys);
            }
        }
    }

    async fn update(
        &self,
        key: &str,
        update: String,
        condition: Option<String>,
        u: Expression,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::KEY, s(key))
            .update_expression(update)
            .set_condition_expression(condition)
            .set_expression_attribute_names(Some(u.names))
            .set_expression_attribute_values((!u.values.is_empty()).then_some(u.values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&err)
                    == Some("ConditionalCheckFailedException") =>
            {
                Ok(false)
            }
            Err(err) => Err(StoreError::dynamodb("UpdateItem", &self.table, key, err)),
        }
    }
}

/// The condition: `sequence` is what the key wants now.
fn wanted_is(u: &mut Expression, sequence: u64) -> String {
    format!(
        "{} = {}",
        u.name(attr::WANT_SEQ),
        u.value("wanted", number(sequence))
    )
}

/// The condition: no live claim.
fn unclaimed(u: &mut Expression, now_ms: u64) -> String {
    let claim = u.name(attr::CLAIM);
    let until = u.name(attr::CLAIM_UNTIL);
    format!(
        "(attribute_not_exists({claim}) OR {until} < {})",
        u.value("now", number(now_ms))
    )
}

/// The condition: no live claim but `me`'s.
fn free_for(u: &mut Expression, me: &str, now_ms: u64) -> String {
    let claim = u.name(attr::CLAIM);
    let until = u.name(attr::CLAIM_UNTIL);
    format!(
        "(attribute_not_exists({claim}) OR {until} < {} OR {claim} = {})",
        u.value("now", number(now_ms)),
        u.value("claimer", s(me))
    )
}

fn stored_of(item: &Item) -> Stored {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let wanted = text(attr::WANT)
        .and_then(|action| Action::parse(&action))
        .zip(number_attr::<u64>(item, attr::WANT_SEQ));
    let claim = text(attr::CLAIM).zip(number_attr::<u64>(item, attr::CLAIM_UNTIL));
    Stored {
        state: KeyState {
            wanted,
            settled: number_attr(item, attr::SETTLED),
            maybe_open: item
                .get(attr::MAYBE_OPEN)
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
            not_before_ms: number_attr(item, attr::NOT_BEFORE).unwrap_or(0),
            storm: text(attr::STORM),
            claim,
        },
        payload: text(attr::PAYLOAD)
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or(Value::Null),
        secret_arn: text(attr::SECRET),
        open_secret_arn: text(attr::OPEN_SECRET),
        attempts: number_attr(item, attr::ATTEMPTS).unwrap_or(0),
        owed_marked: item.contains_key(attr::OWED),
    }
}

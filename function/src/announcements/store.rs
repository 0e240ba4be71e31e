//! The item's announcement writes (events_enabled): claim, confirm, settle, mark as owed,
//! and the item read as the pure decision sees it ([`snapshot_of`]). Each is one
//! conditional write on the presence store's item.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::announcements::decision::{Announced, Snapshot, Transition};
use crate::presence::ordering::Presence;
use crate::presence::store::{owed_shard_key, update_expression, Attempt, Expression, Item, Store};
use crate::shared::dynamodb::{expiry, number, number_attr, StoreError};
use crate::shared::time::now_ms;

/// The item's attributes: the presence store's, and the announcement's own (events_enabled),
/// which only this pipeline writes.
pub mod attr {
    pub use crate::presence::store::attr::*;

    /// The status the newest announcement said (events_enabled only).
    pub const ANNOUNCED_STATUS: &str = "AnnouncedStatus";
    /// The `eventId` of the newest announcement.
    pub const ANNOUNCEMENT_ID: &str = "AnnouncementId";
    /// Present (true) while the newest announcement is recorded but not confirmed as put.
    pub const ANNOUNCEMENT_PENDING: &str = "AnnouncementPending";
    /// The pending announcement's detail (JSON), so any later attempt can put it.
    pub const ANNOUNCEMENT_DETAIL: &str = "AnnouncementDetail";
    /// Wall-clock ms at which the newest announcement was recorded.
    pub const ANNOUNCED_AT: &str = "AnnouncedAt";
    /// The token of the look holding the pending announcement's claim, so that a claim
    /// written again after its first attempt landed unseen is still that look's.
    pub const ANNOUNCEMENT_CLAIM: &str = "AnnouncementClaim";
    /// The newest announcement's `sequence`, written with its claim: consumers order a
    /// client's announcements by it.
    pub const ANNOUNCEMENT_SEQUENCE: &str = "AnnouncementSequence";
    /// The thing (`detail.thing`, JSON) of the newest announcement that knew it, kept after
    /// the announcement is confirmed: what a look falls back on when the registry cannot
    /// answer in time (thing_context_enabled).
    pub const ANNOUNCED_THING: &str = "AnnouncedThing";
}

/// What a claim records of the device's thing in [`attr::ANNOUNCED_THING`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnownThing {
    /// The registry did not answer, or is not read: what is recorded stays.
    Unchanged,
    /// The registry described the thing (`detail.thing`, JSON).
    Is(String),
    /// The registry has no such thing: nothing is recorded any more.
    Gone,
}

/// The sparse index of the items that may owe an announcement (events_enabled): hash key
/// [`attr::OWED_SHARD`](crate::presence::store::attr::OWED_SHARD), range key `LastUpdateTime`, keys only.
pub const OWED_INDEX: &str = "ByAnnouncementOwed";

/// The announcement writes (events_enabled). None touches `Revision` nor
/// `LastUpdateTime`: they change no presence attribute, so presence writers need not
/// notice them, the status index does not churn, and a verdict made at one revision can
/// be written on condition that the revision is unchanged.
impl Store {
    /// Records `transition`'s announcement as pending, held by the look drawing `token`,
    /// with its `sequence`, on condition that the item is at `revision` and at the
    /// announcement sequence `previous` (the state the verdict was made on), no
    /// other announcement is pending, and the newest one said the other status (or there
    /// is none); or that `token` holds it already (the SDK retried a timed-out attempt
    /// that had landed): [`crate::announcements::decision::claimable`] as a condition.
    /// Whether the claim is this look's.
    pub async fn claim_announcement(
        &self,
        transition: &Transition,
        detail: &str,
        known_thing: KnownThing,
        revision: Option<u64>,
        sequence: (Option<u64>, u64),
        token: &str,
    ) -> Result<bool, StoreError> {
        let (previous, sequence) = sequence;
        let mut expr = Expression::default();
        let sequence_name = expr.name(attr::ANNOUNCEMENT_SEQUENCE);
        let sequence_unchanged = match previous {
            Some(previous) => format!(
                "{sequence_name} = {}",
                expr.value("previousSequence", number(previous))
            ),
            None => format!("attribute_not_exists({sequence_name})"),
        };
        let wanted = expr.value(
            "status",
            AttributeValue::S(transition.status.status().into()),
        );
        let announced = expr.name(attr::ANNOUNCED_STATUS);
        let pending = expr.name(attr::ANNOUNCEMENT_PENDING);
        let mut sets = vec![
            format!("{announced} = {wanted}"),
            expr.assign(
                attr::ANNOUNCEMENT_ID,
                AttributeValue::S(transition.event_id()),
            ),
            format!(
                "{pending} = {}",
                expr.value("true", AttributeValue::Bool(true))
            ),
            expr.assign(attr::ANNOUNCEMENT_DETAIL, AttributeValue::S(detail.into())),
            expr.assign(attr::ANNOUNCED_AT, number(now_ms())),
            expr.assign(attr::ANNOUNCEMENT_CLAIM, AttributeValue::S(token.into())),
            format!(
                "{sequence_name} = {}",
                expr.value("sequence", number(sequence))
            ),
        ];
        let mut removes = Vec::new();
        match known_thing {
            KnownThing::Unchanged => {}
            KnownThing::Is(thing) => {
                sets.push(expr.assign(attr::ANNOUNCED_THING, AttributeValue::S(thing)))
            }
            KnownThing::Gone => removes.push(expr.name(attr::ANNOUNCED_THING)),
        }
        let condition = format!(
            "({} AND {sequence_unchanged} AND attribute_not_exists({pending}) \
             AND (attribute_not_exists({announced}) OR {announced} <> {wanted})) \
             OR (attribute_exists({pending}) AND {} AND {})",
            expr.unchanged(revision),
            expr.assign(attr::ANNOUNCEMENT_CLAIM, AttributeValue::S(token.into())),
            expr.assign(
                attr::ANNOUNCEMENT_ID,
                AttributeValue::S(transition.event_id())
            ),
        );
        self.announcement_write(
            &transition.client_id,
            update_expression(&sets, &removes),
            condition,
            expr,
        )
        .await
    }

    /// Takes over the pending announcement `event_id`, whose claim was taken at
    /// `claimed_at` and has outlived its lease (or was released): its `AnnouncedAt` becomes
    /// now and its claim `token`'s, on condition that nobody took it over meanwhile (or
    /// that `token` did, in an earlier attempt of this write). So of several looks that
    /// find the same expired claim, one puts it. Whether this look holds it.
    pub async fn resume_announcement(
        &self,
        client_id: &str,
        event_id: &str,
        claimed_at: Option<i64>,
        token: &str,
        stamp: Option<(&str, Option<u64>, u64)>,
    ) -> Result<bool, StoreError> {
        let mut expr = Expression::default();
        let mut sets = vec![
            expr.assign(attr::ANNOUNCED_AT, number(now_ms())),
            expr.assign(attr::ANNOUNCEMENT_CLAIM, AttributeValue::S(token.into())),
        ];
        let at = expr.name(attr::ANNOUNCED_AT);
        let unchanged = match claimed_at {
            Some(claimed_at) => format!("{at} = {}", expr.value("claimed", number(claimed_at))),
            None => format!("attribute_not_exists({at})"),
        };
        let mut condition = format!(
            "{} AND ({unchanged} OR {})",
            self.pending_condition(&mut expr, event_id),
            expr.assign(attr::ANNOUNCEMENT_CLAIM, AttributeValue::S(token.into())),
        );
        // A detail claimed before sequences: stamped, on condition of the sequence read.
        if let Some((detail, previous, sequence)) = stamp {
            sets.push(expr.assign(attr::ANNOUNCEMENT_DETAIL, AttributeValue::S(detail.into())));
            let name = expr.name(attr::ANNOUNCEMENT_SEQUENCE);
            sets.push(format!(
                "{name} = {}",
                expr.value("sequence", number(sequence))
            ));
            condition.push_str(&match previous {
                Some(previous) => format!(
                    " AND {name} = {}",
                    expr.value("previousSequence", number(previous))
                ),
                None => format!(" AND attribute_not_exists({name})"),
            });
        }
        self.announcement_write(client_id, update_expression(&sets, &[]), condition, expr)
            .await
    }

    /// Gives up this look's (`token`'s) claim of `event_id` after its put failed, so that
    /// the next look (a grace check, the reconciler) puts it at once rather than after the
    /// lease.
    pub async fn release_announcement(
        &self,
        client_id: &str,
        event_id: &str,
        token: &str,
    ) -> Result<bool, StoreError> {
        let mut expr = Expression::default();
        let update = format!(
            "SET {} REMOVE {}",
            expr.assign(attr::ANNOUNCED_AT, number(0)),
            expr.name(attr::ANNOUNCEMENT_CLAIM)
        );
        let condition = format!(
            "{} AND {}",
            self.pending_condition(&mut expr, event_id),
            expr.assign(attr::ANNOUNCEMENT_CLAIM, AttributeValue::S(token.into())),
        );
        self.announcement_write(client_id, update, condition, expr)
            .await
    }

    /// `event_id` is the item's announcement, and still pending.
    fn pending_condition(&self, expr: &mut Expression, event_id: &str) -> String {
        let pending = expr.name(attr::ANNOUNCEMENT_PENDING);
        format!(
            "attribute_exists({pending}) AND {}",
            expr.assign(
                attr::ANNOUNCEMENT_ID,
                AttributeValue::S(event_id.to_owned())
            )
        )
    }

    /// Marks the announcement `event_id`, held by the look drawing `token`, as put. With
    /// `settle` (the revision at which the announcement agrees with the status, and that
    /// status), also removes the owed mark, on condition that the item is still at that
    /// revision; otherwise, or if it moved on, the mark stays and the item is looked at
    /// again. A no-op if another announcement replaced this one, or another look took this
    /// one over (it confirms its own put). Whether the item was settled.
    pub async fn confirm_announcement(
        &self,
        client_id: &str,
        event_id: &str,
        token: &str,
        settle: Option<(Option<u64>, Presence)>,
    ) -> Result<bool, StoreError> {
        if let Some((revision, status)) = settle {
            let mut expr = Expression::default();
            let (sets, mut removes) = self.settle_changes(&mut expr, status);
            removes.extend([
                expr.name(attr::ANNOUNCEMENT_PENDING),
                expr.name(attr::ANNOUNCEMENT_DETAIL),
                expr.name(attr::ANNOUNCEMENT_CLAIM),
            ]);
            let condition = format!(
                "{} AND {}",
                held(&mut expr, event_id, token),
                expr.unchanged(revision)
            );
            let update = update_expression(&sets, &removes);
            if self
                .announcement_write(client_id, update, condition, expr)
                .await?
            {
                return Ok(true);
            }
        }
        let mut expr = Expression::default();
        let removes = [
            expr.name(attr::ANNOUNCEMENT_PENDING),
            expr.name(attr::ANNOUNCEMENT_DETAIL),
            expr.name(attr::ANNOUNCEMENT_CLAIM),
        ];
        let condition = held(&mut expr, event_id, token);
        self.announcement_write(client_id, update_expression(&[], &removes), condition, expr)
            .await?;
        Ok(false)
    }

    /// Removes the owed mark of an item whose last announcement agrees with its `status`,
    /// on condition that it is still at `revision` with nothing pending. Whether it did.
    pub async fn settle(
        &self,
        client_id: &str,
        revision: Option<u64>,
        status: Presence,
    ) -> Result<bool, StoreError> {
        let mut expr = Expression::default();
        let (sets, removes) = self.settle_changes(&mut expr, status);
        let condition = format!(
            "{} AND attribute_exists({}) AND attribute_not_exists({})",
            expr.unchanged(revision),
            expr.name(attr::OWED_SHARD),
            expr.name(attr::ANNOUNCEMENT_PENDING),
        );
        let update = update_expression(&sets, &removes);
        self.announcement_write(client_id, update, condition, expr)
            .await
    }

    /// Marks an item as owing an announcement (the reconciler then looks at it), unless it
    /// is marked already or gone. For items written before the mark existed, or before
    /// connectivity events were turned on. Whether it marked the item.
    pub async fn mark_owed(&self, client_id: &str) -> Result<bool, StoreError> {
        let mut expr = Expression::default();
        // Into the owed index, whose sort key items from before this release (the
        // sample's) may lack; and never expiring while owed.
        let updated = expr.name(attr::LAST_UPDATE_TIME);
        let now = expr.value(attr::LAST_UPDATE_TIME, number(now_ms()));
        let update = format!(
            "SET {}, {updated} = if_not_exists({updated}, {now}) REMOVE {}",
            expr.assign(
                attr::OWED_SHARD,
                AttributeValue::S(owed_shard_key(client_id))
            ),
            expr.name(attr::EXPIRES_AT)
        );
        let condition = format!(
            "attribute_exists({}) AND attribute_not_exists({})",
            expr.name(attr::CLIENT_ID),
            expr.name(attr::OWED_SHARD)
        );
        self.announcement_write(client_id, update, condition, expr)
            .await
    }

    /// What settling an item of `status` writes: the owed mark removed and, for a
    /// disconnected client with an item TTL, its expiry (withheld while it was owed).
    fn settle_changes(
        &self,
        expr: &mut Expression,
        status: Presence,
    ) -> (Vec<String>, Vec<String>) {
        let mut sets = Vec::new();
        if let (Presence::Disconnected, Some(ttl)) = (status, self.item_ttl) {
            sets.push(expr.assign(attr::EXPIRES_AT, number(expiry(ttl))));
        }
        (sets, vec![expr.name(attr::OWED_SHARD)])
    }

    async fn announcement_write(
        &self,
        client_id: &str,
        update: String,
        condition: String,
        expr: Expression,
    ) -> Result<bool, StoreError> {
        let mut round_trips = 0;
        match self
            .conditional_update(client_id, update, condition, expr, &mut round_trips)
            .await?
        {
            Attempt::Written => Ok(true),
            Attempt::ConditionFailed(_) => Ok(false),
        }
    }
}

/// `event_id` is the item's announcement and the look drawing `token` holds its claim.
fn held(expr: &mut Expression, event_id: &str, token: &str) -> String {
    format!(
        "{} AND {}",
        expr.assign(attr::ANNOUNCEMENT_ID, AttributeValue::S(event_id.into())),
        expr.assign(attr::ANNOUNCEMENT_CLAIM, AttributeValue::S(token.into()))
    )
}

/// What an item says about announcements.
pub fn snapshot_of(item: &Item) -> Snapshot {
    let text = |name: &str| item.get(name).and_then(|value| value.as_s().ok());
    let presence = |name: &str| match text(name).map(String::as_str) {
        Some("Connected") => Some(Presence::Connected),
        Some("Disconnected") => Some(Presence::Disconnected),
        _ => None,
    };
    let announced = match (
        presence(attr::ANNOUNCED_STATUS),
        text(attr::ANNOUNCEMENT_ID),
    ) {
        (Some(status), Some(event_id)) => Some(Announced {
            status,
            event_id: event_id.clone(),
            // As the conditions test it: present means pending.
            pending: item.contains_key(attr::ANNOUNCEMENT_PENDING),
        }),
        _ => None,
    };
    Snapshot {
        status: presence(attr::STATUS),
        connect_time: number_attr(item, attr::CONNECT_TIME),
        disconnect_time: number_attr(item, attr::DISCONNECT_TIME),
        disconnect_recorded_at: number_attr(item, attr::DISCONNECT_RECORDED_AT),
        announced,
        announced_at: number_attr(item, attr::ANNOUNCED_AT),
        claim: text(attr::ANNOUNCEMENT_CLAIM).cloned(),
        revision: number_attr(item, attr::REVISION),
        owed: item.contains_key(attr::OWED_SHARD),
        sequence: number_attr(item, attr::ANNOUNCEMENT_SEQUENCE),
        created: number_attr(item, attr::CREATED_TIME),
    }
}

//! The fleet table (maintenance windows, storm digests): maintenance windows under one
//! partition, and per storm group a head and its members. Every state change is one
//! conditional write.
//!
//! Keys: `PK = "maintenance"`, `SK = <windowId>`; `PK = "storm#<groupBy>#<group>"`,
//! `SK = "#"` (the head) or `SK = "member#<clientId>"`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Select};

use crate::announcements::maintenance::{Scope, Window};
use crate::announcements::storm::{FleetAnnouncement, FleetState, Head, Member};
use crate::presence::store::Expression;
use crate::shared::dynamodb::{number, number_attr, StoreError};
use crate::shared::time::now_ms;
use crate::shared::Item;

pub const MAINTENANCE: &str = "maintenance";
const HEAD: &str = "#";
const STORM: &str = "storm#";
const MEMBER: &str = "member#";
/// Ended or expired windows are kept this long for their audit trail, then expire.
const WINDOW_RETENTION_SECONDS: i64 = 90 * 86_400;

mod attr {
    pub const PK: &str = "PK";
    pub const SK: &str = "SK";
    pub const EXPIRES_AT: &str = "ExpiresAt";
    // Windows.
    pub const CLIENTS: &str = "Clients";
    pub const GROUP: &str = "Group";
    pub const STARTED_AT: &str = "StartedAt";
    pub const UNTIL: &str = "Until";
    pub const REASON: &str = "Reason";
    pub const STARTED_BY: &str = "StartedBy";
    pub const ENDED_AT: &str = "EndedAt";
    pub const ENDED_BY: &str = "EndedBy";
    pub const END_REASON: &str = "EndReason";
    // Storm heads and members.
    pub const STATE: &str = "State";
    pub const STORM_ID: &str = "StormId";
    pub const SINCE: &str = "Since";
    pub const SEQUENCE: &str = "Sequence";
    pub const PENDING: &str = "Pending";
    pub const CLAIMED_AT: &str = "ClaimedAt";
    pub const CLAIM: &str = "Claim";
    pub const PEAK: &str = "Peak";
    pub const DETAIL: &str = "Detail";
    pub const DOWN_AT: &str = "DownAt";
    pub const CLIENT_ID: &str = "ClientId";
}

/// Which member a removal means.
#[derive(Debug, Clone, Copy)]
pub enum Which {
    Recorded(i64),
    Before(i64),
}

/// A group's head as stored, with the pending announcement's detail to put again.
#[derive(Debug, Clone, Default)]
pub struct StoredHead {
    pub key: String,
    pub group: String,
    pub head: Head,
    pub detail: Option<String>,
}

#[derive(Clone)]
pub struct FleetStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name)?.as_s().ok().cloned()
}

impl FleetStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { client, table }
    }

    fn error<E, R>(
        &self,
        operation: &'static str,
        key: &str,
        err: aws_sdk_dynamodb::error::SdkError<E, R>,
    ) -> StoreError
    where
        E: std::error::Error
            + aws_sdk_dynamodb::error::ProvideErrorMetadata
            + Send
            + Sync
            + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        StoreError::dynamodb(operation, &self.table, key, err)
    }

    /// Every item of a partition (`SK` beginning with `prefix`), read consistently.
    async fn partition(&self, pk: &str, prefix: Option<&str>) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start.take());
            query = match prefix {
                Some(prefix) => query
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_names("#sk", attr::SK)
                    .expression_attribute_values(":prefix", s(prefix)),
                None => query.key_condition_expression("#pk = :pk"),
            };
            let page = query
                .send()
                .await
                .map_err(|err| self.error("Query", pk, err))?;
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }

    // --- Maintenance windows.

    /// Every window kept (active, ended or past), oldest first.
    pub async fn windows(&self) -> Result<Vec<Window>, StoreError> {
        let mut windows: Vec<Window> = self
            .partition(MAINTENANCE, None)
            .await?
            .iter()
            .filter_map(window_of)
            .collect();
        windows.sort_by_key(|w| (w.started_at, w.id.clone()));
        Ok(windows)
    }

    /// Records a new window; false if its id is taken.
    pub async fn start_window(&self, window: &Window) -> Result<bool, StoreError> {
        let mut item = HashMap::from([
            (attr::PK.to_owned(), s(MAINTENANCE)),
            (attr::SK.to_owned(), s(&window.id)),
            (attr::STARTED_AT.to_owned(), number(window.started_at)),
            (attr::UNTIL.to_owned(), number(window.until)),
            (attr::STARTED_BY.to_owned(), s(&window.started_by)),
            (
                attr::EXPIRES_AT.to_owned(),
                number(window.until / 1000 + WINDOW_RETENTION_SECONDS),
            ),
        ]);
        match &window.scope {
            Scope::Clients(clients) => {
                item.insert(
                    attr::CLIENTS.to_owned(),
                    AttributeValue::Ss(clients.clone()),
                );
            }
            Scope::Group(group) => {
                item.insert(attr::GROUP.to_owned(), s(group));
            }
        }
        if let Some(reason) = &window.reason {
            item.insert(attr::REASON.to_owned(), s(reason));
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#sk)")
            .expression_attribute_names("#sk", attr::SK)
            .send()
            .await;
        conditional(put.map(|_| ()), |err| {
            self.error("PutItem", &window.id, err)
        })
    }

    /// Ends window `id` now, by `who`; false if there is no such window in force.
    pub async fn end_window(
        &self,
        id: &str,
        who: &str,
        reason: Option<&str>,
        at: i64,
    ) -> Result<bool, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::PK, s(MAINTENANCE))
            .key(attr::SK, s(id))
            .expression_attribute_names("#expires", attr::EXPIRES_AT)
            .expression_attribute_values(":expires", number(at / 1000 + WINDOW_RETENTION_SECONDS));
        update = match reason {
            Some(reason) => update
                .update_expression("SET #ended = :at, #by = :who, #expires = :expires, #why = :why")
                .expression_attribute_names("#why", attr::END_REASON)
                .expression_attribute_values(":why", s(reason)),
            None => update.update_expression("SET #ended = :at, #by = :who, #expires = :expires"),
        };
        let update = update
            .condition_expression(
                "attribute_exists(#sk) AND attribute_not_exists(#ended) AND #until > :at",
            )
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_names("#ended", attr::ENDED_AT)
            .expression_attribute_names("#by", attr::ENDED_BY)
            .expression_attribute_names("#until", attr::UNTIL)
            .expression_attribute_values(":at", number(at))
            .expression_attribute_values(":who", s(who))
            .send()
            .await;
        conditional(update.map(|_| ()), |err| self.error("UpdateItem", id, err))
    }

    // --- Storm groups.

    pub async fn head(&self, key: &str) -> Result<StoredHead, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::PK, s(key))
            .key(attr::SK, s(HEAD))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| self.error("GetItem", key, err))?;
        Ok(output
            .item
            .as_ref()
            .map(head_of)
            .unwrap_or_else(|| StoredHead {
                key: key.to_owned(),
                ..StoredHead::default()
            }))
    }

    /// Every storm group with a head or a member, as `(key, group)`, read page by page
    /// (the table holds only windows, heads and the members of groups with devices down).
    pub async fn groups(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut groups = std::collections::BTreeMap::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(#pk, :storm)")
                .projection_expression("#pk, #group")
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_names("#group", attr::GROUP)
                .expression_attribute_values(":storm", s(STORM))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| self.error("Scan", "storm groups", err))?;
            for item in page.items() {
                if let (Some(key), Some(group)) = (text(item, attr::PK), text(item, attr::GROUP)) {
                    groups.insert(key, group);
                }
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(groups.into_iter().collect()),
            }
        }
    }

    pub async fn members(&self, key: &str) -> Result<Vec<Member>, StoreError> {
        Ok(self
            .partition(key, Some(MEMBER))
            .await?
            .iter()
            .filter_map(|item| {
                Some(Member {
                    client_id: text(item, attr::CLIENT_ID)?,
                    down_at: number_attr(item, attr::DOWN_AT)?,
                })
            })
            .collect())
    }

    /// Counts in-window members without reading them out (for the benchmark and tests).
    /// A count reads at most 1 MB a page (about 7,000 members), so it pages too.
    pub async fn member_count(&self, key: &str) -> Result<usize, StoreError> {
        let mut count = 0;
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .select(Select::Count)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_names("#sk", attr::SK)
                .expression_attribute_values(":pk", s(key))
                .expression_attribute_values(":prefix", s(MEMBER))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| self.error("Query", key, err))?;
            count += output.count as usize;
            match output.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(count),
            }
        }
    }

    /// Records that `client_id`'s disconnect in group `group` (head `key`) is announced
    /// at `down_at`, unless a later one is recorded already.
    pub async fn join(
        &self,
        key: &str,
        group: &str,
        client_id: &str,
        down_at: i64,
    ) -> Result<(), StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::PK, s(key))
            .item(attr::SK, s(&format!("{MEMBER}{client_id}")))
            .item(attr::CLIENT_ID, s(client_id))
            .item(attr::GROUP, s(group))
            .item(attr::DOWN_AT, number(down_at))
            .condition_expression("attribute_not_exists(#down) OR #down < :down")
            .expression_attribute_names("#down", attr::DOWN_AT)
            .expression_attribute_values(":down", number(down_at))
            .send()
            .await;
        conditional(put.map(|_| ()), |err| self.error("PutItem", client_id, err)).map(|_| ())
    }

    /// Removes `client_id` from group `key`: the member recorded at `Recorded(down_at)`
    /// (a stale one the reconciler found), or one recorded `Before(t)` (a return read at
    /// `t` takes out no later disconnect's member).
    pub async fn leave(&self, key: &str, client_id: &str, which: Which) -> Result<(), StoreError> {
        let (condition, at) = match which {
            Which::Recorded(down_at) => ("attribute_exists(#sk) AND #down = :down", down_at),
            Which::Before(t) => ("attribute_exists(#sk) AND #down < :down", t),
        };
        let delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(attr::PK, s(key))
            .key(attr::SK, s(&format!("{MEMBER}{client_id}")))
            .condition_expression(condition)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_names("#down", attr::DOWN_AT)
            .expression_attribute_values(":down", number(at));
        conditional(delete.send().await.map(|_| ()), |err| {
            self.error("DeleteItem", client_id, err)
        })
        .map(|_| ())
    }

    /// Claims `announcement` for the look drawing `token`, on condition that the head is
    /// as decided on (`seen`): nothing pending, the same sequence. Whether it is this look's.
    pub async fn claim(
        &self,
        key: &str,
        group: &str,
        seen: &Head,
        announcement: &FleetAnnouncement,
        token: &str,
    ) -> Result<bool, StoreError> {
        let mut expr = Expression::default();
        let sequence = expr.name(attr::SEQUENCE);
        let unchanged = match seen.sequence {
            Some(previous) => format!("{sequence} = {}", expr.value("previous", number(previous))),
            None => format!("attribute_not_exists({sequence})"),
        };
        let pending = expr.name(attr::PENDING);
        let sets = [
            expr.assign(attr::GROUP, s(group)),
            expr.assign(attr::STATE, s(announcement.state.name())),
            expr.assign(attr::STORM_ID, s(&announcement.storm_id)),
            expr.assign(attr::SINCE, number(announcement.since)),
            format!(
                "{sequence} = {}",
                expr.value("sequence", number(announcement.sequence))
            ),
            format!(
                "{pending} = {}",
                expr.value("true", AttributeValue::Bool(true))
            ),
            expr.assign(attr::CLAIMED_AT, number(now_ms())),
            expr.assign(attr::CLAIM, s(token)),
            expr.assign(attr::PEAK, number(announcement.peak)),
            expr.assign(attr::DETAIL, s(&announcement.detail.to_string())),
        ];
        // Or this very claim already landed: an SDK retry of a write whose answer was lost
        // (an attempt timeout) must not read as another look's claim, which would leave the
        // announcement unput until its lease ends.
        let claim = expr.name(attr::CLAIM);
        let own = format!(
            "(attribute_exists({pending}) AND {claim} = :Claim AND {sequence} = :sequence)"
        );
        let condition = format!("(attribute_not_exists({pending}) AND {unchanged}) OR {own}");
        self.write_head(key, format!("SET {}", sets.join(", ")), condition, expr)
            .await
    }

    /// Takes over the pending announcement whose claim (taken at `claimed_at`) was released
    /// or outlived its lease.
    pub async fn resume(
        &self,
        key: &str,
        claimed_at: Option<i64>,
        token: &str,
    ) -> Result<bool, StoreError> {
        let mut expr = Expression::default();
        let at = expr.name(attr::CLAIMED_AT);
        let claim = expr.name(attr::CLAIM);
        let seen = match claimed_at {
            Some(claimed_at) => format!("{at} = {}", expr.value("seen", number(claimed_at))),
            None => format!("attribute_not_exists({at})"),
        };
        let update = format!(
            "SET {at} = {}, {claim} = {}",
            expr.value("now", number(now_ms())),
            expr.value("token", s(token))
        );
        // Or this very takeover already landed (a retried write whose answer was lost).
        let condition = format!(
            "attribute_exists({}) AND ({seen} OR {claim} = :token)",
            expr.name(attr::PENDING)
        );
        self.write_head(key, update, condition, expr).await
    }

    /// Confirms the put of the pending announcement claimed with `token`.
    pub async fn confirm(&self, key: &str, token: &str) -> Result<bool, StoreError> {
        let mut expr = Expression::default();
        let condition = expr.assign(attr::CLAIM, s(token));
        let update = format!(
            "REMOVE {}, {}",
            expr.name(attr::PENDING),
            expr.name(attr::CLAIM)
        );
        self.write_head(key, update, condition, expr).await
    }

    /// Releases the claim `token` of a put that failed: the next look takes it over at once.
    pub async fn release(&self, key: &str, token: &str) -> Result<bool, StoreError> {
        let mut expr = Expression::default();
        let condition = expr.assign(attr::CLAIM, s(token));
        let update = format!("REMOVE {}", expr.name(attr::CLAIM));
        self.write_head(key, update, condition, expr).await
    }

    /// Raises the open storm's peak to `peak`.
    pub async fn raise_peak(
        &self,
        key: &str,
        storm_id: &str,
        peak: u64,
    ) -> Result<bool, StoreError> {
        let mut expr = Expression::default();
        let peak_name = expr.name(attr::PEAK);
        let value = expr.value("peak", number(peak));
        let condition = format!(
            "{} AND {} AND {peak_name} < {value}",
            expr.assign(attr::STORM_ID, s(storm_id)),
            expr.assign(attr::STATE, s(FleetState::Degraded.name()))
        );
        self.write_head(key, format!("SET {peak_name} = {value}"), condition, expr)
            .await
    }

    async fn write_head(
        &self,
        key: &str,
        update: String,
        condition: String,
        expr: Expression,
    ) -> Result<bool, StoreError> {
        let write = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::PK, s(key))
            .key(attr::SK, s(HEAD))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values((!expr.values.is_empty()).then_some(expr.values))
            .send()
            .await;
        conditional(write.map(|_| ()), |err| self.error("UpdateItem", key, err))
    }
}

/// Ok(true) for a write that landed, Ok(false) for one whose condition failed.
// The error is built only on the failing path, like every store's StoreError.
#[allow(clippy::result_large_err)]
fn conditional<E, R>(
    result: Result<(), aws_sdk_dynamodb::error::SdkError<E, R>>,
    error: impl FnOnce(aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError,
) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    match result {
        Ok(()) => Ok(true),
        Err(err)
            if aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&err)
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(err) => Err(error(err)),
    }
}

fn window_of(item: &Item) -> Option<Window> {
    let scope = match (item.get(attr::CLIENTS), text(item, attr::GROUP)) {
        (Some(AttributeValue::Ss(clients)), _) => Scope::Clients(clients.clone()),
        (_, Some(group)) => Scope::Group(group),
        _ => return None,
    };
    Some(Window {
        id: text(item, attr::SK)?,
        scope,
        started_at: number_attr(item, attr::STARTED_AT)?,
        until: number_attr(item, attr::UNTIL)?,
        reason: text(item, attr::REASON),
        started_by: text(item, attr::STARTED_BY).unwrap_or_default(),
        ended_at: number_attr(item, attr::ENDED_AT),
        ended_by: text(item, attr::ENDED_BY),
        end_reason: text(item, attr::END_REASON),
    })
}

fn head_of(item: &Item) -> StoredHead {
    StoredHead {
        key: text(item, attr::PK).unwrap_or_default(),
        group: text(item, attr::GROUP).unwrap_or_default(),
        detail: text(item, attr::DETAIL),
        head: Head {
            state: text(item, attr::STATE).and_then(|state| FleetState::parse(&state)),
            storm_id: text(item, attr::STORM_ID),
            since: number_attr(item, attr::SINCE),
            sequence: number_attr(item, attr::SEQUENCE),
            pending: item.contains_key(attr::PENDING),
            claimed_at: number_attr(item, attr::CLAIMED_AT),
            claim: text(item, attr::CLAIM),
            peak: number_attr(item, attr::PEAK).unwrap_or(0),
        },
    }
}

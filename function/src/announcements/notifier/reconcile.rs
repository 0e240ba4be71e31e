//! The reconciler: every item the owed index holds, looked at now. The index is read page
//! by page, every shard at once, and each page's clients are looked at as it arrives, so
//! the pass holds a few pages in memory whatever the owed count, and stops starting looks
//! at its deadline (what it did not reach stays marked for the next pass).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use futures::stream::{self, Stream, StreamExt};
use tracing::{error, info};

use super::look::PUT_BATCH;
use super::{Notifier, NotifierError, Outcome};
use crate::announcements::store::{attr, OWED_INDEX};
use crate::presence::store::{owed_key, OWED_SHARDS};
use crate::shared::dynamodb::{error_message, number_attr};
use crate::shared::time::{now_ms, since_epoch};

/// Keys read per Query page of the owed index (about 100 bytes each).
const OWED_PAGE: i32 = 200;

/// One entry of the owed index.
struct Owed {
    client_id: String,
    /// `LastUpdateTime`, the index's sort key: when the item was last written.
    updated_at: Option<i64>,
}

impl Notifier {
    pub async fn reconcile(&self, stop_at: Instant) -> BTreeMap<Outcome, usize> {
        // Each pass starts at a shard picked from the clock's nanoseconds, so the shards a
        // pass reaches first are not always the same ones.
        let first = since_epoch().subsec_nanos();
        let shards = (0..OWED_SHARDS).map(|offset| (first + offset) % OWED_SHARDS);
        let mut unread = 0;
        let mut read = 0;
        let mut oldest: Option<i64> = None;
        let owed = stream::iter(shards)
            .map(|shard| Box::pin(self.owed_in(shard)))
            .flatten_unordered(None)
            .filter_map(|owed| {
                let owed = match owed {
                    Ok(owed) => {
                        read += 1;
                        if let Some(at) = owed.updated_at {
                            oldest = Some(oldest.map_or(at, |oldest| oldest.min(at)));
                        }
                        Some(owed.client_id)
                    }
                    Err(err) => {
                        unread += 1;
                        error!(error = %err, "owed announcements not read");
                        None
                    }
                };
                futures::future::ready(owed)
            })
            .take_while(|_| futures::future::ready(Instant::now() < stop_at))
            .chunks(PUT_BATCH);
        // Folded as they come: the pass keeps counts, not every client it looked at.
        let summary = owed
            .map(|batch| self.look_at_batch_before(batch, false, stop_at))
            .buffer_unordered(self.config.max_concurrent_puts)
            .fold(BTreeMap::new(), |mut summary, outcomes| {
                for (_, outcome) in outcomes {
                    *summary.entry(outcome).or_insert(0) += 1;
                }
                futures::future::ready(summary)
            })
            .await;
        let oldest_age = oldest.map_or(Duration::ZERO, |at| {
            Duration::from_millis(now_ms().saturating_sub(at).max(0) as u64)
        });
        let count = |outcome| summary.get(&outcome).copied().unwrap_or(0);
        info!(
            owed = read,
            oldestOwedAgeSeconds = oldest_age.as_secs(),
            announced = count(Outcome::Announced),
            settled = count(Outcome::Settled),
            waiting = count(Outcome::Waiting),
            claimedElsewhere = count(Outcome::ClaimedElsewhere),
            failed = count(Outcome::Failed),
            deferred = count(Outcome::Deferred),
            unreadShards = unread,
            complete = Instant::now() < stop_at,
            "reconciled"
        );
        self.publish(&summary, Some((read, oldest_age)));
        summary
    }

    /// The owed index's entries of one shard, oldest first, a page at a time.
    fn owed_in(&self, shard: u32) -> impl Stream<Item = Result<Owed, NotifierError>> + '_ {
        let key = owed_key(shard);
        let pages = self
            .dynamodb
            .query()
            .table_name(&self.config.table_name)
            .index_name(OWED_INDEX)
            .key_condition_expression("#owed = :key")
            .expression_attribute_names("#owed", attr::OWED_SHARD)
            .expression_attribute_values(":key", AttributeValue::S(key.clone()))
            .limit(OWED_PAGE)
            .into_paginator()
            .send();
        stream::unfold(Some(pages), move |pages| {
            let key = key.clone();
            async move {
                let mut pages = pages?;
                let page = pages.next().await?;
                let entries: Vec<Result<Owed, NotifierError>> = match page {
                    Ok(page) => page
                        .items()
                        .iter()
                        .filter_map(|item| {
                            let client_id = item.get(attr::CLIENT_ID)?.as_s().ok()?.clone();
                            Some(Ok(Owed {
                                client_id,
                                updated_at: number_attr(item, attr::LAST_UPDATE_TIME),
                            }))
                        })
                        .collect(),
                    // A failed page ends the shard's read for this pass (the SDK retried it).
                    Err(err) => {
                        let err = NotifierError::Owed {
                            key,
                            message: error_message(&err),
                            source: Box::new(err),
                        };
                        return Some((vec![Err(err)], None));
                    }
                };
                Some((entries, Some(pages)))
            }
        })
        .flat_map(stream::iter)
    }
}

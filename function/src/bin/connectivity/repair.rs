//! The commands that repair what a lost signal or a failure left: `mark-owed` (items
//! whose announcement lags), `recount` (the ConnectedDevices count) and `redrive` (the
//! dead-letter queue, through the handler's code path).

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::Message;
use iot_connectivity::announcements::decision::{look, Verdict};
use iot_connectivity::announcements::store::attr;
use iot_connectivity::announcements::store::snapshot_of;
use iot_connectivity::count::decision::Observed;
use iot_connectivity::count::table::{self as counts, Counts};
use iot_connectivity::ingest::processor::{Outcome, Processor};
use iot_connectivity::presence::store::{number_attr, Item, Store};
use iot_connectivity::shared::dead_letter::event_of;

use crate::{Failure, Progress};

#[derive(Debug, Default, serde::Serialize)]
pub struct MarkSummary {
    /// Items read.
    items: u64,
    /// Items newly marked as owing an announcement.
    marked: u64,
}

/// Every item whose announcement lags its status, marked for the reconciler. The verdict
/// is the notifier's own ([`look`]) with every grace period over: a disconnect still in its
/// grace period is marked too, and the notifier waits it out.
pub async fn mark_owed(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<MarkSummary, Failure> {
    let store = Store::new(dynamodb.clone(), table.to_owned(), None);
    let mut summary = MarkSummary::default();
    let mut progress = Progress::new("items checked");
    let mut items = dynamodb
        .scan()
        .table_name(table)
        .consistent_read(true)
        .into_paginator()
        .items()
        .send();
    while let Some(item) = items.next().await {
        let item = item.map_err(|err| format!("Scan of {table}: {}", DisplayErrorContext(err)))?;
        summary.items += 1;
        progress.tick();
        let snapshot = snapshot_of(&item);
        let Some(client_id) = text(&item, attr::CLIENT_ID) else {
            continue;
        };
        if snapshot.owed || look(client_id, &snapshot, 0, i64::MAX, None) == Verdict::Settled {
            continue;
        }
        summary.marked += u64::from(store.mark_owed(client_id).await?);
    }
    progress.done();
    Ok(summary)
}

#[derive(Debug, Default, serde::Serialize)]
pub struct RecountSummary {
    /// Items of the table counted as they are.
    items: u64,
    /// Tallies whose item no longer exists.
    orphans: u64,
    /// Writes that changed the count (their sum is what the count was off by).
    corrections: u64,
    /// The count afterwards.
    connected: i64,
}

/// Every item of `table` through the counter's own conditional writes, then every tally
/// without an item as a removal: exact while the stream is being counted too.
pub async fn recount(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    counts: &Counts,
) -> Result<RecountSummary, Failure> {
    let mut summary = RecountSummary::default();
    let mut progress = Progress::new("items counted");
    let mut items = dynamodb
        .scan()
        .table_name(table)
        .consistent_read(true)
        .projection_expression("#client, #status, #revision, #created")
        .expression_attribute_names("#client", attr::CLIENT_ID)
        .expression_attribute_names("#created", attr::CREATED_TIME)
        .expression_attribute_names("#status", attr::STATUS)
        .expression_attribute_names("#revision", attr::REVISION)
        .into_paginator()
        .items()
        .send();
    while let Some(item) = items.next().await {
        let item = item.map_err(|err| format!("Scan of {table}: {}", DisplayErrorContext(err)))?;
        let (Some(client_id), Some(status), Some(revision)) = (
            text(&item, attr::CLIENT_ID),
            text(&item, attr::STATUS),
            number_attr(&item, attr::REVISION),
        ) else {
            continue; // never written by a presence event: nothing to count
        };
        let connected = status == "Connected";
        let created = number_attr(&item, attr::CREATED_TIME).unwrap_or(0);
        let observed = Observed::item(created, revision, connected);
        let applied = counts.apply(client_id, observed, connected).await?;
        summary.items += 1;
        summary.corrections += u64::from(applied.delta != 0);
        progress.tick();
    }
    progress.done();

    let mut progress = Progress::new("tallies checked");
    let store = Store::new(dynamodb.clone(), table.to_owned(), None);
    let mut tallies = dynamodb
        .scan()
        .table_name(counts.table())
        .consistent_read(true)
        .filter_expression("begins_with(#key, :tally)")
        .expression_attribute_names("#key", counts::KEY)
        .expression_attribute_values(":tally", AttributeValue::S(counts::tally_key("")))
        .into_paginator()
        .items()
        .send();
    while let Some(tally) = tallies.next().await {
        let tally = tally
            .map_err(|err| format!("Scan of {}: {}", counts.table(), DisplayErrorContext(err)))?;
        let (Some(key), Some(counted)) = (text(&tally, counts::KEY), counts::tally_of(&tally))
        else {
            continue;
        };
        if counted.version.removed {
            continue;
        }
        let client_id = key.trim_start_matches(&counts::tally_key(""));
        if store.get(client_id).await?.is_none() {
            let removed = Observed::removal(counted.version.created, counted.version.revision);
            let applied = counts.apply(client_id, removed, counted.connected).await?;
            summary.orphans += 1;
            summary.corrections += u64::from(applied.delta != 0);
        }
        progress.tick();
    }
    progress.done();
    summary.connected = counts.connected().await?;
    Ok(summary)
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

#[derive(Debug, Default, serde::Serialize)]
pub struct RedriveCounts {
    /// Applied, stale or skipped by the handler's code path, and deleted.
    redriven: u64,
    /// Failed again; back in the queue after the visibility timeout.
    pub failed: u64,
    /// Not lifecycle events (e.g. the notifier's stream batch descriptions); left in place.
    pub kept: u64,
}

/// Receives until the queue shows nothing new, applying each event and deleting it only
/// once applied. What fails or is kept stays hidden for the visibility timeout; should it
/// come back within the run, it is not tried again.
pub async fn redrive(
    sqs: &aws_sdk_sqs::Client,
    processor: &Processor,
    queue_url: &str,
    visibility_timeout: i32,
) -> Result<RedriveCounts, Failure> {
    let mut counts = RedriveCounts::default();
    let mut progress = Progress::new("re-driven");
    let mut seen = std::collections::HashSet::new();
    loop {
        let batch = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(visibility_timeout)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|err| {
                format!(
                    "ReceiveMessage on {queue_url}: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(err)
                )
            })?;
        let messages: Vec<Message> = batch
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter(|message| seen.insert(message.message_id().unwrap_or_default().to_owned()))
            .collect();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            match redrive_one(processor, &message).await {
                Some(true) => {
                    sqs.delete_message()
                        .queue_url(queue_url)
                        .receipt_handle(message.receipt_handle.unwrap_or_default())
                        .send()
                        .await
                        .map_err(|err| {
                            format!(
                                "DeleteMessage on {queue_url}: {}",
                                aws_sdk_sqs::error::DisplayErrorContext(err)
                            )
                        })?;
                    counts.redriven += 1;
                }
                Some(false) => counts.failed += 1,
                None => counts.kept += 1,
            }
            progress.tick();
        }
    }
    progress.done();
    Ok(counts)
}

/// Whether the message's event was applied; None when it holds no event.
async fn redrive_one(processor: &Processor, message: &Message) -> Option<bool> {
    let id = message.message_id().unwrap_or("?");
    match event_of(message.body().unwrap_or_default()) {
        Ok(event) => Some(matches!(
            processor.process(&event).await,
            Ok(Outcome::Applied | Outcome::Stale | Outcome::Skipped)
        )),
        Err(reason) => {
            eprintln!("connectivity: message {id} kept in the queue: {reason}");
            None
        }
    }
}

//! Removed items: a device whose item is deleted (by a caller, or by the item TTL) while
//! its last announcement said Connected gets a final `Device Disconnected`, decided from
//! the stream record's old image alone ([`farewell`]): the item, and with it any owed
//! mark, is gone, so the record is the only signal, and it is retried until it is put.

use std::time::Instant;

use serde_json::Value;
use tracing::{error, warn};

use super::put::Put;
use super::Notifier;
use crate::announcements::decision::{farewell, Removal};
use crate::announcements::detail::{detail_type, farewell_detail};
use crate::announcements::store::snapshot_of;
use crate::shared::stream::item_of;

/// The principal DynamoDB names in the stream record of a deletion by the item TTL.
const TTL_PRINCIPAL: &str = "dynamodb.amazonaws.com";

impl Notifier {
    /// Puts the farewells the REMOVE `records` owe (in one PutEvents call per 10). The
    /// stream sequence number of the first record whose farewell was not put, if any (the
    /// batch is retried from it), and how many were not put.
    pub(super) async fn say_farewells(&self, records: &[&Value]) -> (Option<String>, usize) {
        let mut puts = Vec::new();
        let mut sequence_numbers = Vec::new();
        for record in records {
            // A removed device is down for good: it leaves its storm group, whether or not
            // it owes a farewell, so it does not hold its storm open.
            self.leave_storm_removed(record).await;
            let Some(put) = farewell_of(record) else {
                continue;
            };
            puts.push(put);
            sequence_numbers.push(
                record["dynamodb"]["SequenceNumber"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        let mut first_failed = None;
        let mut failed = 0;
        for (puts, numbers) in puts
            .chunks(super::look::PUT_BATCH)
            .zip(sequence_numbers.chunks(super::look::PUT_BATCH))
        {
            let results = self.put_batch(puts, false).await;
            for ((put, number), result) in puts.iter().zip(numbers).zip(results) {
                if let Err(message) = result {
                    error!(
                        error = message,
                        clientId = put.client_id,
                        eventId = put.event_id,
                        "removed item not announced: its stream record is retried"
                    );
                    first_failed.get_or_insert_with(|| number.clone());
                    failed += 1;
                }
            }
        }
        (first_failed, failed)
    }
}

/// The farewell a REMOVE record owes, if any.
fn farewell_of(record: &Value) -> Option<Put> {
    let old = old_item(record);
    let Some(client_id) = record["dynamodb"]["Keys"]["ClientID"]["S"].as_str() else {
        warn!(%record, "removal without a ClientID key: skipped");
        return None;
    };
    let said = farewell(client_id, &snapshot_of(&old))?;
    let removal = if record["userIdentity"]["principalId"] == TTL_PRINCIPAL {
        Removal::Expired
    } else {
        Removal::Deleted
    };
    Some(Put {
        client_id: client_id.to_owned(),
        event_id: said.event_id.clone(),
        token: String::new(),
        detail: {
            // The thing its last announcement described, if any: a farewell routes too.
            let mut detail = farewell_detail(&old, client_id, &said, removal);
            if let Some(thing) = super::fleet::stored_context(&old).and_then(|c| c.detail()) {
                detail["thing"] = thing;
            }
            detail.to_string()
        },
        detail_type: detail_type(false),
        settle: None,
        claimed_at: Instant::now(),
    })
}

/// The stream record's old image as an item.
pub(super) fn old_item(record: &Value) -> crate::presence::store::Item {
    item_of(&record["dynamodb"]["OldImage"])
}

//! The counter's glue: the table's stream in, tallies and counter shards out
//! ([`crate::count::decision`] decides, [`crate::count::table`] writes); and, on its schedule, the
//! `ConnectedDevices` metric.
//!
//! Stream records are applied in order and the first failure stops the batch (Lambda
//! retries from it: `ReportBatchItemFailures`). A record that says nothing countable
//! (no `ClientID`, no `Revision`) is logged and skipped: retrying cannot mend it.

use serde_json::Value;
use tracing::{error, info, warn};

use crate::count::decision::Observed;
use crate::count::table::{Counts, CountsError, MAX_SHARDS};
use crate::presence::store::attr;
use crate::shared::dynamodb::number_attr;
use crate::shared::metrics::{emit, Directive, Metric, MetricsConfig};
use crate::shared::stream::{item_of, BatchResponse, ItemFailure};
use crate::shared::Item;

pub const METRIC: &str = "ConnectedDevices";

/// Settings read from the environment the module gives the counter.
#[derive(Debug, Clone)]
pub struct CounterConfig {
    pub counts_table: String,
    pub shards: u32,
    /// Where `ConnectedDevices` goes; None: the count is only logged.
    pub metrics: Option<MetricsConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum CounterConfigError {
    #[error("COUNTS_TABLE_NAME is not set")]
    MissingTable,
    #[error("COUNTER_SHARDS must be a whole number from 1 to {MAX_SHARDS}, got {0:?}")]
    InvalidShards(String),
}

impl CounterConfig {
    /// Reads `COUNTS_TABLE_NAME`, `COUNTER_SHARDS` and the metrics settings.
    pub fn from_env() -> Result<Self, CounterConfigError> {
        let counts_table = std::env::var("COUNTS_TABLE_NAME")
            .ok()
            .filter(|name| !name.is_empty())
            .ok_or(CounterConfigError::MissingTable)?;
        let shards = std::env::var("COUNTER_SHARDS").unwrap_or_default();
        Ok(Self {
            counts_table,
            shards: shards
                .parse()
                .ok()
                .filter(|n| (1..=MAX_SHARDS).contains(n))
                .ok_or(CounterConfigError::InvalidShards(shards))?,
            metrics: MetricsConfig::from_env(),
        })
    }
}

/// A stream record as the counter reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedRecord {
    pub client_id: String,
    pub observed: Observed,
    /// Whether the old image was Connected: what the first write assumes was counted.
    pub was_connected: bool,
}

/// What a stream record says about its client; None when it says nothing countable.
pub fn read_record(record: &Value) -> Option<CountedRecord> {
    let dynamodb = &record["dynamodb"];
    let client_id = dynamodb["Keys"][attr::CLIENT_ID]["S"].as_str()?.to_owned();
    let old = item_of(&dynamodb["OldImage"]);
    let new = item_of(&dynamodb["NewImage"]);
    let connected = |item: &Item| {
        item.get(attr::STATUS)
            .and_then(|status| status.as_s().ok())
            .map(|status| status == "Connected")
    };
    // Items written before CreatedTime was recorded are in their first life: 0.
    let created = |item: &Item| number_attr(item, attr::CREATED_TIME).unwrap_or(0);
    let observed = match record["eventName"].as_str()? {
        "REMOVE" => Observed::removal(created(&old), number_attr(&old, attr::REVISION)?),
        _ => Observed::item(
            created(&new),
            number_attr(&new, attr::REVISION)?,
            connected(&new)?,
        ),
    };
    Some(CountedRecord {
        client_id,
        observed,
        was_connected: connected(&old).unwrap_or(false),
    })
}

pub struct Counter {
    counts: Counts,
    config: CounterConfig,
}

impl Counter {
    pub fn new(dynamodb: aws_sdk_dynamodb::Client, config: CounterConfig) -> Self {
        Self {
            counts: Counts::new(dynamodb, config.counts_table.clone(), config.shards),
            config,
        }
    }

    /// A stream batch, or the schedule's event.
    pub async fn handle(&self, payload: &Value) -> Result<BatchResponse, CountsError> {
        if let Some(records) = payload.get("Records").and_then(Value::as_array) {
            return Ok(self.on_stream_batch(records).await);
        }
        if payload.get("source").and_then(Value::as_str) == Some("aws.events") {
            self.publish().await?;
            return Ok(BatchResponse::default());
        }
        warn!(%payload, "neither a stream batch nor a scheduled event: skipped");
        Ok(BatchResponse::default())
    }

    async fn on_stream_batch(&self, records: &[Value]) -> BatchResponse {
        let mut response = BatchResponse::default();
        for record in records {
            let Some(counted) = read_record(record) else {
                warn!(%record, "stream record without a ClientID, Status or Revision: skipped");
                continue;
            };
            match self
                .counts
                .apply(&counted.client_id, counted.observed, counted.was_connected)
                .await
            {
                Ok(applied) if applied.delta != 0 => info!(
                    clientId = counted.client_id,
                    delta = applied.delta,
                    roundTrips = applied.round_trips,
                    "counted"
                ),
                Ok(_) => {}
                Err(err) => {
                    let sequence = record["dynamodb"]["SequenceNumber"].as_str();
                    error!(error = %err, sequenceNumber = sequence, "stream record not counted");
                    if let Some(sequence) = sequence {
                        response.batch_item_failures.push(ItemFailure {
                            item_identifier: sequence.to_owned(),
                        });
                    }
                    break; // in order: Lambda retries from this record
                }
            }
        }
        response
    }

    /// Sums the counter shards and publishes the sum as `ConnectedDevices`.
    pub async fn publish(&self) -> Result<i64, CountsError> {
        let connected = self.counts.connected().await?;
        if connected < 0 {
            // Only a lost removal or a hand-edited counts table can do this.
            error!(
                connected,
                "the Connected count is negative: run `connectivity recount`"
            );
        }
        if let Some(metrics) = &self.config.metrics {
            emit(
                metrics,
                &[Directive {
                    dimensions: &[],
                    metrics: &[Metric::count(METRIC, connected as f64)],
                }],
            );
        }
        info!(connected, table = self.counts.table(), "connected devices");
        Ok(connected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(event: &str, old: Option<(&str, u64)>, new: Option<(&str, u64)>) -> Value {
        let image = |state: Option<(&str, u64)>| {
            state.map_or(json!(null), |(status, revision)| {
                json!({"ClientID": {"S": "c-1"}, "Status": {"S": status}, "Revision": {"N": revision.to_string()}})
            })
        };
        json!({"eventName": event, "eventSource": "aws:dynamodb", "dynamodb": {
            "Keys": {"ClientID": {"S": "c-1"}},
            "OldImage": image(old), "NewImage": image(new), "SequenceNumber": "1"}})
    }

    #[test]
    fn records_read_as_observations() {
        let connected = read_record(&record("INSERT", None, Some(("Connected", 1)))).unwrap();
        assert_eq!(connected.observed, Observed::item(0, 1, true));
        assert!(!connected.was_connected);

        let disconnected = read_record(&record(
            "MODIFY",
            Some(("Connected", 4)),
            Some(("Disconnected", 5)),
        ))
        .unwrap();
        assert_eq!(disconnected.observed, Observed::item(0, 5, false));
        assert!(disconnected.was_connected);

        let removed = read_record(&record("REMOVE", Some(("Connected", 7)), None)).unwrap();
        assert_eq!(removed.observed, Observed::removal(0, 7));
    }

    #[test]
    fn the_created_time_orders_the_lives_of_an_item() {
        let mut later = record("INSERT", None, Some(("Connected", 1)));
        later["dynamodb"]["NewImage"]["CreatedTime"] = json!({"N": "1700000000000"});
        let observed = read_record(&later).unwrap().observed;
        assert!(observed.version > Observed::removal(0, 9).version);
    }

    #[test]
    fn records_without_a_revision_say_nothing() {
        let mut bad = record("INSERT", None, Some(("Connected", 1)));
        bad["dynamodb"]["NewImage"]
            .as_object_mut()
            .unwrap()
            .remove("Revision");
        assert_eq!(read_record(&bad), None);
    }
}

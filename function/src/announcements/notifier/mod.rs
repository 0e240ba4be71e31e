//! The notifier's glue: whatever wakes it (the table's stream, a grace check, the
//! reconciler's schedule), it looks at the clients named, decides from each item as it is
//! now ([`crate::announcements::decision::look`]), and puts what is owed on EventBridge
//! ([`crate::announcements::store`] records and settles).
//!
//! Nothing waits on a signal arriving: every presence write marks its item as owing until
//! the notifier settles it, and the reconciler reads the marked items through a sparse
//! index on a schedule. So a failure anywhere (a throttled read, a failed PutEvents, a lost
//! stream batch) is logged, counted (`Failed`) and left to the next look; it never blocks a
//! stream shard behind one client. The one signal nothing else can repeat is an item's
//! removal: its final `Device Disconnected` is retried through the stream (a reported
//! batch item failure) until it is put. A malformed record is logged and skipped: retrying
//! cannot mend it.
//!
//! Rooms: [`config`] (settings), [`look`] (read, decide, claim), [`put`] (PutEvents, the
//! claim's fence, confirm or release), [`reconcile`] (the owed index, page by page),
//! [`farewell`] (removed items).

mod config;
mod farewell;
mod fleet;
mod look;
mod put;
mod reconcile;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use tracing::warn;

pub use config::{NotifierConfig, NotifierConfigError};

use crate::announcements::fleet_store::FleetStore;
use crate::announcements::registry::{Registry, RegistryConfig};
use crate::presence::store::{Store, StoreError};
use crate::shared::metrics::{emit, Directive, Metric};
use crate::shared::stream::{BatchResponse, ItemFailure};

#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// Boxed: a DynamoDB error carries its source, and every look returns this.
    #[error(transparent)]
    Store(Box<StoreError>),
    #[error("SQS SendMessage of the grace check for client {client_id} failed: {message}")]
    Schedule {
        client_id: String,
        message: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("Query of the owed announcements ({key}) failed: {message}")]
    Owed {
        key: String,
        message: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("client {client_id}: no decision after {attempts} attempts (the item kept changing)")]
    Contention { client_id: String, attempts: usize },
}

impl From<StoreError> for NotifierError {
    fn from(err: StoreError) -> Self {
        NotifierError::Store(Box::new(err))
    }
}

/// What a look at one client came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// An announcement was put (and confirmed).
    Announced,
    /// Nothing is owed (the mark, if any, removed).
    Settled,
    /// A disconnect waits out its grace period.
    Waiting,
    /// Another look holds the announcement's claim and is putting it.
    ClaimedElsewhere,
    /// The item no longer exists.
    Gone,
    /// It failed; the item stays marked, so the next look settles it.
    Failed,
    /// Not looked at: the invocation was running out of time. The item stays marked.
    Deferred,
}

impl Outcome {
    /// The outcomes published as metrics, by name.
    const PUBLISHED: [(Outcome, &'static str); 4] = [
        (Outcome::Announced, "Announced"),
        (Outcome::Waiting, "Waiting"),
        (Outcome::ClaimedElsewhere, "ClaimedElsewhere"),
        (Outcome::Failed, "Failed"),
    ];
}

pub struct Notifier {
    store: Store,
    /// The thing registry (thing_context_enabled).
    registry: Option<Registry>,
    /// The fleet table (maintenance windows, storm groups).
    fleet: Option<FleetStore>,
    windows: fleet::WindowsCache,
    dynamodb: aws_sdk_dynamodb::Client,
    events: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
    config: NotifierConfig,
}

impl Notifier {
    pub fn new(aws: &aws_config::SdkConfig, config: NotifierConfig) -> Self {
        let dynamodb = aws_sdk_dynamodb::Client::new(aws);
        Self {
            store: Store::new(dynamodb.clone(), config.table_name.clone(), config.item_ttl),
            registry: config
                .thing_context
                .then(|| Registry::new(aws, RegistryConfig::default())),
            fleet: config
                .fleet_table
                .clone()
                .map(|table| FleetStore::new(dynamodb.clone(), table)),
            windows: Default::default(),
            dynamodb,
            events: aws_sdk_eventbridge::Client::from_conf(
                aws_sdk_eventbridge::config::Builder::from(aws)
                    .timeout_config(put::put_events_timeouts())
                    .build(),
            ),
            sqs: aws_sdk_sqs::Client::new(aws),
            config,
        }
    }

    /// Handles one invocation; no new batch of looks starts after `stop_at`, so a slow
    /// dependency ends the invocation in time, with what is left still marked.
    pub async fn handle(&self, payload: &Value, stop_at: Instant) -> BatchResponse {
        let mut response = BatchResponse::default();
        if payload.get("source").and_then(Value::as_str) == Some("aws.events") {
            // Storm groups first: a few, and a mass outage's backlog of device looks
            // would leave them no time.
            self.settle_storms(stop_at).await;
            self.reconcile(stop_at).await;
            return response;
        }
        let Some(records) = payload.get("Records").and_then(Value::as_array) else {
            warn!(%payload, "not a stream or queue batch, nor a schedule: skipped");
            return response;
        };
        let mut woken = Vec::new();
        let mut removed = Vec::new();
        let mut checks = Vec::new();
        for record in records {
            match record.get("eventSource").and_then(Value::as_str) {
                Some("aws:dynamodb") if record["eventName"] == "REMOVE" => removed.push(record),
                Some("aws:dynamodb") => {
                    match record["dynamodb"]["Keys"]["ClientID"]["S"].as_str() {
                        Some(client_id) => woken.push(client_id.to_owned()),
                        None => warn!(%record, "stream record without a ClientID key: skipped"),
                    }
                }
                Some("aws:sqs") => match record["body"]
                    .as_str()
                    .and_then(|body| serde_json::from_str::<look::GraceCheck>(body).ok())
                {
                    Some(check) => checks.push((check.client_id, record)),
                    None => warn!(%record, "not a grace check: skipped"),
                },
                _ => warn!(%record, "record of an unknown source: skipped"),
            }
        }
        // A removal is announced from its record alone: one that could not be put is
        // reported, so Lambda delivers it again (and after its retries, describes the batch
        // in the dead-letter queue).
        let (first_failed, farewells_failed) = self.say_farewells(&removed).await;
        if let Some(sequence_number) = first_failed {
            response.batch_item_failures.push(ItemFailure {
                item_identifier: sequence_number,
            });
        }
        // Any other stream record is only a hint to look: a failure stays marked on the
        // item for the reconciler, so the shard never waits behind one client.
        let mut outcomes = self.look_at(woken, true, stop_at).await;
        let checked = self
            .look_at(
                checks.iter().map(|(client, _)| client.clone()).collect(),
                true,
                stop_at,
            )
            .await;
        for (client_id, record) in checks {
            if checked.get(&client_id) == Some(&Outcome::Failed) {
                self.back_off(record).await;
                response.batch_item_failures.push(ItemFailure {
                    item_identifier: record["messageId"].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
        outcomes.extend(checked);
        let mut summary = tally(outcomes.values());
        if farewells_failed > 0 {
            *summary.entry(Outcome::Failed).or_insert(0) += farewells_failed;
        }
        self.publish(&summary, None);
        response
    }

    /// The looks' outcomes as metrics (and, from the reconciler, the owed backlog: how
    /// many items it found owed, and how long the oldest has been).
    fn publish(&self, summary: &BTreeMap<Outcome, usize>, backlog: Option<(usize, Duration)>) {
        let Some(metrics) = &self.config.metrics else {
            return;
        };
        let mut values: Vec<Metric> = Outcome::PUBLISHED
            .iter()
            .map(|(outcome, name)| {
                Metric::count(name, summary.get(outcome).copied().unwrap_or(0) as f64)
            })
            .collect();
        if let Some((owed, oldest)) = backlog {
            values.push(Metric::count("OwedBacklog", owed as f64));
            values.push(Metric {
                name: "OldestOwedAgeSeconds",
                unit: "Seconds",
                value: oldest.as_secs_f64(),
            });
        }
        emit(
            metrics,
            &[Directive {
                dimensions: &[],
                metrics: &values,
            }],
        );
    }
}

fn tally<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> BTreeMap<Outcome, usize> {
    let mut summary = BTreeMap::new();
    for outcome in outcomes {
        *summary.entry(*outcome).or_insert(0) += 1;
    }
    summary
}

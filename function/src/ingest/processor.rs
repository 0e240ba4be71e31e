//! The one code path every event takes, in the Lambda and in `replay` alike.

use std::time::Duration;

use serde_json::Value;
use tracing::{error, info, warn};

use crate::history::sessions::HistoryEvent;
use crate::history::store::HistoryStore;
use crate::presence::event::LifecycleEvent;
use crate::presence::store::{Recorded, Store, StoreError, Written};
use crate::shared::deployment::{HistorySettings, Settings, SettingsError, Stated};
use crate::shared::metrics::{self, Directive, Metric, MetricsConfig};

/// Settings read from the environment the module gives the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    /// Clients whose ID starts with one of these are skipped (e.g. `iotconsole`).
    pub ignored_client_id_prefixes: Vec<String>,
    /// When set, a write that leaves a client disconnected sets `ExpiresAt` this far
    /// ahead, for DynamoDB TTL (a connected client never expires).
    pub item_ttl: Option<Duration>,
    /// Whether a connect failure of a client the table does not know creates its item.
    pub record_unknown_connect_failures: bool,
    /// The status index's shard count; presence writes keep `StatusShard` when set.
    pub status_index_shards: Option<u32>,
    /// Connectivity events are on: presence writes mark the item as owing an announcement.
    pub announcements: bool,
    /// Where every connect and disconnect is kept too (history_enabled).
    pub history: Option<HistorySettings>,
    /// Where each event's metrics go (EMF on stdout); None: no metrics.
    pub metrics: Option<MetricsConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("TABLE_NAME is not set: name the DynamoDB table to write to")]
    MissingTableName,
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

impl Config {
    /// Reads `TABLE_NAME` (unless `table_name` is given) and the settings of
    /// [`Stated::from_env`], as the module sets them on the function.
    pub fn from_env(table_name: Option<String>) -> Result<Self, ConfigError> {
        let table_name = table_name
            .or_else(|| std::env::var("TABLE_NAME").ok())
            .filter(|name| !name.is_empty())
            .ok_or(ConfigError::MissingTableName)?;
        Ok(Self::with_settings(
            table_name,
            Stated::from_env()?.into_settings(),
        ))
    }

    /// The configuration that writes as a deployment with `settings` does.
    pub fn with_settings(table_name: String, settings: Settings) -> Self {
        Self {
            table_name,
            ignored_client_id_prefixes: settings.ignored_client_id_prefixes,
            item_ttl: settings.item_ttl,
            record_unknown_connect_failures: settings.record_unknown_connect_failures,
            status_index_shards: settings.status_index_shards,
            announcements: settings.announcements,
            history: settings.history,
            metrics: MetricsConfig::from_env(),
        }
    }
}

/// The configuration of an operator's command on `table_name` (or `TABLE_NAME`): the
/// deployment's settings read from the table and checked against what the operator stated
/// ([`crate::shared::deployment::resolve`]), so the command writes what the functions write. No
/// metrics: a command's stdout is its own output.
pub async fn operator_config(
    dynamodb: &aws_sdk_dynamodb::Client,
    table_name: Option<String>,
    stated: Stated,
    override_table_settings: bool,
) -> Result<(Config, Settings), ConfigError> {
    let table_name = table_name
        .or_else(|| std::env::var("TABLE_NAME").ok())
        .filter(|name| !name.is_empty())
        .ok_or(ConfigError::MissingTableName)?;
    let settings =
        crate::shared::deployment::resolve(dynamodb, &table_name, stated, override_table_settings)
            .await?;
    let mut config = Config::with_settings(table_name, settings.clone());
    config.metrics = None;
    Ok((config, settings))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The item changed.
    Applied,
    /// Older than or a duplicate of what is stored: nothing written.
    Stale,
    /// Not written: malformed, an ignored client, or an event that never changes Status.
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Stale => "stale",
            Self::Skipped => "skipped",
        }
    }
}

pub struct Processor {
    store: Store,
    history: Option<HistoryStore>,
    ignored_client_id_prefixes: Vec<String>,
    metrics: Option<MetricsConfig>,
}

impl Processor {
    pub fn new(client: aws_sdk_dynamodb::Client, config: Config) -> Self {
        Self {
            history: config
                .history
                .map(|history| HistoryStore::new(client.clone(), history.table, history.retention)),
            store: Store::new(client, config.table_name, config.item_ttl)
                .recording_unknown_connect_failures(config.record_unknown_connect_failures)
                .with_status_index_shards(config.status_index_shards)
                .with_announcements(config.announcements),
            ignored_client_id_prefixes: config.ignored_client_id_prefixes,
            metrics: config.metrics,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Applies one lifecycle event payload and logs one line saying what became of it.
    ///
    /// Permanent input problems are logged with the raw payload and skipped (`Ok`);
    /// a failed write is returned as `Err` so the caller keeps the event for a retry.
    pub async fn process(&self, payload: &Value) -> Result<Outcome, StoreError> {
        self.process_counted(payload)
            .await
            .map(|(outcome, _)| outcome)
    }

    /// [`Self::process`], with the DynamoDB requests the event took.
    pub async fn process_counted(&self, payload: &Value) -> Result<(Outcome, u32), StoreError> {
        let event = match LifecycleEvent::parse(payload) {
            Ok(event) => event,
            Err(reason) => {
                warn!(outcome = "skipped", %reason, %payload, "malformed lifecycle event");
                self.measure("malformed", "skipped", 0, None);
                return Ok((Outcome::Skipped, 0));
            }
        };
        let result = self.apply(&event).await;
        // Field names as in the event payload, so log queries read like the events.
        match &result {
            Ok((outcome, round_trips)) => info!(
                clientId = event.client_id(),
                eventType = event.event_type(),
                versionNumber = event.version_number(),
                // Not `timestamp`: that key is the log line's own, which Lambda reads.
                eventTimestamp = event.timestamp(),
                outcome = outcome.as_str(),
                roundTrips = round_trips,
                "lifecycle event processed"
            ),
            Err(err) => error!(
                clientId = event.client_id(),
                eventType = event.event_type(),
                versionNumber = event.version_number(),
                outcome = "failed",
                error = %err,
                %payload,
                "lifecycle event not stored"
            ),
        }
        match &result {
            Ok((outcome, round_trips)) => {
                let lag = (*outcome == Outcome::Applied).then(|| {
                    crate::shared::time::now_ms()
                        .saturating_sub(event.timestamp())
                        .max(0) as f64
                });
                self.measure(event.event_type(), outcome.as_str(), *round_trips, lag);
            }
            Err(_) => self.measure(event.event_type(), "failed", 0, None),
        }
        result
    }

    /// One EMF line per event: `Events` by type and outcome; `DynamoDbRoundTrips` and,
    /// for applied events, `EventLag` (event timestamp to write) by deployment only.
    fn measure(&self, event_type: &str, outcome: &str, round_trips: u32, lag_ms: Option<f64>) {
        let Some(config) = &self.metrics else { return };
        let mut totals = vec![Metric::count("DynamoDbRoundTrips", f64::from(round_trips))];
        if let Some(lag) = lag_ms {
            totals.push(Metric {
                name: "EventLag",
                unit: "Milliseconds",
                value: lag,
            });
        }
        metrics::emit(
            config,
            &[
                Directive {
                    dimensions: &[("EventType", event_type), ("Outcome", outcome)],
                    metrics: &[Metric::count("Events", 1.0)],
                },
                Directive {
                    dimensions: &[],
                    metrics: &totals,
                },
            ],
        );
    }

    /// The outcome and the DynamoDB requests it took.
    async fn apply(&self, event: &LifecycleEvent) -> Result<(Outcome, u32), StoreError> {
        let client_id = event.client_id();
        if self
            .ignored_client_id_prefixes
            .iter()
            .any(|prefix| client_id.starts_with(prefix.as_str()))
        {
            return Ok((Outcome::Skipped, 0));
        }
        let Recorded {
            written,
            mut round_trips,
        } = match event {
            LifecycleEvent::Connected(connected) => self.store.record_connected(connected).await?,
            LifecycleEvent::Disconnected(disconnected) => {
                self.store.record_disconnected(disconnected).await?
            }
            LifecycleEvent::ConnectFailed(failed) => {
                self.store.record_connect_failed(failed).await?
            }
            // Subscription changes never change Status.
            LifecycleEvent::Subscribed(_) | LifecycleEvent::Unsubscribed(_) => {
                return Ok((Outcome::Skipped, 0))
            }
        };
        // Kept whether or not it changed the status: a late event is still history. After
        // the status write, so a failure here retries both, and both are idempotent.
        let kept = match event {
            LifecycleEvent::Connected(connected) => Some(HistoryEvent::connected(connected)),
            LifecycleEvent::Disconnected(disconnected) => {
                Some(HistoryEvent::disconnected(disconnected))
            }
            _ => None,
        };
        if let (Some(history), Some(kept)) = (&self.history, kept) {
            history.record(client_id, &kept).await?;
            round_trips += 1;
        }
        let outcome = match written {
            Written::Applied => Outcome::Applied,
            Written::Stale => Outcome::Stale,
            Written::UnknownClient => Outcome::Skipped,
        };
        Ok((outcome, round_trips))
    }
}

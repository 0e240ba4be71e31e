//! The notifier's settings, read from the environment the module gives it.

use std::time::Duration;

use crate::announcements::decision::CLAIM_PUT_DEADLINE_MS;
use crate::announcements::storm::StormConfig;
use crate::announcements::thing::GraceOverride;
use crate::shared::metrics::MetricsConfig;

#[derive(Debug, Clone)]
pub struct NotifierConfig {
    pub table_name: String,
    pub event_bus_name: String,
    pub event_source: String,
    pub grace_period: Duration,
    pub grace_queue_url: String,
    /// The item TTL, set on a disconnected item once it owes nothing (None: no TTL).
    pub item_ttl: Option<Duration>,
    /// Batches of up to 10 announcements in flight at once per invocation: what keeps a
    /// mass outage under the account's PutEvents quota.
    pub max_concurrent_puts: usize,
    /// The oldest a claim may be when its look starts a PutEvents attempt
    /// ([`CLAIM_PUT_DEADLINE_MS`]; shorter only in tests, never longer).
    pub claim_put_deadline: Duration,
    /// Where announcement metrics go (EMF on stdout); None: no metrics.
    pub metrics: Option<MetricsConfig>,
    /// Announcements carry the thing registry's data (thing_context_enabled).
    pub thing_context: bool,
    /// Grace periods per device class, first match first (needs `thing_context`).
    pub grace_overrides: Vec<GraceOverride>,
    /// The fleet table (maintenance windows, storm groups); None: neither is on.
    pub fleet_table: Option<String>,
    /// Storm digests; None: off.
    pub storm: Option<StormConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifierConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{0} must be a whole number, got {1:?}")]
    NotANumber(&'static str, String),
    #[error("{0} is not valid: {1}")]
    Invalid(&'static str, String),
}

impl NotifierConfig {
    /// Reads `TABLE_NAME`, `EVENT_BUS_NAME`, `EVENT_SOURCE`, `GRACE_PERIOD_SECONDS`,
    /// `GRACE_QUEUE_URL`, and optionally `ITEM_TTL_SECONDS` and `MAX_CONCURRENT_PUTS`
    /// (default 8), `THING_CONTEXT` (`true`), `GRACE_OVERRIDES` and `STORM_DIGEST` (JSON of
    /// the module's variables) and `FLEET_TABLE_NAME`.
    pub fn from_env() -> Result<Self, NotifierConfigError> {
        let optional =
            |name: &'static str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let var = |name: &'static str| optional(name).ok_or(NotifierConfigError::Missing(name));
        let number = |name: &'static str, text: String| {
            text.parse::<u64>()
                .map_err(|_| NotifierConfigError::NotANumber(name, text))
        };
        Ok(Self {
            table_name: var("TABLE_NAME")?,
            event_bus_name: var("EVENT_BUS_NAME")?,
            event_source: var("EVENT_SOURCE")?,
            grace_period: Duration::from_secs(number(
                "GRACE_PERIOD_SECONDS",
                var("GRACE_PERIOD_SECONDS")?,
            )?),
            grace_queue_url: var("GRACE_QUEUE_URL")?,
            item_ttl: optional("ITEM_TTL_SECONDS")
                .map(|text| number("ITEM_TTL_SECONDS", text).map(Duration::from_secs))
                .transpose()?,
            max_concurrent_puts: optional("MAX_CONCURRENT_PUTS")
                .map(|text| number("MAX_CONCURRENT_PUTS", text))
                .transpose()?
                .unwrap_or(8)
                .max(1) as usize,
            claim_put_deadline: Duration::from_millis(CLAIM_PUT_DEADLINE_MS as u64),
            metrics: MetricsConfig::from_env(),
            thing_context: optional("THING_CONTEXT").as_deref() == Some("true"),
            grace_overrides: optional("GRACE_OVERRIDES")
                .map(|json| serde_json::from_str(&json))
                .transpose()
                .map_err(|err| NotifierConfigError::Invalid("GRACE_OVERRIDES", err.to_string()))?
                .unwrap_or_default(),
            fleet_table: optional("FLEET_TABLE_NAME"),
            storm: optional("STORM_DIGEST")
                .map(|json| StormConfig::parse(&json))
                .transpose()
                .map_err(|err| NotifierConfigError::Invalid("STORM_DIGEST", err))?,
        })
    }
}

//! The pager's glue: its queue's messages (announcements from EventBridge, and its own
//! delayed looks) and the scheduled pass in; posts to PagerDuty out.
//!
//! Each announcement is recorded on its incident key (newer sequences only), then the key
//! is looked at: what it wants now is posted, skipped, or looked at again later. A look
//! that cannot finish now (held, backing off, out of budget) sends itself a delayed
//! message; every minute the pass looks at each key still owing a post, so a lost message
//! or a crashed sender delays a page, never loses it.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tracing::{error, info, warn};

use super::decision::{after_answer, next_step, retry_delay_ms, Action, Answer, Step, Storm};
use super::page::{event_body, intent_of, Destination, PagingConfig, Route, SEVERITIES};
use super::pagerduty::{EventsApi, RoutingKeys};
use super::store::{PagesTable, Stored};
use crate::shared::dynamodb::StoreError;
use crate::shared::stream::{BatchResponse, ItemFailure};
use crate::shared::time::since_epoch;

/// A key's claim outlives a post's timeout several times over: a claim taken over was
/// never mid-post.
const LEASE: Duration = Duration::from_secs(30);
/// The rate's window: PagerDuty counts a minute; the post's timeout more covers a post
/// taken at the start of its way there and arriving at its end.
const RATE_WINDOW: Duration = Duration::from_secs(71);
/// SQS delays a message at most 15 minutes.
const MAX_DELAY_SECONDS: u64 = 900;
/// Looks run at once within one batch or pass.
const CONCURRENT_LOOKS: usize = 4;
/// Keys the pass reads at most (the rest wait for the next pass).
const PASS_KEYS: usize = 2_000;

#[derive(Debug, Clone)]
pub struct PagerConfig {
    pub table: String,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    pub events_url: String,
    pub rate_per_minute: u32,
    pub paging: PagingConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the pager's environment lacks {0}")]
    Missing(&'static str),
    #[error("the pager's {name} is {value:?}: {why}")]
    Invalid {
        name: &'static str,
        value: String,
        why: String,
    },
}

impl PagerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            get(name)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(name).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(value) => value.parse().map_err(|_| ConfigError::Invalid {
                    name,
                    value,
                    why: "not a whole number".into(),
                }),
            }
        };
        let severity = get("PAGERDUTY_SEVERITY").unwrap_or_else(|| "critical".into());
        if !SEVERITIES.contains(&severity.as_str()) {
            return Err(ConfigError::Invalid {
                name: "PAGERDUTY_SEVERITY",
                value: severity,
                why: format!("not one of {}", SEVERITIES.join(", ")),
            });
        }
        let routes_json = get("PAGERDUTY_ROUTES").unwrap_or_else(|| "[]".into());
        let routes: Vec<Route> =
            serde_json::from_str(&routes_json).map_err(|err| ConfigError::Invalid {
                name: "PAGERDUTY_ROUTES",
                value: routes_json.clone(),
                why: err.to_string(),
            })?;
        for route in &routes {
            let matchers = [
                route.thing_group.is_some(),
                route.thing_type.is_some(),
                route.attribute.is_some(),
            ];
            if matchers.iter().filter(|set| **set).count() != 1
                || !SEVERITIES.contains(&route.severity.as_str())
            {
                return Err(ConfigError::Invalid {
                    name: "PAGERDUTY_ROUTES",
                    value: routes_json,
                    why: "each route needs exactly one of thing_group, thing_type, attribute and a PagerDuty severity".into(),
                });
            }
        }
        let rate = number("PAGERDUTY_RATE_PER_MINUTE", 100)?;
        if rate == 0 {
            return Err(ConfigError::Invalid {
                name: "PAGERDUTY_RATE_PER_MINUTE",
                value: "0".into(),
                why: "at least 1".into(),
            });
        }
        Ok(PagerConfig {
            table: required("PAGER_TABLE_NAME")?,
            queue_url: required("PAGER_QUEUE_URL")?,
            dead_letter_queue_url: required("PAGER_DEAD_LETTER_QUEUE_URL")?,
            events_url: get("PAGERDUTY_EVENTS_URL")
                .unwrap_or_else(|| "https://events.pagerduty.com/v2/enqueue".into()),
            rate_per_minute: rate.min(u64::from(u32::MAX)) as u32,
            paging: PagingConfig {
                deployment: required("PAGER_DEPLOYMENT")?,
                routes,
                default: Destination {
                    routing_key_secret_arn: required("PAGERDUTY_ROUTING_KEY_SECRET_ARN")?,
                    severity,
                },
                page_maintenance: get("PAGE_MAINTENANCE").as_deref() == Some("true"),
                storm_wait: Duration::from_secs(number("PAGER_STORM_WAIT_SECONDS", 30)?),
            },
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PagerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot send to queue {queue}: {message}")]
    Queue { queue: String, message: String },
}

/// What a look left for later.
enum Next {
    Done,
    /// Look again after this long.
    Later(Duration),
}

pub struct Pager {
    table: PagesTable,
    sqs: aws_sdk_sqs::Client,
    api: EventsApi,
    keys: RoutingKeys,
    config: PagerConfig,
    /// This instance's name; each look claims as `<me>#<n>`.
    me: String,
    looks: std::sync::atomic::AtomicU64,
}

impl Pager {
    pub fn new(aws: &aws_config::SdkConfig, config: PagerConfig) -> Self {
        Pager {
            table: PagesTable::new(aws_sdk_dynamodb::Client::new(aws), config.table.clone()),
            sqs: aws_sdk_sqs::Client::new(aws),
            api: EventsApi::new(config.events_url.clone()),
            keys: RoutingKeys::new(aws_sdk_secretsmanager::Client::new(aws)),
            me: format!("pager-{:x}", since_epoch().as_nanos()),
            looks: std::sync::atomic::AtomicU64::new(0),
            config,
        }
    }

    /// One invocation: the scheduled pass (`{"pagerPass": true}`) or a batch of the queue.
    pub async fn handle(&self, event: &Value, stop_at: Instant) -> BatchResponse {
        if event["pagerPass"].as_bool() == Some(true) {
            self.pass(stop_at).await;
            return BatchResponse::default();
        }
        let records = event["Records"].as_array().cloned().unwrap_or_default();
        let failures: Vec<ItemFailure> = stream::iter(records)
            .map(|record| async move {
                let id = record["messageId"].as_str().unwrap_or_default().to_owned();
                let body = record["body"].as_str().unwrap_or_default();
                if Instant::now() >= stop_at {
                    // Too close to the deadline to start: SQS delivers it again.
                    return Some(ItemFailure { item_identifier: id });
                }
                match self.message(body).await {
                    Ok(()) => None,
                    Err(err) => {
                        error!(error = %err, message_id = %id, "message failed; SQS delivers it again");
                        Some(ItemFailure { item_identifier: id })
                    }
                }
            })
            .buffer_unordered(CONCURRENT_LOOKS)
            .filter_map(|failure| async move { failure })
            .collect()
            .await;
        BatchResponse {
            batch_item_failures: failures,
        }
    }

    async fn message(&self, body: &str) -> Result<(), PagerError> {
        let message: Value = match serde_json::from_str(body) {
            Ok(message) => message,
            Err(err) => {
                warn!(error = %err, body, "skipped a message that is not JSON");
                return Ok(());
            }
        };
        if let Some(key) = message["pagerLook"].as_str() {
            return self.look_and_schedule(key).await;
        }
        if let Some(refused) = message.get("pagerRefused") {
            // Re-driven from the dead-letter queue: post it again if nothing newer is wanted.
            let (Some(key), Some(sequence)) =
                (refused["key"].as_str(), refused["sequence"].as_u64())
            else {
                warn!(body, "skipped a re-driven refusal without key and sequence");
                return Ok(());
            };
            if !self.table.reopen_refused(key, sequence).await? {
                info!(
                    key,
                    sequence, "re-driven page is superseded or already re-driven"
                );
            }
            return self.look_and_schedule(key).await;
        }
        let intent = match intent_of(&message, &self.config.paging) {
            Ok(intent) => intent,
            Err(err) => {
                warn!(error = %err, body, "skipped a message the pager does not read");
                return Ok(());
            }
        };
        let now = now_ms();
        if !self.table.record(&intent, now).await? {
            info!(key = %intent.key, sequence = intent.sequence, "an older or repeated announcement changes nothing");
        }
        // Only the Degraded the storm's key wants now marks its devices: a late or
        // re-driven one of an ended storm must not hold them back.
        let current = match &intent.storm_id {
            Some(_) if !intent.storm_devices.is_empty() => {
                self.table.read(&intent.key).await?.is_some_and(|stored| {
                    stored.state.wanted == Some((Action::Trigger, intent.sequence))
                })
            }
            _ => false,
        };
        if let Some(storm) = intent.storm_id.as_ref().filter(|_| current) {
            let marks: Vec<Result<(), StoreError>> = stream::iter(&intent.storm_devices)
                .map(|client_id| async move {
                    let key = self.config.paging.device_key(client_id);
                    self.table.mark_storm(&key, storm).await
                })
                .buffer_unordered(8)
                .collect()
                .await;
            marks.into_iter().collect::<Result<(), _>>()?;
        }
        self.look_and_schedule(&intent.key).await
    }

    async fn look_and_schedule(&self, key: &str) -> Result<(), PagerError> {
        match self.look(key).await? {
            Next::Done => Ok(()),
            Next::Later(delay) => self.look_later(key, delay).await,
        }
    }

    /// Sends the key a look of its own, delayed (SQS holds it up to 15 minutes; a longer
    /// wait is looked at again then, or by the pass).
    async fn look_later(&self, key: &str, delay: Duration) -> Result<(), PagerError> {
        let seconds = delay
            .as_millis()
            .div_ceil(1000)
            .min(u128::from(MAX_DELAY_SECONDS)) as i32;
        self.sqs
            .send_message()
            .queue_url(&self.config.queue_url)
            .message_body(json!({ "pagerLook": key }).to_string())
            .delay_seconds(seconds)
            .send()
            .await
            .map_err(|err| PagerError::Queue {
                queue: self.config.queue_url.clone(),
                message: aws_sdk_sqs::error::DisplayErrorContext(err).to_string(),
            })?;
        Ok(())
    }

    /// Settles what the key wants now, as far as it can now.
    async fn look(&self, key: &str) -> Result<Next, PagerError> {
        // Each look is its own claimer: two looks of one invocation never share a claim.
        let n = self
            .looks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let me = &format!("{}#{n}", self.me);
        // Each round either settles something and reads again, or returns.
        for _ in 0..4 {
            let Some(stored) = self.table.read(key).await? else {
                return Ok(Next::Done);
            };
            let storm = self.storm_of(&stored).await?;
            let now = now_ms();
            match next_step(&stored.state, storm, me, now) {
                Step::Settled => {
                    if let (true, Some((_, sequence))) = (stored.owed_marked, stored.state.wanted) {
                        self.table.clear_owed(key, sequence).await?;
                    }
                    return Ok(Next::Done);
                }
                // The holder reads the key again after its post; the pass looks at the
                // storm's devices each minute.
                Step::Claimed | Step::InStorm => return Ok(Next::Done),
                Step::WaitUntil(at) => {
                    return Ok(Next::Later(Duration::from_millis(at.saturating_sub(now))))
                }
                Step::Skip(why, sequence) => {
                    if self
                        .table
                        .settle(key, None, sequence, false, false, now)
                        .await?
                    {
                        info!(key, sequence, reason = ?why, "settled without a post");
                    }
                }
                Step::Post(action, sequence) => {
                    let Some(was_open) = self
                        .table
                        .claim(key, me, action, sequence, now, LEASE)
                        .await?
                    else {
                        continue;
                    };
                    let mut stored = stored;
                    stored.state.maybe_open = was_open;
                    if let Some(wait) = self.post(key, me, &stored, action, sequence).await? {
                        return Ok(Next::Later(wait));
                    }
                }
            }
        }
        Ok(Next::Done)
    }

    /// The storm a device's trigger waits for: open while its key wants its trigger; once
    /// its Restored is recorded (the key's `notBefore` is then that time), the device's own
    /// return gets `storm_wait` to arrive before it is paged on its own.
    async fn storm_of(&self, stored: &Stored) -> Result<Storm, PagerError> {
        let (Some(storm), Some((Action::Trigger, _))) = (&stored.state.storm, stored.state.wanted)
        else {
            return Ok(Storm::None);
        };
        let storm_key = self.config.paging.storm_key(storm);
        let wait = self.config.paging.storm_wait.as_millis() as u64;
        Ok(match self.table.read(&storm_key).await? {
            Some(storm) => match storm.state.wanted {
                Some((Action::Trigger, _)) => Storm::Open,
                Some((Action::Resolve, _)) => Storm::Ended {
                    quiet_until_ms: storm.state.not_before_ms + wait,
                },
                None => Storm::None,
            },
            None => Storm::None,
        })
    }

    /// Posts `action` for the key `me` claimed (`stored` as it was just before the claim);
    /// Some(wait) when it is to be looked at again later.
    async fn post(
        &self,
        key: &str,
        me: &str,
        stored: &Stored,
        action: Action,
        sequence: u64,
    ) -> Result<Option<Duration>, PagerError> {
        // A trigger goes where its route says; a resolve where the open alert is.
        let routed = match action {
            Action::Trigger => stored.secret_arn.as_ref(),
            Action::Resolve => stored
                .open_secret_arn
                .as_ref()
                .or(stored.secret_arn.as_ref()),
        };
        let arn = routed
            .cloned()
            .unwrap_or_else(|| self.config.paging.default.routing_key_secret_arn.clone());
        let backoff = Duration::from_millis(retry_delay_ms(stored.attempts));
        let routing_key = match self.keys.get(&arn).await {
            Ok(routing_key) => routing_key,
            Err(err) => {
                error!(error = %err, key, "cannot page: no routing key");
                let retry_at = now_ms() + backoff.as_millis() as u64;
                self.release(key, me, true, retry_at, stored).await?;
                return Ok(Some(backoff));
            }
        };
        let bucket = format!(
            "rate#{}#{}",
            digest(&routing_key),
            self.config.rate_per_minute
        );
        if let Some(free_at) = self
            .table
            .take_rate(&bucket, self.config.rate_per_minute, RATE_WINDOW, now_ms())
            .await?
        {
            info!(key, free_at, "rate budget spent; the page waits");
            self.release(key, me, false, free_at, stored).await?;
            return Ok(Some(Duration::from_millis(
                free_at.saturating_sub(now_ms()),
            )));
        }
        let body = event_body(&routing_key, key, action, &stored.payload);
        let answer = self.api.post(&body).await;
        let after = after_answer(&stored.state, action, sequence, &answer);
        match &answer {
            Answer::Accepted => {
                info!(key, sequence, action = %action, "paged");
                self.table
                    .settle(key, Some(me), sequence, after.maybe_open, false, now_ms())
                    .await?;
                Ok(None)
            }
            Answer::Refused(message) => {
                error!(key, sequence, action = %action, answer = %message, "PagerDuty refused the event; it is in the dead-letter queue");
                self.keys.forget(&arn).await;
                self.refused(key, sequence, action, message, &body).await?;
                self.table
                    .settle(key, Some(me), sequence, after.maybe_open, true, now_ms())
                    .await?;
                Ok(None)
            }
            Answer::Throttled(message) => {
                warn!(key, sequence, action = %action, answer = %message, attempt = stored.attempts, "PagerDuty throttled the post; backing off");
                let retry_at = now_ms() + backoff.as_millis() as u64;
                self.release(key, me, true, retry_at, stored).await?;
                Ok(Some(backoff))
            }
            Answer::Unknown(message) => {
                // The post may still reach PagerDuty: the claim is kept to its lease's end,
                // so no later post for the key can overtake it.
                warn!(key, sequence, action = %action, answer = %message, attempt = stored.attempts, "PagerDuty's answer is unknown; retrying after the claim's lease");
                self.table.keep_claim(key, me).await?;
                Ok(Some(LEASE))
            }
        }
    }

    /// Lets go of a claim with nothing posted: the key is as open as it was before.
    async fn release(
        &self,
        key: &str,
        me: &str,
        failed: bool,
        not_before_ms: u64,
        stored: &Stored,
    ) -> Result<(), PagerError> {
        self.table
            .release(key, me, failed, not_before_ms, stored.state.maybe_open)
            .await?;
        Ok(())
    }

    /// A refused event to the dead-letter queue, with PagerDuty's answer and without the
    /// routing key; re-driven to the pages queue, it is posted again.
    async fn refused(
        &self,
        key: &str,
        sequence: u64,
        action: Action,
        answer: &str,
        body: &Value,
    ) -> Result<(), PagerError> {
        let mut event = body.clone();
        if let Some(fields) = event.as_object_mut() {
            fields.remove("routing_key");
        }
        let message = json!({
            "pagerRefused": {"key": key, "sequence": sequence, "action": action.event_action()},
            "answer": answer,
            "event": event,
        });
        self.sqs
            .send_message()
            .queue_url(&self.config.dead_letter_queue_url)
            .message_body(message.to_string())
            .send()
            .await
            .map_err(|err| PagerError::Queue {
                queue: self.config.dead_letter_queue_url.clone(),
                message: aws_sdk_sqs::error::DisplayErrorContext(err).to_string(),
            })?;
        Ok(())
    }

    /// Every key still owing a post, looked at (what a lost message or a crash left).
    async fn pass(&self, stop_at: Instant) {
        let keys = match self.table.owed_keys(PASS_KEYS).await {
            Ok(keys) => keys,
            Err(err) => {
                error!(error = %err, "the pass cannot read the owed keys");
                return;
            }
        };
        let owed = keys.len();
        let looked: usize = stream::iter(keys)
            .take_while(|_| std::future::ready(Instant::now() < stop_at))
            .map(|key| async move {
                // A key still waiting is looked at by the next pass; no message is needed.
                if let Err(err) = self.look(&key).await {
                    error!(error = %err, key, "the pass's look failed");
                }
            })
            .buffer_unordered(CONCURRENT_LOOKS)
            .count()
            .await;
        info!(owed, looked, "pass");
    }
}

fn now_ms() -> u64 {
    since_epoch().as_millis() as u64
}

/// A routing key's digest: budgets are per key, and the key itself is stored nowhere.
fn digest(routing_key: &str) -> String {
    let hash = Sha256::digest(routing_key.as_bytes());
    hash.iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const REQUIRED: [(&str, &str); 5] = [
        ("PAGER_TABLE_NAME", "t"),
        ("PAGER_QUEUE_URL", "q"),
        ("PAGER_DEAD_LETTER_QUEUE_URL", "d"),
        ("PAGER_DEPLOYMENT", "prod"),
        (
            "PAGERDUTY_ROUTING_KEY_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:1:secret:pd",
        ),
    ];

    #[test]
    fn the_config_has_defaults_and_names_what_is_missing() {
        let config = PagerConfig::from_lookup(env(&REQUIRED)).unwrap();
        assert_eq!(config.rate_per_minute, 100);
        assert_eq!(config.paging.storm_wait, Duration::from_secs(30));
        assert_eq!(config.paging.default.severity, "critical");
        assert!(!config.paging.page_maintenance);
        let err = PagerConfig::from_lookup(env(&REQUIRED[1..])).unwrap_err();
        assert!(err.to_string().contains("PAGER_TABLE_NAME"), "{err}");
    }

    #[test]
    fn routes_need_one_matcher_and_a_severity() {
        let mut pairs = REQUIRED.to_vec();
        pairs.push((
            "PAGERDUTY_ROUTES",
            r#"[{"thing_group":"a","thing_type":"b","attribute":null,"routing_key_secret_arn":"x","severity":"error"}]"#,
        ));
        let err = PagerConfig::from_lookup(env(&pairs)).unwrap_err();
        assert!(err.to_string().contains("exactly one"), "{err}");
        pairs.pop();
        pairs.push((
            "PAGERDUTY_ROUTES",
            r#"[{"thing_group":"a","thing_type":null,"attribute":null,"routing_key_secret_arn":"x","severity":"error"}]"#,
        ));
        assert_eq!(
            PagerConfig::from_lookup(env(&pairs))
                .unwrap()
                .paging
                .routes
                .len(),
            1
        );
    }

    #[test]
    fn budgets_are_named_by_a_digest_never_the_key() {
        let name = digest("0123456789abcdef0123456789abcdef");
        assert_eq!(name.len(), 16);
        assert!(!name.contains("0123456789abcdef"));
    }
}

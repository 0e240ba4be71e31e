//! Reads a device's thing from the IoT thing registry (thing_context_enabled), within the
//! registry's quotas: DescribeThing allows about 350 and ListThingGroupsForThing about 100
//! requests a second per account, shared with everything else the account does.
//!
//! So a lookup is cached (five minutes), paced (at most [`RegistryConfig::lookups_per_second`]
//! per notifier instance, each two calls), not retried, paused for 2 s whenever the registry
//! throttles (so instances together back off to what the account's quota leaves them), and
//! bounded in time
//! ([`RegistryConfig::deadline`]): an announcement is never held longer for its context;
//! the caller puts it with the context it already has, or without.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_iot::error::{DisplayErrorContext, ProvideErrorMetadata};
use tracing::warn;

use crate::announcements::thing::{Context, Thing};

/// How long an answer is kept in memory.
const CACHE_TTL: Duration = Duration::from_secs(300);
/// Calls made after the registry throttled one wait this long first.
const THROTTLE_PAUSE: Duration = Duration::from_secs(2);
/// Answers kept at most; past it, the expired ones are dropped, then all if need be.
const CACHE_ENTRIES: usize = 50_000;
/// Groups read per ListThingGroupsForThing page (the API's maximum is 250).
const GROUPS_PAGE: i32 = 250;

#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The longest a lookup may take, pacing included.
    pub deadline: Duration,
    pub lookups_per_second: u32,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(3),
            lookups_per_second: 50,
        }
    }
}

pub struct Registry {
    client: aws_sdk_iot::Client,
    config: RegistryConfig,
    cache: Mutex<HashMap<String, (Instant, Context)>>,
    /// The next free slot of the pace, and when a throttling pause ends.
    pace: Mutex<(Instant, Instant)>,
    calls: std::sync::atomic::AtomicU64,
}

impl Registry {
    pub fn new(aws: &aws_config::SdkConfig, config: RegistryConfig) -> Self {
        let client = aws_sdk_iot::Client::from_conf(
            aws_sdk_iot::config::Builder::from(aws)
                // No retries inside a lookup: a throttled call pauses the pace instead,
                // and the announcement goes out with the context it has.
                .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
                .timeout_config(
                    aws_config::timeout::TimeoutConfig::builder()
                        .operation_timeout(config.deadline)
                        .build(),
                )
                .build(),
        );
        let now = Instant::now();
        Self {
            client,
            config,
            cache: Mutex::new(HashMap::new()),
            pace: Mutex::new((now, now)),
            calls: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Registry calls made so far by this process.
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The thing `name`, from the cache or the registry; `Unavailable` when the registry
    /// cannot answer within the deadline.
    pub async fn lookup(&self, name: &str) -> Context {
        // The registry refuses such a name (InvalidRequestException): no thing has it.
        if !is_thing_name(name) {
            return Context::NoThing;
        }
        if let Some(context) = self.cached(name) {
            return context;
        }
        let started = Instant::now();
        let Some(slot) = self.reserve(started) else {
            return Context::Unavailable { name: name.into() };
        };
        tokio::time::sleep_until(slot.into()).await;
        let left = self.config.deadline.saturating_sub(started.elapsed());
        let context = match tokio::time::timeout(left, self.read(name)).await {
            Ok(Ok(context)) => context,
            Ok(Err(RegistryError { throttled, message })) => {
                if throttled {
                    self.pause();
                }
                warn!(
                    thingName = name,
                    error = message,
                    "thing registry: no context"
                );
                return Context::Unavailable { name: name.into() };
            }
            Err(_) => {
                warn!(thingName = name, "thing registry: no answer in time");
                return Context::Unavailable { name: name.into() };
            }
        };
        let mut cache = self.cache.lock().expect("cache lock");
        if cache.len() >= CACHE_ENTRIES {
            cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(name.to_owned(), (Instant::now(), context.clone()));
        context
    }

    fn cached(&self, name: &str) -> Option<Context> {
        let mut cache = self.cache.lock().expect("cache lock");
        match cache.get(name) {
            Some((at, context)) if at.elapsed() < CACHE_TTL => Some(context.clone()),
            Some(_) => {
                cache.remove(name);
                None
            }
            None => None,
        }
    }

    /// A slot in the pace, unless it would start past the deadline.
    fn reserve(&self, now: Instant) -> Option<Instant> {
        let interval = Duration::from_secs(1) / self.config.lookups_per_second.max(1);
        let mut pace = self.pace.lock().expect("pace lock");
        let slot = pace.0.max(pace.1).max(now);
        if slot.duration_since(now) >= self.config.deadline {
            return None;
        }
        pace.0 = slot + interval;
        Some(slot)
    }

    fn pause(&self) {
        let mut pace = self.pace.lock().expect("pace lock");
        pace.1 = pace.1.max(Instant::now() + THROTTLE_PAUSE);
    }

    async fn read(&self, name: &str) -> Result<Context, RegistryError> {
        let calls = &self.calls;
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let described = match self.client.describe_thing().thing_name(name).send().await {
            Ok(described) => described,
            Err(err) if err.code() == Some("ResourceNotFoundException") => {
                return Ok(Context::NoThing)
            }
            Err(err) => return Err(RegistryError::of("DescribeThing", err)),
        };
        let mut groups = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let page = self
                .client
                .list_thing_groups_for_thing()
                .thing_name(name)
                .max_results(GROUPS_PAGE)
                .set_next_token(next_token.take())
                .send()
                .await;
            let page = match page {
                Ok(page) => page,
                // Deleted between the two calls.
                Err(err) if err.code() == Some("ResourceNotFoundException") => {
                    return Ok(Context::NoThing)
                }
                Err(err) => return Err(RegistryError::of("ListThingGroupsForThing", err)),
            };
            groups.extend(
                page.thing_groups()
                    .iter()
                    .filter_map(|group| group.group_name().map(str::to_owned)),
            );
            match page.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
        }
        groups.sort();
        groups.dedup();
        Ok(Context::Known(Thing {
            name: described.thing_name().unwrap_or(name).to_owned(),
            type_name: described.thing_type_name().map(str::to_owned),
            attributes: described
                .attributes()
                .map(|attributes| {
                    attributes
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect::<BTreeMap<_, _>>()
                })
                .unwrap_or_default(),
            groups,
        }))
    }
}

/// A name the registry can hold: `[a-zA-Z0-9:_-]{1,128}`.
fn is_thing_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'))
}

struct RegistryError {
    throttled: bool,
    message: String,
}

impl RegistryError {
    fn of<E, R>(operation: &str, err: aws_sdk_iot::error::SdkError<E, R>) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        Self {
            throttled: matches!(
                err.code(),
                Some("ThrottlingException" | "TooManyRequestsException")
            ),
            message: format!("{operation}: {}", DisplayErrorContext(&err)),
        }
    }
}

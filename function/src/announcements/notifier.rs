//! The notifier's glue: whatever wakes it (the table's stream, a grace check, the
//! reconciler's schedule), it looks at the clients named, decides from each item as it is
//! now ([`crate::announcements::decision::look`]), and puts what is owed on EventBridge
//! ([`crate::presence::store`] records and settles).
//!
//! Nothing waits on a signal arriving: every presence write marks its item as owing until
//! the notifier settles it, and the reconciler reads the marked items through a sparse
//! index on a schedule. So a failure anywhere (a throttled read, a failed PutEvents, a lost
//! stream batch) is logged and left to the next look; it never blocks a stream shard
//! behind one client. Announcements are put in batches of up to 10 entries; entries that
//! fail with a retryable code are retried with backoff and jitter. A malformed record is
//! logged and skipped: retrying cannot mend it.
//!
//! Over 500 lines on purpose: the stream, grace-check and reconcile paths share one look,
//! claim, put and settle sequence, which reads best in one place.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use futures::stream::{self, StreamExt};
use serde_json::Value;
use tracing::{error, info, warn};

use crate::announcements::decision::{delay_seconds, look, Snapshot, Transition, Verdict};
use crate::announcements::detail::{detail_of, detail_type, text};
use crate::announcements::store::snapshot_of;
use crate::presence::ordering::Presence;
use crate::presence::store::{attr, Item, Store, StoreError, OWED_INDEX};
use crate::shared::stream::{BatchResponse, ItemFailure};

/// Settings read from the environment the module gives the notifier.
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
    /// Where announcement metrics go (EMF on stdout); None: no metrics.
    pub metrics: Option<crate::shared::metrics::MetricsConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifierConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{0} must be a whole number, got {1:?}")]
    NotANumber(&'static str, String),
}

impl NotifierConfig {
    /// Reads `TABLE_NAME`, `EVENT_BUS_NAME`, `EVENT_SOURCE`, `GRACE_PERIOD_SECONDS`,
    /// `GRACE_QUEUE_URL`, and optionally `ITEM_TTL_SECONDS` and `MAX_CONCURRENT_PUTS`
    /// (default 2).
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
                .unwrap_or(2)
                .max(1) as usize,
            metrics: crate::shared::metrics::MetricsConfig::from_env(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("EventBridge PutEvents for client {client_id} failed: {message}")]
    PutEvents { client_id: String, message: String },
    #[error("SQS SendMessage of the grace check for client {client_id} failed: {message}")]
    Schedule { client_id: String, message: String },
    #[error("Query of the owed announcements ({key}) failed: {message}")]
    Owed { key: String, message: String },
    #[error("client {client_id}: no decision after {attempts} attempts (the item kept changing)")]
    Contention { client_id: String, attempts: usize },
}

/// Looks at one client before giving up: each retry means its item changed meanwhile.
const MAX_ATTEMPTS: usize = 8;
/// PutEvents takes at most 10 entries.
const PUT_BATCH: usize = 10;
/// Tries of an entry that fails with a retryable code, backing off in between.
const PUT_ATTEMPTS: u32 = 5;
/// Entry error codes worth retrying (EventBridge: PutEventsResultEntry).
const RETRYABLE_ENTRY_CODES: [&str; 3] = [
    "ThrottlingException",
    "InternalFailure",
    "InternalException",
];
/// A grace check that failed is received again after this, doubled per receive.
const CHECK_BACKOFF_SECONDS: u64 = 30;

/// What a look at one client came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// An announcement was put (and confirmed).
    Announced,
    /// Nothing is owed (the mark, if any, removed).
    Settled,
    /// A disconnect waits out its grace period.
    Waiting,
    /// The item no longer exists.
    Gone,
    /// It failed; the item stays marked, so the next look settles it.
    Failed,
    /// Not looked at: the invocation was running out of time. The item stays marked.
    Deferred,
}

/// An announcement recorded as pending, to put and confirm.
struct Put {
    client_id: String,
    event_id: String,
    /// The look's claim token, to release the claim if the put fails.
    token: String,
    detail: String,
    /// The revision and status at which this announcement leaves nothing owed.
    settle: Option<(Option<u64>, Presence)>,
}

/// What the look before a put came to.
enum Prepared {
    Done(Outcome),
    Put(Put),
}

pub struct Notifier {
    store: Store,
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
            dynamodb,
            events: aws_sdk_eventbridge::Client::from_conf(
                aws_sdk_eventbridge::config::Builder::from(aws)
                    .timeout_config(put_events_timeouts())
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
            self.reconcile(stop_at).await;
            return response;
        }
        let Some(records) = payload.get("Records").and_then(Value::as_array) else {
            warn!(%payload, "not a stream or queue batch, nor a schedule: skipped");
            return response;
        };
        let mut woken = Vec::new();
        let mut checks = Vec::new();
        for record in records {
            match record.get("eventSource").and_then(Value::as_str) {
                Some("aws:dynamodb") => {
                    match record["dynamodb"]["Keys"]["ClientID"]["S"].as_str() {
                        Some(client_id) => woken.push(client_id.to_owned()),
                        None => warn!(%record, "stream record without a ClientID key: skipped"),
                    }
                }
                Some("aws:sqs") => match record["body"]
                    .as_str()
                    .and_then(|body| serde_json::from_str::<GraceCheck>(body).ok())
                {
                    Some(check) => checks.push((check.client_id, record)),
                    None => warn!(%record, "not a grace check: skipped"),
                },
                _ => warn!(%record, "record of an unknown source: skipped"),
            }
        }
        // A stream record is only a hint to look: a failure stays marked on the item for
        // the reconciler, so the shard never waits behind one client.
        self.look_at(woken, true, stop_at).await;
        let outcomes = self
            .look_at(
                checks.iter().map(|(client, _)| client.clone()).collect(),
                true,
                stop_at,
            )
            .await;
        for (client_id, record) in checks {
            if outcomes.get(&client_id) == Some(&Outcome::Failed) {
                self.back_off(record).await;
                response.batch_item_failures.push(ItemFailure {
                    item_identifier: record["messageId"].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
        response
    }

    /// The reconciler: every item marked as owing an announcement, looked at now.
    pub async fn reconcile(&self, stop_at: Instant) -> BTreeMap<Outcome, usize> {
        let mut owed = Vec::new();
        let mut unread = 0;
        // Each pass starts at a shard picked from the clock's nanoseconds, so a pass cut
        // short by its deadline does not starve the same shards every time (the seconds
        // would not do: a schedule of N minutes would start at the same shard whenever 60·N
        // is a multiple of the shard count).
        let first = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        for offset in 0..crate::presence::store::OWED_SHARDS {
            let shard = (first + offset) % crate::presence::store::OWED_SHARDS;
            let key = format!("Owed#{shard}");
            match self.owed_in(&key).await {
                Ok(clients) => owed.extend(clients),
                Err(err) => {
                    unread += 1;
                    error!(error = %err, "owed announcements not read");
                }
            }
        }
        let outcomes = self.look_at(owed, false, stop_at).await;
        let mut summary = BTreeMap::new();
        for outcome in outcomes.values() {
            *summary.entry(*outcome).or_insert(0) += 1;
        }
        info!(
            owed = outcomes.len(),
            announced = summary.get(&Outcome::Announced).copied().unwrap_or(0),
            settled = summary.get(&Outcome::Settled).copied().unwrap_or(0),
            waiting = summary.get(&Outcome::Waiting).copied().unwrap_or(0),
            failed = summary.get(&Outcome::Failed).copied().unwrap_or(0),
            deferred = summary.get(&Outcome::Deferred).copied().unwrap_or(0),
            unreadShards = unread,
            "reconciled"
        );
        summary
    }

    async fn owed_in(&self, key: &str) -> Result<Vec<String>, NotifierError> {
        let mut pages = self
            .dynamodb
            .query()
            .table_name(&self.config.table_name)
            .index_name(OWED_INDEX)
            .key_condition_expression("#owed = :key")
            .expression_attribute_names("#owed", attr::OWED_SHARD)
            .expression_attribute_values(":key", AttributeValue::S(key.to_owned()))
            .into_paginator()
            .items()
            .send();
        let mut clients = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|err| NotifierError::Owed {
                key: key.to_owned(),
                message: crate::presence::store::error_message(&err),
            })?;
            if let Some(client_id) = item.get(attr::CLIENT_ID).and_then(|v| v.as_s().ok()) {
                clients.push(client_id.clone());
            }
        }
        Ok(clients)
    }

    /// Looks at each client once, in batches of [`PUT_BATCH`], at most
    /// `max_concurrent_puts` batches at a time. `schedule_waits`: a disconnect still in its
    /// grace period gets a grace check (the reconciler needs none: it comes back anyway).
    async fn look_at(
        &self,
        clients: Vec<String>,
        schedule_waits: bool,
        stop_at: Instant,
    ) -> BTreeMap<String, Outcome> {
        let mut seen = HashSet::new();
        let clients: Vec<String> = clients
            .into_iter()
            .filter(|c| seen.insert(c.clone()))
            .collect();
        let batches: Vec<Vec<String>> = clients.chunks(PUT_BATCH).map(<[String]>::to_vec).collect();
        stream::iter(batches)
            .map(|batch| async move {
                if Instant::now() >= stop_at {
                    // Out of time: left marked, for the next look.
                    return batch.into_iter().map(|c| (c, Outcome::Deferred)).collect();
                }
                self.look_at_batch(batch, schedule_waits).await
            })
            .buffer_unordered(self.config.max_concurrent_puts)
            .flat_map(stream::iter)
            .collect()
            .await
    }

    async fn look_at_batch(
        &self,
        clients: Vec<String>,
        schedule_waits: bool,
    ) -> Vec<(String, Outcome)> {
        let prepared = futures::future::join_all(
            clients
                .iter()
                .map(|client_id| self.prepare(client_id, schedule_waits)),
        )
        .await;
        let mut outcomes = Vec::new();
        let mut puts = Vec::new();
        for (client_id, prepared) in clients.into_iter().zip(prepared) {
            match prepared {
                Ok(Prepared::Done(outcome)) => outcomes.push((client_id, outcome)),
                Ok(Prepared::Put(put)) => puts.push(put),
                Err(err) => {
                    error!(error = %err, clientId = client_id, "not settled: left to the next look");
                    outcomes.push((client_id, Outcome::Failed));
                }
            }
        }
        let results = self.put_batch(&puts).await;
        let confirmed = futures::future::join_all(puts.iter().zip(results).map(|(put, result)| async move {
            let outcome = match result {
                Ok(()) => match self
                    .store
                    .confirm_announcement(&put.client_id, &put.event_id, put.settle)
                    .await
                {
                    Ok(_) => Outcome::Announced,
                    Err(err) => {
                        error!(error = %err, clientId = put.client_id, "put, not confirmed: it will be put again");
                        Outcome::Failed
                    }
                },
                Err(message) => {
                    error!(error = message, clientId = put.client_id, eventId = put.event_id,
                           "PutEvents failed: the pending announcement will be put again");
                    self.release(put).await;
                    Outcome::Failed
                }
            };
            (put.client_id.clone(), outcome)
        }))
        .await;
        outcomes.extend(confirmed);
        outcomes
    }

    /// Reads the item, decides, and records what the verdict asks (a claim, the owed mark
    /// removed, a grace check), each write conditioned on the revision decided on.
    async fn prepare(
        &self,
        client_id: &str,
        schedule_waits: bool,
    ) -> Result<Prepared, NotifierError> {
        let token = claim_token();
        // The eventId of a claim or takeover answered by an error: it may have landed.
        let mut unsure = None;
        let prepared = self
            .decide_and_claim(client_id, schedule_waits, &token, &mut unsure)
            .await;
        if let (Err(_), Some(event_id)) = (&prepared, &unsure) {
            // Landed or not, freed for the next look rather than held for its lease.
            if let Err(err) = self
                .store
                .release_announcement(client_id, event_id, &token)
                .await
            {
                warn!(error = %err, clientId = client_id, "claim not released: it is put again after its lease");
            }
        }
        prepared
    }

    async fn decide_and_claim(
        &self,
        client_id: &str,
        schedule_waits: bool,
        token: &str,
        unsure: &mut Option<String>,
    ) -> Result<Prepared, NotifierError> {
        let grace_ms = self.config.grace_period.as_millis() as i64;
        let mut failure = None;
        for _ in 0..MAX_ATTEMPTS {
            let Some(item) = self.store.get(client_id).await? else {
                return Ok(Prepared::Done(Outcome::Gone));
            };
            let snapshot = snapshot_of(&item);
            let verdict = match &snapshot.announced {
                // This look's own claim, landed although its write was answered by an
                // error: taken over (renewing its lease) and put, not left to the lease.
                Some(announced)
                    if announced.pending
                        && unsure.is_some()
                        && snapshot.claim.as_deref() == Some(token) =>
                {
                    Verdict::ResumePending
                }
                _ => look(client_id, &snapshot, grace_ms, now_ms()),
            };
            match verdict {
                Verdict::Settled => {
                    let status = snapshot.status.unwrap_or(Presence::Disconnected);
                    if !snapshot.owed
                        || self
                            .store
                            .settle(client_id, snapshot.revision, status)
                            .await?
                    {
                        return Ok(Prepared::Done(Outcome::Settled));
                    }
                }
                // Its claimer is putting it; the item stays owed until confirmed.
                Verdict::ClaimedElsewhere => return Ok(Prepared::Done(Outcome::Waiting)),
                Verdict::WaitUntil { transition, due_at } => {
                    if schedule_waits {
                        self.schedule(&transition, due_at).await?;
                    }
                    return Ok(Prepared::Done(Outcome::Waiting));
                }
                Verdict::ResumePending => {
                    let announced = snapshot.announced.as_ref().expect("pending is announced");
                    match self
                        .store
                        .resume_announcement(
                            client_id,
                            &announced.event_id,
                            snapshot.announced_at,
                            token,
                        )
                        .await
                    {
                        Ok(true) => {
                            return Ok(Prepared::Put(pending_put(
                                client_id, &snapshot, &item, token,
                            )))
                        }
                        // Another look took it over, or it was confirmed meanwhile.
                        Ok(false) => return Ok(Prepared::Done(Outcome::Waiting)),
                        Err(err) => {
                            *unsure = Some(announced.event_id.clone());
                            failure = Some(err);
                        }
                    }
                }
                Verdict::Announce(transition) => {
                    let detail = detail_of(&item, &transition).to_string();
                    match self
                        .store
                        .claim_announcement(&transition, &detail, snapshot.revision, token)
                        .await
                    {
                        Ok(true) => {
                            return Ok(Prepared::Put(Put {
                                client_id: client_id.to_owned(),
                                event_id: transition.event_id(),
                                token: token.to_owned(),
                                detail,
                                settle: Some((snapshot.revision, transition.status)),
                            }))
                        }
                        Ok(false) => failure = None,
                        Err(err) => {
                            *unsure = Some(transition.event_id());
                            failure = Some(err);
                        }
                    }
                }
            }
        }
        Err(match failure {
            Some(err) => err.into(),
            None => NotifierError::Contention {
                client_id: client_id.to_owned(),
                attempts: MAX_ATTEMPTS,
            },
        })
    }

    /// A grace check due at `due_at`: a hint to look at the client then.
    async fn schedule(&self, transition: &Transition, due_at: i64) -> Result<(), NotifierError> {
        let check = GraceCheck {
            client_id: transition.client_id.clone(),
            due_at,
        };
        self.sqs
            .send_message()
            .queue_url(&self.config.grace_queue_url)
            .message_body(serde_json::to_string(&check).expect("a check serializes"))
            .delay_seconds(delay_seconds(due_at, now_ms()) as i32)
            .send()
            .await
            .map_err(|err| NotifierError::Schedule {
                client_id: transition.client_id.clone(),
                message: aws_sdk_sqs::error::DisplayErrorContext(err).to_string(),
            })?;
        info!(
            clientId = transition.client_id,
            disconnectTime = transition.at,
            dueAt = due_at,
            "disconnect: checking again after the grace period"
        );
        Ok(())
    }

    /// A failed grace check comes back later each time (30 s, 60 s, ... up to 15
    /// minutes) instead of using up its receives in minutes.
    async fn back_off(&self, record: &Value) {
        let receives: u32 = record["attributes"]["ApproximateReceiveCount"]
            .as_str()
            .and_then(|count| count.parse().ok())
            .unwrap_or(1);
        let seconds = CHECK_BACKOFF_SECONDS
            .saturating_mul(1 << receives.clamp(1, 6).saturating_sub(1))
            .min(crate::announcements::decision::MAX_DELAY_SECONDS);
        let Some(receipt) = record["receiptHandle"].as_str() else {
            return;
        };
        if let Err(err) = self
            .sqs
            .change_message_visibility()
            .queue_url(&self.config.grace_queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds as i32)
            .send()
            .await
        {
            warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(err), "grace check not backed off");
        }
    }

    /// Releases the claim of a put that failed, tried as often as a put: a claim left held
    /// waits out its lease, a minute after the outage that failed the put has ended.
    async fn release(&self, put: &Put) {
        for attempt in 0..PUT_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            match self
                .store
                .release_announcement(&put.client_id, &put.event_id, &put.token)
                .await
            {
                Ok(_) => return,
                Err(err) if attempt + 1 == PUT_ATTEMPTS => {
                    warn!(error = %err, clientId = put.client_id, "claim not released: it is put again after its lease");
                }
                Err(_) => {}
            }
        }
    }

    /// Puts up to 10 announcements in one PutEvents call; an entry that fails with a
    /// retryable code is put again, with backoff and jitter. One result per entry.
    async fn put_batch(&self, puts: &[Put]) -> Vec<Result<(), String>> {
        let mut results: Vec<Option<Result<(), String>>> = puts.iter().map(|_| None).collect();
        for attempt in 0..PUT_ATTEMPTS {
            let waiting: Vec<usize> = (0..puts.len()).filter(|&i| results[i].is_none()).collect();
            if waiting.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            let entries = waiting.iter().map(|&i| {
                let fields: Value = serde_json::from_str(&puts[i].detail).unwrap_or_default();
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .source(&self.config.event_source)
                    .detail_type(detail_type(fields["status"].as_str() == Some("Connected")))
                    .detail(&puts[i].detail)
                    .event_bus_name(&self.config.event_bus_name)
                    .build()
            });
            let output = match self
                .events
                .put_events()
                .set_entries(Some(entries.collect()))
                .send()
                .await
            {
                Ok(output) => output,
                Err(err) => {
                    // The SDK has retried the call already.
                    let message = aws_sdk_eventbridge::error::DisplayErrorContext(err).to_string();
                    for &i in &waiting {
                        results[i] = Some(Err(message.clone()));
                    }
                    break;
                }
            };
            for (&i, entry) in waiting.iter().zip(output.entries()) {
                match entry.error_code() {
                    None => {
                        results[i] = Some(Ok(()));
                        self.announced(&puts[i]);
                    }
                    Some(code)
                        if RETRYABLE_ENTRY_CODES.contains(&code) && attempt + 1 < PUT_ATTEMPTS => {}
                    Some(code) => {
                        results[i] = Some(Err(format!(
                            "{code}: {}",
                            entry.error_message().unwrap_or("no message")
                        )))
                    }
                }
            }
        }
        results
            .into_iter()
            .map(|result| result.unwrap_or_else(|| Err("no result for the entry".to_owned())))
            .collect()
    }

    fn announced(&self, put: &Put) {
        let fields: Value = serde_json::from_str(&put.detail).unwrap_or_default();
        let detail_type = detail_type(fields["status"].as_str() == Some("Connected"));
        info!(
            clientId = put.client_id,
            eventId = put.event_id,
            detailType = detail_type,
            "announced"
        );
        if let Some(metrics) = &self.config.metrics {
            crate::shared::metrics::emit(
                metrics,
                &[crate::shared::metrics::Directive {
                    dimensions: &[("DetailType", detail_type)],
                    metrics: &[crate::shared::metrics::Metric::count("Announcements", 1.0)],
                }],
            );
        }
    }
}

/// A PutEvents attempt that times out after EventBridge accepted it is put again, and
/// consumers see the announcement twice; so an attempt gets longer than a DynamoDB call
/// (a slow accept is likelier than a lost one), still well inside the claim's lease with its
/// retries (`crate::announcements::decision::PENDING_LEASE_MS`).
fn put_events_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(500))
        .operation_attempt_timeout(Duration::from_millis(2500))
        .operation_timeout(Duration::from_secs(5))
        .build()
}

/// Exponential backoff with full jitter: up to 100 ms, 200 ms, 400 ms, ...
fn backoff(attempt: u32) -> Duration {
    let ceiling_ms = 100u64 << attempt.min(6);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos() as u64;
    Duration::from_millis(nanos % ceiling_ms.max(1))
}

/// A message on the grace-period queue: a hint to look at a client once its disconnect's
/// grace period has passed.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraceCheck {
    client_id: String,
    /// Wall-clock ms after which the check is due (for the logs; the item decides).
    due_at: i64,
}

/// The pending announcement of `snapshot`, whose claim the look drawing `token` holds: to
/// put, settling the item if the table still says what it announces.
fn pending_put(client_id: &str, snapshot: &Snapshot, item: &Item, token: &str) -> Put {
    let announced = snapshot.announced.as_ref().expect("pending is announced");
    Put {
        client_id: client_id.to_owned(),
        event_id: announced.event_id.clone(),
        token: token.to_owned(),
        detail: text(item, attr::ANNOUNCEMENT_DETAIL).unwrap_or_default(),
        settle: (snapshot.status == Some(announced.status))
            .then_some((snapshot.revision, announced.status)),
    }
}

/// A token no other look draws: 128 bits from hashers keyed by the operating system's
/// randomness (std's `RandomState`), over the clock and a per-process counter.
fn claim_token() -> String {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::atomic::{AtomicU64, Ordering};
    static DRAWN: AtomicU64 = AtomicU64::new(0);
    let drawn = DRAWN.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "{:016x}{:016x}",
        RandomState::new().hash_one((drawn, nanos)),
        RandomState::new().hash_one((nanos, drawn))
    )
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

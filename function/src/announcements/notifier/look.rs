//! A look at one client: read the item, decide ([`look`]), and record what the verdict
//! asks (a claim, the owed mark removed, a grace check), each write conditioned on the state
//! decided on. Looks run in batches of up to 10, whose claims are put in one PutEvents call.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use futures::stream::{self, StreamExt};
use tracing::{error, info, warn};

use super::fleet::Enrichment;
use super::put::Put;
use super::{Notifier, NotifierError, Outcome};
use crate::announcements::decision::{
    delay_seconds, look, next_sequence, Snapshot, Transition, Verdict, MAX_DELAY_SECONDS,
};
use crate::announcements::detail::{detail_of, detail_type, sequence_of, text, with_sequence};
use crate::announcements::store::attr;
use crate::announcements::store::snapshot_of;
use crate::announcements::thing::{grace_for, Context};
use crate::presence::ordering::Presence;
use crate::presence::store::{Item, StoreError};
use crate::shared::time::now_ms;

/// Looks at one client before giving up: each retry means its item changed meanwhile.
const MAX_ATTEMPTS: usize = 8;
/// PutEvents takes at most 10 entries.
pub(super) const PUT_BATCH: usize = 10;
/// A grace check that failed is received again after this, doubled per receive.
const CHECK_BACKOFF_SECONDS: u64 = 30;

/// A message on the grace-period queue: a hint to look at a client once its disconnect's
/// grace period has passed.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GraceCheck {
    pub(super) client_id: String,
    /// Wall-clock ms after which the check is due (for the logs; the item decides).
    due_at: i64,
}

/// What the look before a put came to.
pub(super) enum Prepared {
    Done(Outcome),
    Put(Put),
}

/// A claim or takeover whose write was answered by an error: it may have landed.
struct Unsure {
    event_id: String,
    error: StoreError,
}

impl Notifier {
    /// Looks at each client once, in batches of [`PUT_BATCH`], at most
    /// `max_concurrent_puts` batches at a time. `schedule_waits`: a disconnect still in its
    /// grace period gets a grace check (the reconciler needs none: it comes back anyway).
    pub(super) async fn look_at(
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
            .map(|batch| self.look_at_batch_before(batch, schedule_waits, stop_at))
            .buffer_unordered(self.config.max_concurrent_puts)
            .flat_map(stream::iter)
            .collect()
            .await
    }

    /// A batch, unless `stop_at` has passed: then it is left marked, for the next look.
    pub(super) async fn look_at_batch_before(
        &self,
        clients: Vec<String>,
        schedule_waits: bool,
        stop_at: Instant,
    ) -> Vec<(String, Outcome)> {
        if Instant::now() >= stop_at {
            return clients
                .into_iter()
                .map(|c| (c, Outcome::Deferred))
                .collect();
        }
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
        outcomes.extend(self.put_and_settle(puts).await);
        outcomes
    }

    /// Reads the item, decides, and records what the verdict asks. A claim answered by an
    /// error is released if the look gives up, landed or not, so the next look need not
    /// wait out its lease.
    async fn prepare(
        &self,
        client_id: &str,
        schedule_waits: bool,
    ) -> Result<Prepared, NotifierError> {
        let token = claim_token();
        let mut unsure: Option<Unsure> = None;
        for _ in 0..MAX_ATTEMPTS {
            let read_at = now_ms();
            let item = match self.store.get(client_id).await {
                Ok(Some(item)) => item,
                Ok(None) => return Ok(Prepared::Done(Outcome::Gone)),
                Err(error) => {
                    if let Some(lost) = unsure.take() {
                        self.release_unsure(client_id, &lost.event_id, &token).await;
                    }
                    return Err(error.into());
                }
            };
            let snapshot = snapshot_of(&item);
            let grace_ms = self.config.grace_period.as_millis() as i64;
            let lost = unsure.is_some().then_some(token.as_str());
            let mut verdict = look(client_id, &snapshot, grace_ms, now_ms(), lost);
            // The thing's context and window are read only for an announcement that is
            // due or waiting; its class may change the grace period.
            let mut enrichment = Enrichment::default();
            if matches!(verdict, Verdict::Announce(_) | Verdict::WaitUntil { .. })
                && (self.registry.is_some() || self.fleet.is_some())
            {
                enrichment = self.enrich(client_id, &item, read_at).await;
                verdict = look(
                    client_id,
                    &snapshot,
                    self.grace_ms(&enrichment),
                    now_ms(),
                    lost,
                );
            }
            match self
                .act(
                    client_id,
                    &item,
                    &snapshot,
                    verdict,
                    &token,
                    schedule_waits,
                    &enrichment,
                )
                .await
            {
                Ok(Acted::Done(prepared)) => return Ok(prepared),
                Ok(Acted::Contended) => {}
                Ok(Acted::Unsure(lost)) => unsure = Some(lost),
                // A write failed: a claim of an earlier attempt answered by an error is
                // freed before giving up, not left to its lease.
                Err(error) => {
                    if let Some(lost) = unsure.take() {
                        self.release_unsure(client_id, &lost.event_id, &token).await;
                    }
                    return Err(error);
                }
            }
        }
        let Some(Unsure { event_id, error }) = unsure else {
            return Err(NotifierError::Contention {
                client_id: client_id.to_owned(),
                attempts: MAX_ATTEMPTS,
            });
        };
        self.release_unsure(client_id, &event_id, &token).await;
        Err(error.into())
    }

    /// A claim whose write was answered by an error, landed or not, freed for the next look
    /// rather than held for its lease.
    async fn release_unsure(&self, client_id: &str, event_id: &str, token: &str) {
        if let Err(err) = self
            .store
            .release_announcement(client_id, event_id, token)
            .await
        {
            warn!(error = %err, clientId = client_id, "claim not released: it is put again after its lease");
        }
    }

    /// Writes what `verdict` asks, each write conditioned on the state it was made on.
    // What a verdict was made on, passed as it was read: bundling it would only rename it.
    #[allow(clippy::too_many_arguments)]
    async fn act(
        &self,
        client_id: &str,
        item: &Item,
        snapshot: &Snapshot,
        verdict: Verdict,
        token: &str,
        schedule_waits: bool,
        enrichment: &Enrichment,
    ) -> Result<Acted, NotifierError> {
        let done = |outcome| Ok(Acted::Done(Prepared::Done(outcome)));
        match verdict {
            Verdict::Settled => {
                let status = snapshot.status.unwrap_or(Presence::Disconnected);
                if !snapshot.owed
                    || self
                        .store
                        .settle(client_id, snapshot.revision, status)
                        .await?
                {
                    return done(Outcome::Settled);
                }
                Ok(Acted::Contended)
            }
            Verdict::ClaimedElsewhere => done(Outcome::ClaimedElsewhere),
            Verdict::WaitUntil { transition, due_at } => {
                if schedule_waits {
                    self.schedule(&transition, due_at).await?;
                }
                done(Outcome::Waiting)
            }
            Verdict::ResumePending => {
                let announced = snapshot.announced.as_ref().expect("pending is announced");
                // Claimed before sequences existed (an upgrade): stamped with one now, so
                // consumers applying by sequence take it.
                let stored = text(item, attr::ANNOUNCEMENT_DETAIL).unwrap_or_default();
                let stamp = sequence_of(&stored).is_none().then(|| {
                    let sequence = next_sequence(snapshot.sequence, now_ms());
                    (
                        with_sequence(&stored, sequence),
                        snapshot.sequence,
                        sequence,
                    )
                });
                let claimed_at = Instant::now();
                match self
                    .store
                    .resume_announcement(
                        client_id,
                        &announced.event_id,
                        snapshot.announced_at,
                        token,
                        stamp.as_ref().map(|(detail, previous, sequence)| {
                            (detail.as_str(), *previous, *sequence)
                        }),
                    )
                    .await
                {
                    Ok(true) => Ok(Acted::Done(Prepared::Put(pending_put(
                        client_id,
                        snapshot,
                        stamp.map_or(stored, |(detail, _, _)| detail),
                        token,
                        claimed_at,
                    )))),
                    // Another look took it over, or it was confirmed meanwhile.
                    Ok(false) => done(Outcome::ClaimedElsewhere),
                    Err(error) => Ok(Acted::Unsure(Unsure {
                        event_id: announced.event_id.clone(),
                        error,
                    })),
                }
            }
            Verdict::Announce(transition) => {
                let storm_id = match transition.status {
                    Presence::Disconnected => {
                        // Counted as look() counts it: from when the disconnect was recorded.
                        let recorded_at = snapshot.disconnect_recorded_at.unwrap_or(transition.at);
                        let due_at = recorded_at + self.grace_ms(enrichment);
                        self.storm_of_disconnect(client_id, enrichment, due_at)
                            .await?
                    }
                    Presence::Connected => {
                        self.storm_of_return(client_id, enrichment).await;
                        None
                    }
                };
                let sequence = next_sequence(snapshot.sequence, now_ms());
                let mut detail = detail_of(item, &transition, sequence);
                enrichment.apply(&mut detail, storm_id.as_deref());
                let detail = detail.to_string();
                let claimed_at = Instant::now();
                match self
                    .store
                    .claim_announcement(
                        &transition,
                        &detail,
                        enrichment.known_thing(),
                        snapshot.revision,
                        (snapshot.sequence, sequence),
                        token,
                    )
                    .await
                {
                    Ok(true) => Ok(Acted::Done(Prepared::Put(Put {
                        client_id: client_id.to_owned(),
                        event_id: transition.event_id(),
                        token: token.to_owned(),
                        detail,
                        detail_type: detail_type(transition.status == Presence::Connected),
                        settle: Some((snapshot.revision, transition.status)),
                        claimed_at,
                    }))),
                    Ok(false) => Ok(Acted::Contended),
                    Err(error) => Ok(Acted::Unsure(Unsure {
                        event_id: transition.event_id(),
                        error,
                    })),
                }
            }
        }
    }

    /// The grace period of the device's class (its thing's context), in ms.
    fn grace_ms(&self, enrichment: &Enrichment) -> i64 {
        grace_for(
            &self.config.grace_overrides,
            enrichment.context.as_ref().unwrap_or(&Context::NoThing),
            self.config.grace_period,
        )
        .as_millis() as i64
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
                message: aws_sdk_sqs::error::DisplayErrorContext(&err).to_string(),
                source: Box::new(err),
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
    pub(super) async fn back_off(&self, record: &serde_json::Value) {
        let receives: u32 = record["attributes"]["ApproximateReceiveCount"]
            .as_str()
            .and_then(|count| count.parse().ok())
            .unwrap_or(1);
        let seconds = CHECK_BACKOFF_SECONDS
            .saturating_mul(1 << receives.clamp(1, 6).saturating_sub(1))
            .min(MAX_DELAY_SECONDS);
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
}

/// What acting on one verdict came to.
enum Acted {
    Done(Prepared),
    /// The item changed under the write: look again.
    Contended,
    /// The write was answered by an error: look again, knowing it may have landed.
    Unsure(Unsure),
}

/// The pending announcement of `snapshot`, whose claim the look drawing `token` holds: to
/// put, settling the item if the table still says what it announces.
fn pending_put(
    client_id: &str,
    snapshot: &Snapshot,
    detail: String,
    token: &str,
    claimed_at: Instant,
) -> Put {
    let announced = snapshot.announced.as_ref().expect("pending is announced");
    Put {
        client_id: client_id.to_owned(),
        event_id: announced.event_id.clone(),
        token: token.to_owned(),
        detail,
        detail_type: detail_type(announced.status == Presence::Connected),
        settle: (snapshot.status == Some(announced.status))
            .then_some((snapshot.revision, announced.status)),
        claimed_at,
    }
}

/// A token no other look draws: 128 bits from hashers keyed by the operating system's
/// randomness (std's `RandomState`), over the clock and a per-process counter.
pub(super) fn claim_token() -> String {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::atomic::{AtomicU64, Ordering};
    static DRAWN: AtomicU64 = AtomicU64::new(0);
    let drawn = DRAWN.fetch_add(1, Ordering::Relaxed);
    let nanos = now_ms();
    format!(
        "{:016x}{:016x}",
        RandomState::new().hash_one((drawn, nanos)),
        RandomState::new().hash_one((nanos, drawn))
    )
}

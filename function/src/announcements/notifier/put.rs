//! Putting claimed announcements: PutEvents in batches of up to 10, each entry started only
//! while its claim is inside the fence ([`may_put`]), then confirmed or released with the
//! claim's token.

use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use tracing::{info, warn};

use super::{Notifier, Outcome};
use crate::announcements::decision::{may_put, PUT_ATTEMPT_MAX_MS};
use crate::presence::ordering::Presence;
use crate::shared::backoff::full_jitter;
use crate::shared::metrics::{emit, Directive, Metric};

/// Tries of an entry that fails with a retryable code, backing off in between.
const PUT_ATTEMPTS: u32 = 5;
/// Entry error codes worth retrying (EventBridge: PutEventsResultEntry).
const RETRYABLE_ENTRY_CODES: [&str; 3] = [
    "ThrottlingException",
    "InternalFailure",
    "InternalException",
];

/// An announcement to put: claimed by this look (`token`), or a removed item's farewell,
/// which nobody claims (`token` empty).
pub(super) struct Put {
    pub(super) client_id: String,
    pub(super) event_id: String,
    /// The look's claim token, to confirm the put or release the claim.
    pub(super) token: String,
    pub(super) detail: String,
    /// `Device Connected` or `Device Disconnected`, as the detail's status says.
    pub(super) detail_type: &'static str,
    /// The revision and status at which this announcement leaves nothing owed.
    pub(super) settle: Option<(Option<u64>, Presence)>,
    /// When the claim was written (just before its write was sent): the fence counts from it.
    pub(super) claimed_at: Instant,
}

impl Notifier {
    /// Puts the batch's claimed announcements, then confirms each put one (settling its
    /// item if it still agrees) or releases each failed one.
    pub(super) async fn put_and_settle(&self, puts: Vec<Put>) -> Vec<(String, Outcome)> {
        let results = self.put_batch(&puts, true).await;
        futures::future::join_all(puts.iter().zip(results).map(|(put, result)| async move {
            let outcome = match result {
                Ok(()) => match self
                    .store
                    .confirm_announcement(&put.client_id, &put.event_id, &put.token, put.settle)
                    .await
                {
                    Ok(_) => Outcome::Announced,
                    Err(err) => {
                        // Put but not confirmed: the next look puts it again, with its eventId.
                        warn!(error = %err, clientId = put.client_id, eventId = put.event_id, "announced, not confirmed");
                        Outcome::Announced
                    }
                },
                Err(message) => {
                    warn!(error = message, clientId = put.client_id, eventId = put.event_id, "not announced: the pending announcement will be put again");
                    self.release(put).await;
                    Outcome::Failed
                }
            };
            (put.client_id.clone(), outcome)
        }))
        .await
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
    /// retryable code is put again, with backoff and jitter. With `fenced`, an entry whose
    /// claim has grown too old is given up before an attempt starts instead: whoever takes
    /// the claim over puts it. One result per entry.
    pub(super) async fn put_batch(&self, puts: &[Put], fenced: bool) -> Vec<Result<(), String>> {
        let deadline_ms = self.config.claim_put_deadline.as_millis() as i64;
        let mut results: Vec<Option<Result<(), String>>> = puts.iter().map(|_| None).collect();
        for attempt in 0..PUT_ATTEMPTS {
            if attempt > 0 && results.iter().any(Option::is_none) {
                tokio::time::sleep(backoff(attempt)).await;
            }
            for (put, result) in puts.iter().zip(results.iter_mut()) {
                let claimed_for = put.claimed_at.elapsed().as_millis() as i64;
                if fenced && result.is_none() && !may_put(claimed_for, deadline_ms) {
                    warn!(
                        clientId = put.client_id,
                        eventId = put.event_id,
                        claimedForMs = claimed_for,
                        "claim too old to put: given up for whoever takes it over"
                    );
                    *result = Some(Err(format!(
                        "the claim was {claimed_for} ms old, past the {deadline_ms} ms fence"
                    )));
                }
            }
            let waiting: Vec<usize> = (0..puts.len()).filter(|&i| results[i].is_none()).collect();
            if waiting.is_empty() {
                break;
            }
            let entries = waiting.iter().map(|&i| {
                PutEventsRequestEntry::builder()
                    .source(&self.config.event_source)
                    .detail_type(puts[i].detail_type)
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
        let detail_type = put.detail_type;
        info!(
            clientId = put.client_id,
            eventId = put.event_id,
            detailType = detail_type,
            "announced"
        );
        if let Some(metrics) = &self.config.metrics {
            emit(
                metrics,
                &[Directive {
                    dimensions: &[("DetailType", detail_type)],
                    metrics: &[Metric::count("Announcements", 1.0)],
                }],
            );
        }
    }
}

/// A PutEvents attempt that times out after EventBridge accepted it is put again, and
/// consumers see the announcement twice; so an attempt gets longer than a DynamoDB call
/// (a slow accept is likelier than a lost one). The operation timeout, the SDK's retries
/// included, is what the claim's fence counts on ([`PUT_ATTEMPT_MAX_MS`]).
pub(super) fn put_events_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(500))
        .operation_attempt_timeout(Duration::from_millis(2500))
        .operation_timeout(Duration::from_millis(PUT_ATTEMPT_MAX_MS as u64))
        .build()
}

/// Up to 100 ms, 200 ms, 400 ms, ... between attempts.
fn backoff(attempt: u32) -> Duration {
    full_jitter(Duration::from_millis(100), attempt)
}

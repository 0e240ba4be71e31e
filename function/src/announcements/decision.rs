//! Whether a client owes an announcement on EventBridge, and which. Pure: no I/O.
//!
//! Level-triggered: whatever made the notifier look at a client (a stream record, a grace
//! check, the reconciler's periodic pass), it reads the item consistently and compares
//! the status with the last announcement ([`look`]). A Connected client whose last
//! announcement is not Connected is announced at once; a Disconnected client whose last
//! announcement is Connected is announced once the grace period, counted from when the
//! handler recorded the disconnect, has passed; anything else owes nothing. So a lost,
//! late, duplicated or reordered signal cannot leave a wrong last announcement: the next
//! look at the item settles it, and the reconciler looks at every item that owes one.
//!
//! An announcement is recorded on the item as pending by a conditional write guarded by
//! the item's `Revision` (the state it was decided on), then put, then confirmed. A pending
//! announcement goes first, whoever looks next ([`Verdict::ResumePending`]), so
//! announcements of one client alternate, and the `eventId` is derived from the
//! transition itself, so one put again after a failure carries the same `eventId`.
//!
//! EventBridge delivers in no order and at least once, so every announcement carries a
//! `sequence` ([`next_sequence`]) that a consumer orders by: larger for every later
//! announcement of the client, also across the item's deletion and re-creation.

use sha2::{Digest, Sha256};

use crate::presence::ordering::Presence;

/// SQS's longest message delay; a longer grace period is waited out in several hops.
pub const MAX_DELAY_SECONDS: u64 = 900;

/// How long a claimed announcement belongs to the look that claimed it. Within it, another
/// look leaves the announcement alone instead of putting it a second time; after it, the
/// claimer is taken to have crashed, and the look that takes the claim over (a conditional
/// write) puts it. A claimer whose put fails releases its claim at once, so an outage heals
/// without waiting for the lease.
///
/// The lease is a fence only if the claimer cannot put after it: a look starts a PutEvents
/// attempt only while its claim is younger than [`CLAIM_PUT_DEADLINE_MS`], and an attempt
/// ends within [`PUT_ATTEMPT_MAX_MS`], so the last put of a claim ends
/// [`CLOCK_SKEW_MARGIN_MS`] before the lease, however slow the batch around it was (its
/// reads and claims are not bounded: 8 attempts of a GetItem and an UpdateItem of 3 s each
/// already take 48 s). Confirm and release need the claim's token, so a look whose claim
/// was taken over changes nothing.
pub const PENDING_LEASE_MS: i64 = 60_000;
/// The longest one PutEvents call takes, the SDK's own retries included (its operation
/// timeout).
pub const PUT_ATTEMPT_MAX_MS: i64 = 5_000;
/// What a claim's age may be misjudged by: the claimer's clock stamps it, another look's
/// clock compares it with the lease, and Lambda hosts keep time by NTP to within
/// milliseconds; ten seconds also cover a paused process resuming.
pub const CLOCK_SKEW_MARGIN_MS: i64 = 10_000;
/// The oldest a claim may be when its look starts a PutEvents attempt: 60 − 5 − 10 = 45 s.
pub const CLAIM_PUT_DEADLINE_MS: i64 = PENDING_LEASE_MS - PUT_ATTEMPT_MAX_MS - CLOCK_SKEW_MARGIN_MS;
const _: () = assert!(CLAIM_PUT_DEADLINE_MS > 0, "the lease leaves time to put");

/// A status transition, named by the event that made it: the client's newest connect
/// (for Connected) or newest disconnect (for Disconnected), by its timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transition {
    pub client_id: String,
    pub status: Presence,
    /// `timestamp` (ms) of the connect or disconnect that made the transition.
    pub at: i64,
    /// The item's `CreatedTime` (0 for items written before it was recorded): an item
    /// deleted and re-created by replaying its own old events lives again, and its
    /// transitions must not repeat the eventIds of its first life.
    pub created: i64,
}

impl Transition {
    /// The same for every announcement of this transition: a UUID-shaped digest.
    pub fn event_id(&self) -> String {
        uuid_shaped(&format!(
            "{}\n{}\n{}\n{}",
            self.client_id,
            self.status.status(),
            self.at,
            self.created
        ))
    }
}

pub(crate) fn uuid_shaped(name: &str) -> String {
    let digest = Sha256::digest(name);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The sequence of the announcement claimed at `now_ms` after one of sequence `previous`:
/// more than `previous`, and at least the claim's wall-clock time in ms, so an item deleted
/// and created again (its sequence lost with it) still announces above its first life,
/// whose announcements were all claimed earlier. An integer under 2^53, exact in JSON.
pub fn next_sequence(previous: Option<u64>, now_ms: i64) -> u64 {
    previous
        .map_or(1, |previous| previous.saturating_add(1))
        .max(now_ms.max(0) as u64)
}

/// Whether a look whose claim is `claimed_for_ms` old may start a PutEvents attempt, with
/// puts started only before `deadline_ms` ([`CLAIM_PUT_DEADLINE_MS`] as deployed); if not,
/// it gives the claim up and the announcement goes to whoever takes it over.
pub fn may_put(claimed_for_ms: i64, deadline_ms: i64) -> bool {
    claimed_for_ms < deadline_ms
}

/// Why an item is gone, as a deletion announcement says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Deleted by a caller (`connectivity`, the console, a script).
    Deleted,
    /// Deleted by DynamoDB's time to live.
    Expired,
}

impl Removal {
    pub fn reason(self) -> &'static str {
        match self {
            Removal::Deleted => "ITEM_DELETED",
            Removal::Expired => "ITEM_EXPIRED",
        }
    }
}

/// The final `Device Disconnected` of an item that was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Farewell {
    pub event_id: String,
    /// One more than the item's last announcement: it orders after everything the item
    /// said, and before anything its next life says (claimed later, so above it).
    pub sequence: u64,
}

/// What the removal of an item (its last image `old`) owes: a final `Device Disconnected`
/// if its last announcement said Connected, or may not have been put (pending); nothing if
/// it was announced Disconnected or never announced.
pub fn farewell(client_id: &str, old: &Snapshot) -> Option<Farewell> {
    let announced = old.announced.as_ref()?;
    if announced.status == Presence::Disconnected && !announced.pending {
        return None;
    }
    Some(Farewell {
        event_id: uuid_shaped(&format!(
            "{client_id}\nRemoved\n{}\n{}",
            old.created.unwrap_or(0),
            old.revision.unwrap_or(0)
        )),
        sequence: old.sequence.unwrap_or(0).saturating_add(1),
    })
}

/// What the table holds about a client, as far as announcements are concerned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub status: Option<Presence>,
    /// Timestamps of the newest connect and disconnect.
    pub connect_time: Option<i64>,
    pub disconnect_time: Option<i64>,
    /// Wall-clock ms at which the handler recorded the newest disconnect; the grace
    /// period counts from it (None on items written before it was recorded: due at once).
    pub disconnect_recorded_at: Option<i64>,
    pub announced: Option<Announced>,
    /// Wall-clock ms at which the newest announcement was claimed.
    pub announced_at: Option<i64>,
    /// The token of the look holding the pending announcement's claim.
    pub claim: Option<String>,
    /// The item's optimistic-concurrency guard: every presence write changes it.
    pub revision: Option<u64>,
    /// Whether the item is in the owed-announcements index.
    pub owed: bool,
    /// The newest announcement's sequence (None: none yet, or written before sequences).
    pub sequence: Option<u64>,
    /// The item's `CreatedTime`.
    pub created: Option<i64>,
}

/// The newest announcement recorded on the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    pub status: Presence,
    pub event_id: String,
    /// Recorded but not yet confirmed as put on the bus.
    pub pending: bool,
}

/// What a look at a client's item asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// An announcement is recorded but not confirmed as put, longer ago than its claimer's
    /// lease (the claimer failed): put it (again, with its own eventId), confirm it.
    ResumePending,
    /// An announcement was just claimed by another look, which is putting it: nothing to
    /// do now; the item stays owed until that look confirms it.
    ClaimedElsewhere,
    /// Record this announcement as pending, put it, confirm it.
    Announce(Transition),
    /// A disconnect to announce once `due_at` (wall-clock ms) has passed.
    WaitUntil { transition: Transition, due_at: i64 },
    /// The last announcement agrees with the table: nothing is owed.
    Settled,
}

/// The decision for `item` at `now_ms`, with disconnects announced `grace_ms` after they
/// were recorded. `unsure`: the token of this look's own claim (or takeover) whose write
/// was answered by an error; if it landed, the look holds it and puts it now rather than
/// leaving it to wait out its lease.
pub fn look(
    client_id: &str,
    item: &Snapshot,
    grace_ms: i64,
    now_ms: i64,
    unsure: Option<&str>,
) -> Verdict {
    let announced = item.announced.as_ref();
    if announced.is_some_and(|announced| announced.pending) {
        if unsure.is_some() && item.claim.as_deref() == unsure {
            return Verdict::ResumePending;
        }
        return if now_ms < item.announced_at.unwrap_or(0) + PENDING_LEASE_MS {
            Verdict::ClaimedElsewhere
        } else {
            Verdict::ResumePending
        };
    }
    let announced_status = announced.map(|announced| announced.status);
    let transition = |status, at| Transition {
        client_id: client_id.to_owned(),
        status,
        at,
        created: item.created.unwrap_or(0),
    };
    match (item.status, announced_status) {
        (Some(Presence::Connected), Some(Presence::Connected)) => Verdict::Settled,
        // A first sighting is announced; so is a return after an announced disconnect.
        (Some(Presence::Connected), _) => match item.connect_time {
            Some(at) => Verdict::Announce(transition(Presence::Connected, at)),
            None => Verdict::Settled,
        },
        // Announced Connected, now disconnected: after the grace period.
        (Some(Presence::Disconnected), Some(Presence::Connected)) => match item.disconnect_time {
            Some(at) => {
                let due_at = item.disconnect_recorded_at.unwrap_or(0) + grace_ms;
                let transition = transition(Presence::Disconnected, at);
                if now_ms >= due_at {
                    Verdict::Announce(transition)
                } else {
                    Verdict::WaitUntil { transition, due_at }
                }
            }
            None => Verdict::Settled,
        },
        // Never announced Connected (only connect failures, or a flap never announced),
        // already announced Disconnected, or no status: nothing to say.
        _ => Verdict::Settled,
    }
}

/// Whether the claim's condition holds: the item is still at the revision the verdict
/// was made on, with the announcement sequence it was read with (`sequence`), nothing is
/// pending, and the last announcement said the other status (or
/// there is none); or the look drawing `token` holds this claim already, because an
/// earlier attempt of this same write landed although its answer was lost (a timeout),
/// which must not leave the claim to wait out its lease.
/// [`crate::presence::store::Store::claim_announcement`] (in [`crate::announcements::store`]) is
/// this as a condition expression.
pub fn claimable(
    item: &Snapshot,
    transition: &Transition,
    revision: Option<u64>,
    sequence: Option<u64>,
    token: &str,
) -> bool {
    let free = item.revision == revision
        && item.sequence == sequence
        && !item.announced.as_ref().is_some_and(|a| a.pending)
        && item
            .announced
            .as_ref()
            .is_none_or(|a| a.status != transition.status);
    let held = item.claim.as_deref() == Some(token)
        && item
            .announced
            .as_ref()
            .is_some_and(|a| a.pending && a.event_id == transition.event_id());
    free || held
}

/// Whether the delay before a grace check is due, at most SQS's maximum delay.
pub fn delay_seconds(due_at_ms: i64, now_ms: i64) -> u64 {
    let remaining_s = (due_at_ms.saturating_sub(now_ms).max(0) as u64).div_ceil(1000);
    remaining_s.min(MAX_DELAY_SECONDS)
}

#[cfg(test)]
mod tests;

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

use sha2::{Digest, Sha256};

use crate::presence::ordering::Presence;

/// SQS's longest message delay; a longer grace period is waited out in several hops.
pub const MAX_DELAY_SECONDS: u64 = 900;

/// How long a claimed announcement belongs to the look that claimed it: longer than that
/// look's batch can take before its put is confirmed (the other looks of its batch, at
/// most 8 conditional writes of 3 s; PutEvents with its retries, at most about 28 s).
/// Within it, another look leaves the announcement alone instead of putting it a second
/// time; after it, the claimer is taken to have crashed, and the look that takes the claim
/// over (a conditional write) puts it. A claimer whose put fails releases its claim at
/// once, so an outage heals without waiting for the lease.
pub const PENDING_LEASE_MS: i64 = 60_000;

/// A status transition, named by the event that made it: the client's newest connect
/// (for Connected) or newest disconnect (for Disconnected), by its timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transition {
    pub client_id: String,
    pub status: Presence,
    /// `timestamp` (ms) of the connect or disconnect that made the transition.
    pub at: i64,
}

impl Transition {
    /// The same for every announcement of this transition: a UUID-shaped digest.
    pub fn event_id(&self) -> String {
        let digest = Sha256::digest(format!(
            "{}\n{}\n{}",
            self.client_id,
            self.status.status(),
            self.at
        ));
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
/// were recorded.
pub fn look(client_id: &str, item: &Snapshot, grace_ms: i64, now_ms: i64) -> Verdict {
    let announced = item.announced.as_ref();
    if announced.is_some_and(|announced| announced.pending) {
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
/// was made on, nothing is pending, and the last announcement said the other status (or
/// there is none); or the look drawing `token` holds this claim already, because an
/// earlier attempt of this same write landed although its answer was lost (a timeout),
/// which must not leave the claim to wait out its lease.
/// [`crate::presence::store::Store::claim_announcement`] is this as a condition expression.
pub fn claimable(
    item: &Snapshot,
    transition: &Transition,
    revision: Option<u64>,
    token: &str,
) -> bool {
    let free = item.revision == revision
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
mod tests {
    use super::*;

    const GRACE: i64 = 60_000;

    fn transition(status: Presence, at: i64) -> Transition {
        Transition {
            client_id: "dev".into(),
            status,
            at,
        }
    }

    fn item(status: Presence, announced: Option<(Presence, bool)>) -> Snapshot {
        Snapshot {
            status: Some(status),
            connect_time: Some(10),
            disconnect_time: Some(20),
            disconnect_recorded_at: Some(1_000),
            announced: announced.map(|(status, pending)| Announced {
                status,
                event_id: transition(status, 1).event_id(),
                pending,
            }),
            announced_at: Some(0),
            claim: announced.and_then(|(_, pending)| pending.then(|| "other look".to_owned())),
            revision: Some(3),
            owed: true,
        }
    }

    #[test]
    fn event_ids_name_transitions() {
        let a = transition(Presence::Disconnected, 5).event_id();
        assert_eq!(a, transition(Presence::Disconnected, 5).event_id());
        assert_ne!(a, transition(Presence::Disconnected, 6).event_id());
        assert_ne!(a, transition(Presence::Connected, 5).event_id());
        assert_eq!(a.len(), 36);
    }

    #[test]
    fn connects_are_announced_at_once_unless_already_said() {
        let first = item(Presence::Connected, None);
        assert_eq!(
            look("dev", &first, GRACE, 0),
            Verdict::Announce(transition(Presence::Connected, 10))
        );
        let returned = item(Presence::Connected, Some((Presence::Disconnected, false)));
        assert_eq!(
            look("dev", &returned, GRACE, 0),
            Verdict::Announce(transition(Presence::Connected, 10))
        );
        let flapped = item(Presence::Connected, Some((Presence::Connected, false)));
        assert_eq!(look("dev", &flapped, GRACE, 0), Verdict::Settled);
    }

    #[test]
    fn disconnects_wait_out_the_grace_period_from_when_they_were_recorded() {
        let dropped = item(Presence::Disconnected, Some((Presence::Connected, false)));
        assert_eq!(
            look("dev", &dropped, GRACE, 1_000 + GRACE - 1),
            Verdict::WaitUntil {
                transition: transition(Presence::Disconnected, 20),
                due_at: 1_000 + GRACE
            }
        );
        assert_eq!(
            look("dev", &dropped, GRACE, 1_000 + GRACE),
            Verdict::Announce(transition(Presence::Disconnected, 20))
        );
        let never_online = item(Presence::Disconnected, None);
        assert_eq!(
            look("dev", &never_online, GRACE, i64::MAX),
            Verdict::Settled
        );
    }

    #[test]
    fn a_pending_announcement_goes_first_even_after_the_table_moved_on() {
        let pending = item(Presence::Connected, Some((Presence::Disconnected, true)));
        assert_eq!(
            look("dev", &pending, GRACE, PENDING_LEASE_MS - 1),
            Verdict::ClaimedElsewhere,
            "its claimer is still at it"
        );
        assert_eq!(
            look("dev", &pending, GRACE, PENDING_LEASE_MS),
            Verdict::ResumePending
        );
        let reconnect = transition(Presence::Connected, 10);
        assert!(!claimable(&pending, &reconnect, Some(3), "this look"));
    }

    #[test]
    fn a_claim_needs_the_revision_it_was_decided_on() {
        let returned = item(Presence::Connected, Some((Presence::Disconnected, false)));
        let reconnect = transition(Presence::Connected, 10);
        assert!(claimable(&returned, &reconnect, Some(3), "this look"));
        assert!(!claimable(&returned, &reconnect, Some(2), "this look"));
        let said = item(Presence::Connected, Some((Presence::Connected, false)));
        assert!(
            !claimable(&said, &reconnect, Some(3), "this look"),
            "alternation"
        );
    }

    #[test]
    fn a_claim_written_twice_by_its_look_is_still_that_looks() {
        let reconnect = transition(Presence::Connected, 10);
        let mut landed = item(Presence::Connected, Some((Presence::Connected, true)));
        landed.claim = Some("this look".into());
        landed.announced.as_mut().unwrap().event_id = reconnect.event_id();
        assert!(claimable(&landed, &reconnect, Some(3), "this look"));
        assert!(!claimable(&landed, &reconnect, Some(3), "another look"));
    }

    #[test]
    fn long_grace_periods_wait_in_hops() {
        assert_eq!(delay_seconds(10_000, 10_000), 0);
        assert_eq!(delay_seconds(10_000, 9_001), 1);
        assert_eq!(delay_seconds(3_600_000, 0), MAX_DELAY_SECONDS);
        assert_eq!(delay_seconds(0, 10_000), 0);
    }
}

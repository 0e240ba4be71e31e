//! When a status change becomes an announcement on EventBridge. Pure: no I/O.
//!
//! The table's stream says when a client's `Status` changed. A connect is announced at
//! once, unless the client's last announcement already said Connected (a reconnect after a
//! disconnect that was never announced announces nothing). A disconnect is announced only
//! once the grace period has passed and the client is still disconnected by that same
//! disconnect: the check is a message on an SQS delay queue, and a reconnect in between
//! makes it a no-op, so a flap announces nothing.
//!
//! Whether to announce is decided against the item as it is at that moment, by a
//! conditional write that records the announcement ([`claim`] is that decision), so
//! concurrent or repeated checks cannot both win; announcements of one client alternate.
//! The announcement's `eventId` is derived from the transition itself, so one retried
//! after a failure carries the same `eventId`.

use sha2::{Digest, Sha256};

use crate::ordering::Presence;

/// SQS's longest message delay; a longer grace period is waited out in several hops.
pub const MAX_DELAY_SECONDS: u64 = 900;

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
    pub announced: Option<Announced>,
}

/// The newest announcement recorded on the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    pub status: Presence,
    pub event_id: String,
    /// Recorded but not yet confirmed as put on the bus.
    pub pending: bool,
}

impl Snapshot {
    /// Whether the table still says what `transition` says: same status, made by the same event.
    pub fn shows(&self, transition: &Transition) -> bool {
        let made_by = match transition.status {
            Presence::Connected => self.connect_time,
            Presence::Disconnected => self.disconnect_time,
        };
        self.status == Some(transition.status) && made_by == Some(transition.at)
    }
}

/// What a stream record of a status change asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnChange {
    /// Try to announce the connect now.
    Announce(Transition),
    /// Check again once the grace period has passed.
    CheckLater(Transition),
    Nothing,
}

/// The stream record's old and new item: what, if anything, to do about it.
pub fn on_change(client_id: &str, old: Option<Presence>, new: &Snapshot) -> OnChange {
    let transition = |status, at: Option<i64>| {
        at.map(|at| Transition {
            client_id: client_id.to_owned(),
            status,
            at,
        })
    };
    match (old, new.status) {
        (Some(Presence::Connected), Some(Presence::Connected)) => OnChange::Nothing,
        (_, Some(Presence::Connected)) => transition(Presence::Connected, new.connect_time)
            .map_or(OnChange::Nothing, OnChange::Announce),
        // A client first seen disconnected (only a connect failure) was never online.
        (Some(Presence::Connected), Some(Presence::Disconnected)) => {
            transition(Presence::Disconnected, new.disconnect_time)
                .map_or(OnChange::Nothing, OnChange::CheckLater)
        }
        _ => OnChange::Nothing,
    }
}

/// Whether a grace check is due, or how long to wait again (at most SQS's maximum delay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Now,
    Later { delay_seconds: u64 },
}

pub fn due(due_at_ms: i64, now_ms: i64) -> Due {
    if now_ms >= due_at_ms {
        return Due::Now;
    }
    let remaining_s = ((due_at_ms - now_ms) as u64).div_ceil(1000);
    Due::Later {
        delay_seconds: remaining_s.min(MAX_DELAY_SECONDS),
    }
}

/// The decision to announce `transition`, given the item as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Record the announcement (conditionally), then put it on the bus.
    Announce,
    /// An announcement is recorded but not confirmed as put (its writer failed or is
    /// still at it): put it (again, with its own eventId), confirm it, then decide anew.
    /// Nothing overtakes it, so a disconnect announced is never lost to a reconnect.
    ResumePending,
    /// The table no longer shows this transition, or it was announced already, or the
    /// client's last announcement already says this status.
    Nothing,
}

pub fn claim(item: &Snapshot, transition: &Transition) -> Claim {
    match &item.announced {
        Some(announced) if announced.pending => Claim::ResumePending,
        Some(announced) if announced.event_id == transition.event_id() => Claim::Nothing,
        _ if !item.shows(transition) => Claim::Nothing,
        Some(announced) if announced.status == transition.status => Claim::Nothing,
        _ => Claim::Announce,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transition(status: Presence, at: i64) -> Transition {
        Transition {
            client_id: "dev".into(),
            status,
            at,
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
    fn long_grace_periods_wait_in_hops() {
        assert_eq!(due(10_000, 10_000), Due::Now);
        assert_eq!(due(10_000, 9_001), Due::Later { delay_seconds: 1 });
        assert_eq!(
            due(3_600_000, 0),
            Due::Later {
                delay_seconds: MAX_DELAY_SECONDS
            }
        );
    }

    #[test]
    fn a_pending_announcement_goes_first_even_after_the_table_moved_on() {
        let disconnect = transition(Presence::Disconnected, 5);
        let reconnect = transition(Presence::Connected, 9);
        let item = Snapshot {
            status: Some(Presence::Connected),
            connect_time: Some(9),
            disconnect_time: Some(5),
            announced: Some(Announced {
                status: Presence::Disconnected,
                event_id: disconnect.event_id(),
                pending: true,
            }),
        };
        assert_eq!(claim(&item, &reconnect), Claim::ResumePending);
        let confirmed = Snapshot {
            announced: item.announced.clone().map(|a| Announced {
                pending: false,
                ..a
            }),
            ..item
        };
        assert_eq!(claim(&confirmed, &reconnect), Claim::Announce);
        assert_eq!(claim(&confirmed, &disconnect), Claim::Nothing);
    }
}

//! The pure ordering decision: which of two presence events of one client happened later.
//!
//! No I/O here. The store turns the same rule into DynamoDB condition expressions
//! (`crate::presence::store`), and the property tests in `tests/ordering_properties.rs` check it
//! over shuffled, duplicated histories.

use std::cmp::Ordering;

/// Two events whose timestamps differ by more than this are ordered by timestamp alone;
/// closer events are ordered by `versionNumber`.
///
/// It must exceed the worst timestamp error between two events (2 × 2 min) and stay below
/// the shortest offline period after which IoT Core resets `versionNumber` (about an hour)
/// minus that error. 30 minutes sits in the middle, leaving 26 minutes of margin on each side.
pub const RESET_WINDOW_MS: i64 = 30 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Presence {
    Connected,
    Disconnected,
}

impl Presence {
    /// The sample's Status values, kept so existing readers keep working.
    pub fn status(self) -> &'static str {
        match self {
            Self::Connected => "Connected",
            Self::Disconnected => "Disconnected",
        }
    }
}

/// What the ordering rule needs to know of a connect or disconnect event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mark {
    pub presence: Presence,
    pub version: u64,
    /// Milliseconds since the epoch as IoT Core stamped it (±2 minutes).
    pub timestamp: i64,
}

/// Whether presence event `a` happened after presence event `b` of the same client.
///
/// The rule, in order:
/// 1. Timestamps more than [`RESET_WINDOW_MS`] apart: the later timestamp is newer.
///    Stamps err by at most ±2 min, so a gap this wide cannot be an artefact of skew.
/// 2. Otherwise the higher `versionNumber` is newer. Within 30 minutes (34 with skew) of
///    each other there cannot be the hour offline that resets the counter, so versions
///    still increase from one connection to the next, even when they skip values.
/// 3. Same version within the window: one connection. Its disconnect follows its connect,
///    whatever their (skewed) stamps say.
/// 4. Same kind and version within the window: the same event, delivered again; a later
///    stamp wins only so that the relation stays a strict order for any input.
///
/// Why it is right for every pair a real history can contain: two events of one client
/// happen at distinct true times, and each rule decides only pairs where its premise holds
/// (1: skew cannot flip a 30-minute gap; 2: no reset between the two; 3: a connection's
/// disconnect comes after its connect). So on any valid history the relation is exactly
/// "happened later", a strict total order; the newest connect and the newest disconnect
/// are then maxima, independent of delivery order and of duplicates.
pub fn happened_after(a: &Mark, b: &Mark) -> bool {
    let gap = a.timestamp.saturating_sub(b.timestamp);
    if gap > RESET_WINDOW_MS {
        return true;
    }
    if gap < -RESET_WINDOW_MS {
        return false;
    }
    match a.version.cmp(&b.version) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => match (a.presence, b.presence) {
            (Presence::Disconnected, Presence::Connected) => true,
            (Presence::Connected, Presence::Disconnected) => false,
            _ => gap > 0,
        },
    }
}

/// The newest connect and the newest disconnect known for one client: the whole state
/// Status is derived from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latest {
    pub connect: Option<Mark>,
    pub disconnect: Option<Mark>,
}

impl Latest {
    /// Connected exactly when the newest presence event is a connect; `None` before any.
    pub fn presence(&self) -> Option<Presence> {
        match (self.connect, self.disconnect) {
            (None, None) => None,
            (Some(_), None) => Some(Presence::Connected),
            (None, Some(_)) => Some(Presence::Disconnected),
            (Some(connect), Some(disconnect)) => Some(if happened_after(&connect, &disconnect) {
                Presence::Connected
            } else {
                Presence::Disconnected
            }),
        }
    }

    fn slot(&mut self, presence: Presence) -> &mut Option<Mark> {
        match presence {
            Presence::Connected => &mut self.connect,
            Presence::Disconnected => &mut self.disconnect,
        }
    }

    /// Folds one event in and says what a store must do with it.
    pub fn apply(&mut self, event: &Mark) -> Decision {
        let decision = decide(self, event);
        if decision != Decision::Stale {
            *self.slot(event.presence) = Some(*event);
        }
        decision
    }
}

/// What to do with one presence event given the stored state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Not newer than the stored event of its kind (older, or a duplicate): write nothing.
    Stale,
    /// Replace the stored event of its kind and set Status to `status`.
    Apply { status: Presence },
}

/// The decision for `event` against `latest`, without changing anything.
pub fn decide(latest: &Latest, event: &Mark) -> Decision {
    let mut next = *latest;
    let slot = next.slot(event.presence);
    if slot.is_some_and(|stored| !happened_after(event, &stored)) {
        return Decision::Stale;
    }
    *slot = Some(*event);
    Decision::Apply {
        status: next.presence().unwrap_or(event.presence),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Presence::{Connected as C, Disconnected as D};

    /// The sample's reference time.
    const T: i64 = 1671506794644;

    fn mark(presence: Presence, version: u64, timestamp: i64) -> Mark {
        Mark {
            presence,
            version,
            timestamp,
        }
    }

    fn fold(events: &[Mark]) -> Latest {
        let mut latest = Latest::default();
        for event in events {
            latest.apply(event);
        }
        latest
    }

    /// Every ordering of `events`, each also with every single event delivered twice
    /// at every position.
    fn deliveries(events: &[Mark]) -> Vec<Vec<Mark>> {
        fn permutations(items: &[Mark]) -> Vec<Vec<Mark>> {
            if items.len() <= 1 {
                return vec![items.to_vec()];
            }
            let mut all = Vec::new();
            for i in 0..items.len() {
                let mut rest = items.to_vec();
                let first = rest.remove(i);
                for mut tail in permutations(&rest) {
                    tail.insert(0, first);
                    all.push(tail);
                }
            }
            all
        }
        let mut all = Vec::new();
        for order in permutations(events) {
            for duplicate in &order {
                for at in 0..=order.len() {
                    let mut delivered = order.clone();
                    delivered.insert(at, *duplicate);
                    all.push(delivered);
                }
            }
            all.push(order);
        }
        all
    }

    fn assert_converges(
        events: &[Mark],
        presence: Presence,
        connect: Option<Mark>,
        disconnect: Option<Mark>,
    ) {
        let expected = Latest {
            connect,
            disconnect,
        };
        for delivered in deliveries(events) {
            let latest = fold(&delivered);
            assert_eq!(latest, expected, "delivered as {delivered:?}");
            assert_eq!(
                latest.presence(),
                Some(presence),
                "delivered as {delivered:?}"
            );
        }
    }

    #[test]
    fn scenario_1_connect_alone() {
        let c0 = mark(C, 0, T);
        assert_converges(&[c0], C, Some(c0), None);
    }

    #[test]
    fn scenario_2_disconnect_alone() {
        let d0 = mark(D, 0, T);
        assert_converges(&[d0], D, None, Some(d0));
    }

    #[test]
    fn scenario_3_connect_then_disconnect() {
        let (c0, d0) = (mark(C, 0, T), mark(D, 0, T + 1));
        assert_converges(&[c0, d0], D, Some(c0), Some(d0));
    }

    #[test]
    fn scenario_4_reconnect_with_skipped_version() {
        let (c0, d0, c2) = (mark(C, 0, T), mark(D, 0, T + 1), mark(C, 2, T + 2));
        assert_converges(&[c0, d0, c2], C, Some(c2), Some(d0));
    }

    #[test]
    fn scenario_5_two_sessions_then_a_third() {
        let (c0, d0, c2, d2, c4) = (
            mark(C, 0, T),
            mark(D, 0, T + 1),
            mark(C, 2, T + 2),
            mark(D, 2, T + 3),
            mark(C, 4, T + 4),
        );
        assert_converges(&[c0, d0, c2, d2, c4], C, Some(c4), Some(d2));
    }

    #[test]
    fn scenario_6_connect_after_version_reset() {
        let (c10, d10, c0) = (mark(C, 10, T), mark(D, 10, T + 1), mark(C, 0, T + 3600001));
        assert_converges(&[c10, d10, c0], C, Some(c0), Some(d10));
    }

    #[test]
    fn scenario_7_session_after_version_reset_ends() {
        let (d10, c0, d0) = (
            mark(D, 10, T),
            mark(C, 0, T + 3600000),
            mark(D, 0, T + 3600001),
        );
        assert_converges(&[d10, c0, d0], D, Some(c0), Some(d0));
    }

    #[test]
    fn device_online_every_few_hours_shows_connected_while_connected() {
        // Each session starts at version 0: the counter resets during the hours offline.
        let hour = 3_600_000;
        let mut history = Vec::new();
        for session in 0..4 {
            let start = T + session * 4 * hour;
            history.push(mark(C, 0, start));
            history.push(mark(D, 0, start + hour / 2));
        }
        let online_again = mark(C, 0, T + 16 * hour);
        history.push(online_again);
        let last_disconnect = history[history.len() - 2];
        assert_converges(
            &history[history.len() - 4..],
            C,
            Some(online_again),
            Some(last_disconnect),
        );
        // The full history, in reverse, too (the permutations of 9 events are too many).
        let mut reversed = history.clone();
        reversed.reverse();
        assert_eq!(fold(&reversed), fold(&history));
        assert_eq!(fold(&reversed).presence(), Some(C));
    }

    #[test]
    fn skewed_stamps_do_not_flip_one_connection() {
        // The disconnect is stamped two minutes before its own connect.
        let (c5, d5) = (mark(C, 5, T + 120_000), mark(D, 5, T));
        assert_converges(&[c5, d5], D, Some(c5), Some(d5));
    }

    #[test]
    fn duplicate_client_id_takeover_milliseconds_apart() {
        // Another device took the client ID over: the old session's disconnect and the new
        // connect are milliseconds apart, and skew may stamp them in reverse.
        let (c7, d7, c8) = (
            mark(C, 7, T),
            mark(D, 7, T + 90_000),
            mark(C, 8, T + 89_990),
        );
        assert_converges(&[c7, d7, c8], C, Some(c8), Some(d7));
    }

    #[test]
    fn duplicates_are_stale() {
        let c0 = mark(C, 0, T);
        let mut latest = Latest::default();
        assert_eq!(latest.apply(&c0), Decision::Apply { status: C });
        assert_eq!(latest.apply(&c0), Decision::Stale);
        let d0 = mark(D, 0, T + 1);
        assert_eq!(latest.apply(&d0), Decision::Apply { status: D });
        assert_eq!(latest.apply(&d0), Decision::Stale);
        assert_eq!(latest.apply(&c0), Decision::Stale);
    }

    #[test]
    fn an_older_event_of_one_kind_is_applied_without_changing_status() {
        // The newest connect arrives after a newer disconnect: the connect attributes are
        // updated, Status stays Disconnected.
        let (c3, d3) = (mark(C, 3, T), mark(D, 3, T + 5));
        let mut latest = Latest::default();
        latest.apply(&d3);
        assert_eq!(latest.apply(&c3), Decision::Apply { status: D });
    }

    #[test]
    fn window_boundaries() {
        let old = mark(D, 9, T);
        assert!(!happened_after(&mark(C, 0, T + RESET_WINDOW_MS), &old));
        assert!(happened_after(&mark(C, 0, T + RESET_WINDOW_MS + 1), &old));
        assert!(!happened_after(&old, &mark(C, 10, T - RESET_WINDOW_MS)));
        assert!(happened_after(&old, &mark(C, 10, T - RESET_WINDOW_MS - 1)));
        assert!(!happened_after(
            &mark(C, 1, i64::MIN),
            &mark(C, 0, i64::MAX)
        ));
        assert!(happened_after(&mark(C, 0, i64::MAX), &mark(C, 1, i64::MIN)));
    }
}

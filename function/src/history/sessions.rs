//! Connectivity history: sessions and availability from a client's stored connects and
//! disconnects. Pure: no I/O (the history table is [`crate::history::store`]).
//!
//! Events reach the table in any order, duplicated, stamped to ±2 minutes, with
//! `versionNumber` resetting after an hour offline. So the events are first put in the
//! order of the status's own rule ([`crate::presence::ordering::happened_after`]), which is exactly
//! "happened later" on any real history; sessions and uptime are read from that order.
//! Nothing is invented: a connect without its disconnect is an open session, a disconnect
//! whose connect never arrived is a session with no start, and time before a device's
//! first known event counts neither as up nor as down.

use std::collections::BTreeMap;

use crate::presence::event::{Connected, Disconnected};
use crate::presence::ordering::{happened_after, Mark, Presence, RESET_WINDOW_MS};

/// Stamps err by up to this much either way (the AWS IoT guide: about ±2 minutes).
pub const MAX_STAMP_ERROR_MS: i64 = 2 * 60 * 1000;

/// How far before a window its events are read, so that the order near the window's
/// start is decided with every event the rule compares there.
pub const LOOKBACK_MS: i64 = RESET_WINDOW_MS + 2 * MAX_STAMP_ERROR_MS;

/// One stored connect or disconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEvent {
    pub presence: Presence,
    /// As IoT Core stamped it, ms since the epoch.
    pub timestamp: i64,
    pub version: u64,
    pub session_identifier: Option<String>,
    pub disconnect_reason: Option<String>,
    pub client_initiated: Option<bool>,
}

impl HistoryEvent {
    pub fn connected(event: &Connected) -> Self {
        Self {
            presence: Presence::Connected,
            timestamp: event.timestamp,
            version: event.version_number,
            session_identifier: event.session_identifier.clone(),
            disconnect_reason: None,
            client_initiated: None,
        }
    }

    pub fn disconnected(event: &Disconnected) -> Self {
        Self {
            presence: Presence::Disconnected,
            timestamp: event.timestamp,
            version: event.version_number,
            session_identifier: event.session_identifier.clone(),
            disconnect_reason: event.disconnect_reason.clone(),
            client_initiated: event.client_initiated_disconnect,
        }
    }

    pub fn mark(&self) -> Mark {
        Mark {
            presence: self.presence,
            version: self.version,
            timestamp: self.timestamp,
        }
    }

    /// The sort key: the same for every delivery of one event, and in timestamp order
    /// within a client, so a window is one range of keys.
    pub fn key(&self) -> String {
        let kind = match self.presence {
            Presence::Connected => 'c',
            Presence::Disconnected => 'd',
        };
        format!("{}#{kind}#{}", time_key(self.timestamp), self.version)
    }
}

/// The key prefix of events stamped at `ms`: 15 digits, enough until the year 33658.
pub fn time_key(ms: i64) -> String {
    format!("{:015}", ms.max(0))
}

/// The events deduplicated and in the order they happened. The result does not depend on
/// the order or the duplicates of `events` (they are first put in key order, and the
/// merge sort is stable), even for stored data the rule cannot order.
pub fn in_order(events: impl IntoIterator<Item = HistoryEvent>) -> Vec<HistoryEvent> {
    let unique: BTreeMap<String, HistoryEvent> = events
        .into_iter()
        .map(|event| (event.key(), event))
        .collect();
    merge_sort(unique.into_values().collect())
}

/// A merge sort on `happened_after`: unlike the standard library's sorts, it cannot panic
/// on a relation that is not a total order (stored data is not checked for one).
fn merge_sort(mut events: Vec<HistoryEvent>) -> Vec<HistoryEvent> {
    if events.len() <= 1 {
        return events;
    }
    let right = events.split_off(events.len() / 2);
    let mut left = merge_sort(events).into_iter().peekable();
    let mut right = merge_sort(right).into_iter().peekable();
    let mut merged = Vec::with_capacity(left.len() + right.len());
    while let (Some(l), Some(r)) = (left.peek(), right.peek()) {
        let next = if happened_after(&l.mark(), &r.mark()) {
            right.next()
        } else {
            left.next()
        };
        merged.extend(next);
    }
    merged.extend(left);
    merged.extend(right);
    merged
}

/// One connection, as far as its events arrived.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// None: the connect never arrived (or is older than the history kept).
    pub connected_at: Option<i64>,
    /// None: still connected, or the disconnect never arrived (see `superseded`).
    pub disconnected_at: Option<i64>,
    /// An open session followed by a later one: its disconnect never arrived.
    pub superseded: bool,
    pub version_number: u64,
    pub session_identifier: Option<String>,
    pub disconnect_reason: Option<String>,
    pub client_initiated_disconnect: Option<bool>,
}

impl Session {
    /// Disconnected at minus connected at, when both arrived (0 if skew inverts them).
    pub fn duration_ms(&self) -> Option<i64> {
        Some((self.disconnected_at? - self.connected_at?).max(0))
    }
}

/// The sessions of events already [`in_order`]: a connect opens one, and its disconnect
/// (the same `versionNumber` and, when both carry one, `sessionIdentifier`) closes it.
pub fn sessions(ordered: &[HistoryEvent]) -> Vec<Session> {
    let mut sessions = Vec::new();
    let mut open: Option<Session> = None;
    for event in ordered {
        match event.presence {
            Presence::Connected => {
                if let Some(mut previous) = open.take() {
                    previous.superseded = true;
                    sessions.push(previous);
                }
                open = Some(Session {
                    connected_at: Some(event.timestamp),
                    disconnected_at: None,
                    superseded: false,
                    version_number: event.version,
                    session_identifier: event.session_identifier.clone(),
                    disconnect_reason: None,
                    client_initiated_disconnect: None,
                });
            }
            Presence::Disconnected => {
                let closes = |session: &Session| {
                    session.version_number == event.version
                        && match (&session.session_identifier, &event.session_identifier) {
                            (Some(a), Some(b)) => a == b,
                            _ => true,
                        }
                };
                let mut session = match open.take() {
                    Some(session) if closes(&session) => session,
                    other => {
                        if let Some(mut unclosed) = other {
                            unclosed.superseded = true;
                            sessions.push(unclosed);
                        }
                        Session {
                            connected_at: None,
                            disconnected_at: None,
                            superseded: false,
                            version_number: event.version,
                            session_identifier: event.session_identifier.clone(),
                            disconnect_reason: None,
                            client_initiated_disconnect: None,
                        }
                    }
                };
                session.disconnected_at = Some(event.timestamp);
                session.disconnect_reason = event.disconnect_reason.clone();
                session.client_initiated_disconnect = event.client_initiated;
                sessions.push(session);
            }
        }
    }
    sessions.extend(open);
    sessions
}

/// Uptime over a window: connected time over the time whose status is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Availability {
    pub connected_ms: i64,
    /// The part of the window after the device's first known event (up or down).
    pub observed_ms: i64,
}

impl Availability {
    /// Percent of the observed time connected; None when nothing was observed.
    pub fn percent(&self) -> Option<f64> {
        (self.observed_ms > 0).then(|| 100.0 * self.connected_ms as f64 / self.observed_ms as f64)
    }
}

/// Availability over `[since, until)` from events already [`in_order`], which should
/// include the events before `since` that decide the status there (see [`LOOKBACK_MS`]).
/// Status is what the table's rule says: that of the newest event so far. Each event
/// takes effect at its stamp, or at the previous event's if skew put it earlier. Time
/// between two events of the same kind (a half between them lost) is not observed.
pub fn availability(ordered: &[HistoryEvent], since: i64, until: i64) -> Availability {
    let mut result = Availability::default();
    let mut clock = i64::MIN;
    let mut changes = Vec::with_capacity(ordered.len());
    for event in ordered {
        clock = clock.max(event.timestamp);
        changes.push((clock, event.presence));
    }
    for (i, &(start, presence)) in changes.iter().enumerate() {
        let next = changes.get(i + 1);
        // Two connects (or disconnects) in a row: the half between them never arrived, so
        // when the status changed in between is unknown, and that time is not counted.
        if next.is_some_and(|&(_, following)| following == presence) {
            continue;
        }
        let end = next.map_or(until, |&(next, _)| next);
        let overlap = (end.min(until) - start.max(since)).max(0);
        result.observed_ms += overlap;
        if presence == Presence::Connected {
            result.connected_ms += overlap;
        }
    }
    result
}

/// The fleet's availability distribution.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Distribution {
    pub devices: usize,
    /// Devices with observed time in the window (the others have no percent).
    pub observed: usize,
    pub min: Option<f64>,
    pub p1: Option<f64>,
    pub p5: Option<f64>,
    pub p50: Option<f64>,
    pub mean: Option<f64>,
}

/// Percentiles by the nearest-rank method over the devices with observed time.
pub fn distribution(percents: &[Option<f64>]) -> Distribution {
    let mut known: Vec<f64> = percents.iter().flatten().copied().collect();
    known.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        (!known.is_empty()).then(|| {
            let index = ((p / 100.0) * known.len() as f64).ceil() as usize;
            known[index.clamp(1, known.len()) - 1]
        })
    };
    Distribution {
        devices: percents.len(),
        observed: known.len(),
        min: known.first().copied(),
        p1: rank(1.0),
        p5: rank(5.0),
        p50: rank(50.0),
        mean: (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(presence: Presence, timestamp: i64, version: u64) -> HistoryEvent {
        HistoryEvent {
            presence,
            timestamp,
            version,
            session_identifier: Some(format!("s{version}")),
            disconnect_reason: (presence == Presence::Disconnected)
                .then(|| "CLIENT_INITIATED_DISCONNECT".to_owned()),
            client_initiated: (presence == Presence::Disconnected).then_some(true),
        }
    }

    use Presence::{Connected as C, Disconnected as D};

    #[test]
    fn keys_sort_by_time_and_name_one_event() {
        let a = event(C, 5_000, 1);
        assert_eq!(a.key(), "000000000005000#c#1");
        assert!(event(D, 4_000, 9).key() < a.key());
        assert_ne!(event(D, 5_000, 1).key(), a.key());
    }

    #[test]
    fn a_disconnect_stamped_before_its_connect_still_closes_it() {
        let ordered = in_order([event(D, 900, 3), event(C, 1_000, 3), event(C, 1_000, 3)]);
        let sessions = sessions(&ordered);
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].connected_at, Some(1_000));
        assert_eq!(sessions[0].disconnected_at, Some(900));
        assert_eq!(sessions[0].duration_ms(), Some(0));
        // Connected from 1,000 (its stamp), disconnected at once (skew clamps to the clock).
        assert_eq!(
            availability(&ordered, 0, 2_000),
            Availability {
                connected_ms: 0,
                observed_ms: 1_000
            }
        );
    }

    #[test]
    fn missing_halves_are_shown_not_invented() {
        let ordered = in_order([
            event(C, 1_000, 1),
            // d1 lost; c2 supersedes the open session.
            event(C, 5_000, 2),
            event(D, 6_000, 2),
            // c3 lost: a disconnect without its connect.
            event(D, 9_000, 3),
            event(C, 10_000, 4),
        ]);
        let sessions = sessions(&ordered);
        let shape: Vec<_> = sessions
            .iter()
            .map(|s| (s.connected_at, s.disconnected_at, s.superseded))
            .collect();
        assert_eq!(
            shape,
            [
                (Some(1_000), None, true),
                (Some(5_000), Some(6_000), false),
                (None, Some(9_000), false),
                (Some(10_000), None, false),
            ]
        );
        // Between c1 and c2, and between d2 and d3, when the status changed is unknown:
        // only c2-d2, d3-c4 and c4 onwards are observed.
        assert_eq!(
            availability(&ordered, 0, 12_000),
            Availability {
                connected_ms: 3_000,
                observed_ms: 4_000
            }
        );
    }

    #[test]
    fn availability_counts_only_known_time_inside_the_window() {
        let ordered = in_order([event(C, 1_000, 1), event(D, 3_000, 1), event(C, 4_000, 2)]);
        // Window [0, 5000): unknown before 1000; up 1000-3000 and 4000-5000.
        assert_eq!(
            availability(&ordered, 0, 5_000),
            Availability {
                connected_ms: 3_000,
                observed_ms: 4_000
            }
        );
        // Window [2000, 3500): the status at 2000 comes from the event before it.
        assert_eq!(
            availability(&ordered, 2_000, 3_500),
            Availability {
                connected_ms: 1_000,
                observed_ms: 1_500
            }
        );
        assert_eq!(availability(&[], 0, 10).percent(), None);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<Option<f64>> = (1..=100).map(|v| Some(v as f64)).chain([None]).collect();
        let d = distribution(&values);
        assert_eq!((d.devices, d.observed), (101, 100));
        assert_eq!(
            (d.min, d.p1, d.p5, d.p50),
            (Some(1.0), Some(1.0), Some(5.0), Some(50.0))
        );
        assert_eq!(distribution(&[]).min, None);
    }
}

//! Property tests of connectivity history: sessions and availability computed from a
//! delivery (shuffled, duplicated, stamped to ±2 minutes, versions resetting) equal those
//! of the true order, and availability is the true uptime within the stamps' accuracy.
//! Histories come from the same model as the ordering properties (`history/mod.rs`).
//!
//! Case count: 1024 per property by default; set PROPTEST_CASES to run more.

mod history;

use std::collections::BTreeMap;

use history::{delivered_fleet, Event, MAX_SKEW};
use iot_connectivity::history::sessions::{availability, in_order, sessions, HistoryEvent};
use iot_connectivity::presence::ordering::Presence;
use proptest::prelude::*;

fn stored(event: &Event) -> HistoryEvent {
    let json = event.to_json();
    HistoryEvent {
        presence: event.mark.presence,
        timestamp: event.mark.timestamp,
        version: event.mark.version,
        session_identifier: json["sessionIdentifier"].as_str().map(str::to_owned),
        disconnect_reason: json["disconnectReason"].as_str().map(str::to_owned),
        client_initiated: json["clientInitiatedDisconnect"].as_bool(),
    }
}

fn by_client(events: &[Event]) -> BTreeMap<usize, Vec<Event>> {
    let mut clients: BTreeMap<usize, Vec<Event>> = BTreeMap::new();
    for event in events {
        clients.entry(event.client).or_default().push(*event);
    }
    clients
}

/// Connected time in `[since, until)` by true times, and the observed time.
fn true_uptime(history: &[Event], since: i64, until: i64) -> (i64, i64) {
    let (mut connected, mut observed) = (0, 0);
    for (i, event) in history.iter().enumerate() {
        let end = history.get(i + 1).map_or(until, |next| next.true_time);
        let overlap = (end.min(until) - event.true_time.max(since)).max(0);
        observed += overlap;
        if event.mark.presence == Presence::Connected {
            connected += overlap;
        }
    }
    (connected, observed)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(1024),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any delivery stores the same history: the same sessions and the same availability
    /// over any window as the events in their true order.
    #[test]
    fn any_delivery_gives_the_sessions_and_uptime_of_the_true_order(
        (history, delivered) in delivered_fleet(),
        window in (0.0..1.0f64, 0.0..1.0f64),
    ) {
        let truth = by_client(&history);
        for (client, delivered) in by_client(&delivered) {
            let true_order: Vec<HistoryEvent> = truth[&client].iter().map(stored).collect();
            let ordered = in_order(delivered.iter().map(stored));
            prop_assert_eq!(&ordered, &true_order, "client {}", client);
            prop_assert_eq!(sessions(&ordered), sessions(&true_order));
            let first = true_order.first().unwrap().timestamp - MAX_SKEW;
            let last = true_order.last().unwrap().timestamp + 2 * MAX_SKEW;
            let span = (last - first) as f64;
            let (a, b) = (window.0.min(window.1), window.0.max(window.1));
            let (since, until) = (first + (a * span) as i64, first + (b * span) as i64 + 1);
            prop_assert_eq!(
                availability(&ordered, since, until),
                availability(&true_order, since, until)
            );
        }
    }

    /// Sessions pair each connect with its own disconnect, and uptime is the true uptime
    /// to within the stamps' error at each change of status.
    #[test]
    fn sessions_and_uptime_are_the_truth_within_the_stamps_accuracy(
        (history, delivered) in delivered_fleet(),
    ) {
        let truth = by_client(&history);
        for (client, delivered) in by_client(&delivered) {
            let true_events = &truth[&client];
            let ordered = in_order(delivered.iter().map(stored));
            let found = sessions(&ordered);
            let connects: Vec<_> = true_events.iter().filter(|e| e.mark.presence == Presence::Connected).collect();
            prop_assert_eq!(found.len(), connects.len(), "client {}", client);
            for (session, connect) in found.iter().zip(&connects) {
                prop_assert_eq!(session.connected_at, Some(connect.mark.timestamp));
                prop_assert_eq!(session.version_number, connect.mark.version);
                prop_assert!(!session.superseded);
            }
            let since = true_events[0].true_time;
            let until = true_events.last().unwrap().true_time + 3_600_000;
            let (connected, observed) = true_uptime(true_events, since, until);
            let computed = availability(&ordered, since, until);
            let tolerance = 2 * MAX_SKEW * true_events.len() as i64;
            prop_assert!((computed.connected_ms - connected).abs() <= tolerance,
                "client {}: {} vs true {}", client, computed.connected_ms, connected);
            prop_assert!((computed.observed_ms - observed).abs() <= tolerance);
        }
    }

    /// With events lost, nothing is invented: every session's times are stamps of events
    /// that arrived, and a session has both halves only if both arrived.
    #[test]
    fn lost_halves_are_never_invented(
        (history, delivered) in delivered_fleet(),
        lost in prop::collection::vec(any::<bool>(), 64),
    ) {
        let kept: Vec<Event> = delivered
            .iter()
            .filter(|event| {
                let index = history.iter().position(|h| h.mark == event.mark && h.client == event.client).unwrap();
                !lost[index % lost.len()] || index % 3 != 0
            })
            .copied()
            .collect();
        for (_, events) in by_client(&kept) {
            let arrived: Vec<HistoryEvent> = events.iter().map(stored).collect();
            for session in sessions(&in_order(arrived.clone())) {
                let has = |presence, at: Option<i64>| at.is_none_or(|at| arrived.iter().any(|e| {
                    e.presence == presence && e.timestamp == at && e.version == session.version_number
                }));
                prop_assert!(has(Presence::Connected, session.connected_at), "{:?}", session);
                prop_assert!(has(Presence::Disconnected, session.disconnected_at), "{:?}", session);
            }
        }
    }
}

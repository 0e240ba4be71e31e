//! Property tests of the ordering rule over histories generated from IoT Core's model:
//! many clients; sessions of milliseconds to days; offline gaps of milliseconds to days;
//! versions that skip, reset to 0 after about an hour offline (or keep counting, as a
//! persistent session may); stamps off by up to ±2 minutes; delivery shuffled across
//! clients and duplicated.
//!
//! Case count: 1024 per property by default; set PROPTEST_CASES to run more.

mod history;

use std::collections::HashMap;

use history::{client_history, truth, Event, SessionPlan, DAY, HOUR, MAX_SKEW, MINUTE, SECOND};
use iot_connectivity::ordering::{happened_after, Latest};
use proptest::prelude::*;

/// Durations spread over orders of magnitude: milliseconds to days.
fn duration() -> impl Strategy<Value = i64> {
    prop_oneof![
        1..SECOND,
        SECOND..MINUTE,
        MINUTE..HOUR,
        HOUR..DAY,
        DAY..5 * DAY,
        // The neighbourhood of the reset threshold.
        50 * MINUTE..70 * MINUTE,
    ]
}

fn session() -> impl Strategy<Value = SessionPlan> {
    (
        duration(),
        duration(),
        prop_oneof![4 => Just(0u64), 1 => 1..5u64, 1 => 5..1000u64],
        any::<bool>(),
        -MAX_SKEW..=MAX_SKEW,
        -MAX_SKEW..=MAX_SKEW,
    )
        .prop_map(
            |(offline_before, online_for, version_skip, coin, connect_skew, disconnect_skew)| {
                SessionPlan {
                    offline_before,
                    online_for,
                    version_skip,
                    coin,
                    connect_skew,
                    disconnect_skew,
                }
            },
        )
}

/// Histories of several clients, in true-time order per client.
fn fleet() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(
        (prop::collection::vec(session(), 1..10), any::<bool>()),
        1..8,
    )
    .prop_map(|clients| {
        clients
            .iter()
            .enumerate()
            .flat_map(|(client, (sessions, last_open))| {
                client_history(client, sessions, *last_open)
            })
            .collect()
    })
}

/// A fleet history and a delivery of it: shuffled, with some events delivered again.
fn delivered_fleet() -> impl Strategy<Value = (Vec<Event>, Vec<Event>)> {
    fleet().prop_flat_map(|history| {
        let n = history.len();
        let order = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
        let duplicates = prop::collection::vec((0..n, 0..=n), 0..=n);
        (Just(history), order, duplicates).prop_map(|(history, order, duplicates)| {
            let mut delivered: Vec<Event> = order.iter().map(|&i| history[i]).collect();
            for (event, at) in duplicates {
                delivered.insert(at.min(delivered.len()), history[event]);
            }
            (history, delivered)
        })
    })
}

fn fold(events: &[Event]) -> HashMap<usize, Latest> {
    let mut latest: HashMap<usize, Latest> = HashMap::new();
    for event in events {
        latest.entry(event.client).or_default().apply(&event.mark);
    }
    latest
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

    /// Any delivery converges on the in-order result, and that result is the truth.
    #[test]
    fn any_delivery_order_converges_on_the_truth((history, delivered) in delivered_fleet()) {
        let in_order = fold(&history);
        let as_delivered = fold(&delivered);
        prop_assert_eq!(&as_delivered, &in_order);
        for (client, (expected, presence)) in truth(&history) {
            let latest = as_delivered[&client];
            prop_assert_eq!(latest, expected, "client {}", client);
            prop_assert_eq!(latest.presence(), Some(presence), "client {}", client);
        }
    }

    /// On every pair of one client's events the rule says exactly "happened later".
    #[test]
    fn the_rule_is_true_time_on_every_pair(history in fleet()) {
        for a in &history {
            for b in history.iter().filter(|b| b.client == a.client) {
                let expected = a.true_time > b.true_time;
                prop_assert_eq!(
                    happened_after(&a.mark, &b.mark),
                    expected,
                    "a = {:?}, b = {:?}", a, b
                );
            }
        }
    }
}

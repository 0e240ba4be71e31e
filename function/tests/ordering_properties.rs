//! Property tests of the ordering rule over histories generated from IoT Core's model:
//! many clients; sessions of milliseconds to days; offline gaps of milliseconds to days;
//! versions that skip, reset to 0 after about an hour offline (or keep counting, as a
//! persistent session may); stamps off by up to ±2 minutes; delivery shuffled across
//! clients and duplicated.
//!
//! Case count: 1024 per property by default; set PROPTEST_CASES to run more.

use std::collections::HashMap;

use iot_connectivity::ordering::{happened_after, Latest, Mark, Presence};
use proptest::prelude::*;

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const MAX_SKEW: i64 = 2 * MINUTE;

/// One delivered event: the client, what IoT Core stamped, and when it truly happened.
#[derive(Debug, Clone, Copy)]
struct Event {
    client: usize,
    mark: Mark,
    true_time: i64,
}

#[derive(Debug, Clone)]
struct SessionPlan {
    offline_before: i64,
    online_for: i64,
    version_skip: u64,
    /// Decides what the model leaves open: whether the counter resets after a gap in the
    /// ambiguous 50–70 minute band, and whether it keeps counting after a gap of hours
    /// (a persistent session that has not expired yet).
    coin: bool,
    connect_skew: i64,
    disconnect_skew: i64,
}

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

/// One client's history in true-time order. The last session may still be open.
fn client_history(client: usize, sessions: &[SessionPlan], last_open: bool) -> Vec<Event> {
    let mut events = Vec::new();
    let mut now = 1_671_506_794_644;
    let mut version: Option<u64> = None;
    for (i, plan) in sessions.iter().enumerate() {
        now += plan.offline_before;
        let reset = match plan.offline_before {
            gap if gap < 50 * MINUTE => false,
            gap if gap <= 70 * MINUTE => plan.coin,
            gap if gap < 2 * HOUR => true,
            // Hours offline: reset, unless a persistent session keeps the counter.
            _ => !plan.coin,
        };
        let v = match version {
            Some(previous) if !reset => previous + 1 + plan.version_skip,
            _ => 0,
        };
        version = Some(v);
        let mut push = |presence, true_time: i64, skew: i64| {
            events.push(Event {
                client,
                mark: Mark {
                    presence,
                    version: v,
                    timestamp: true_time + skew,
                },
                true_time,
            })
        };
        push(Presence::Connected, now, plan.connect_skew);
        if last_open && i == sessions.len() - 1 {
            break;
        }
        now += plan.online_for;
        push(Presence::Disconnected, now, plan.disconnect_skew);
        // Time moves on after a disconnect, however little.
        now += 1;
    }
    events
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
            .flat_map(|(client, (sessions, last_open))| client_history(client, sessions, *last_open))
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

/// What really is the newest connect, disconnect and status of each client.
fn truth(history: &[Event]) -> HashMap<usize, (Latest, Presence)> {
    let mut truth: HashMap<usize, (Latest, Presence, i64)> = HashMap::new();
    for event in history {
        let entry = truth
            .entry(event.client)
            .or_insert((Latest::default(), event.mark.presence, i64::MIN));
        if event.true_time >= entry.2 {
            entry.1 = event.mark.presence;
            entry.2 = event.true_time;
        }
        let slot = match event.mark.presence {
            Presence::Connected => &mut entry.0.connect,
            Presence::Disconnected => &mut entry.0.disconnect,
        };
        *slot = Some(event.mark);
    }
    truth
        .into_iter()
        .map(|(client, (latest, presence, _))| (client, (latest, presence)))
        .collect()
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

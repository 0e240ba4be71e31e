//! Property tests of the ordering rule over histories generated from IoT Core's model:
//! many clients; sessions of milliseconds to days; offline gaps of milliseconds to days;
//! versions that skip, reset to 0 after about an hour offline (or keep counting, as a
//! persistent session may); stamps off by up to ±2 minutes; delivery shuffled across
//! clients and duplicated.
//!
//! Case count: 1024 per property by default; set PROPTEST_CASES to run more.

mod history;

use std::collections::HashMap;

use history::{delivered_fleet, fleet, truth, Event};
use iot_connectivity::presence::ordering::{happened_after, Latest};
use proptest::prelude::*;

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

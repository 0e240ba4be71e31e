//! IoT Core's lifecycle model, as test histories: sessions of one client in true-time
//! order, with versions that skip and reset, and stamps off by up to ±2 minutes.

// Each test binary that includes this module uses a different part of it.
#![allow(dead_code)]

use std::collections::HashMap;

use iot_connectivity::presence::ordering::{Latest, Mark, Presence};
use proptest::prelude::*;

pub const SECOND: i64 = 1_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;
pub const MAX_SKEW: i64 = 2 * MINUTE;
pub const START: i64 = 1_671_506_794_644;

/// One event: the client, what IoT Core stamped, and when it truly happened.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    pub client: usize,
    pub mark: Mark,
    pub true_time: i64,
}

impl Event {
    pub fn client_id(self) -> String {
        format!("device-{:04}", self.client)
    }

    /// The event as IoT Core publishes it.
    pub fn to_json(self) -> serde_json::Value {
        let mark = &self.mark;
        let mut event = serde_json::json!({
            "clientId": self.client_id(),
            "timestamp": mark.timestamp,
            "versionNumber": mark.version,
            "sessionIdentifier": format!("{}-{}", self.client_id(), mark.version),
            "principalIdentifier": "0123456789abcdef",
        });
        match mark.presence {
            Presence::Connected => {
                event["eventType"] = "connected".into();
                event["ipAddress"] = "192.0.2.1".into();
            }
            Presence::Disconnected => {
                event["eventType"] = "disconnected".into();
                event["clientInitiatedDisconnect"] = true.into();
                event["disconnectReason"] = "CLIENT_INITIATED_DISCONNECT".into();
            }
        }
        event
    }
}

#[derive(Debug, Clone)]
pub struct SessionPlan {
    pub offline_before: i64,
    pub online_for: i64,
    pub version_skip: u64,
    /// Decides what the model leaves open: whether the counter resets after a gap in the
    /// ambiguous 50–70 minute band, and whether it keeps counting after a gap of hours
    /// (a persistent session that has not expired yet).
    pub coin: bool,
    pub connect_skew: i64,
    pub disconnect_skew: i64,
}

/// One client's history in true-time order. The last session may still be open.
pub fn client_history(client: usize, sessions: &[SessionPlan], last_open: bool) -> Vec<Event> {
    let mut events = Vec::new();
    let mut now = START;
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

/// What really is the newest connect, disconnect and status of each client.
pub fn truth(history: &[Event]) -> HashMap<usize, (Latest, Presence)> {
    let mut newest: HashMap<usize, (Latest, Presence, i64)> = HashMap::new();
    for event in history {
        let entry = newest.entry(event.client).or_insert((
            Latest::default(),
            event.mark.presence,
            i64::MIN,
        ));
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
    newest
        .into_iter()
        .map(|(client, (latest, presence, _))| (client, (latest, presence)))
        .collect()
}

// Strategies: histories generated from the model above.

/// Durations spread over orders of magnitude: milliseconds to days.
pub fn duration() -> impl Strategy<Value = i64> {
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

pub fn session() -> impl Strategy<Value = SessionPlan> {
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
pub fn fleet() -> impl Strategy<Value = Vec<Event>> {
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
pub fn delivered_fleet() -> impl Strategy<Value = (Vec<Event>, Vec<Event>)> {
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

//! The store and the processor against a real AWS API process (see `emulator`): every
//! scenario of the original sample, in every delivery order, plus the attributes this
//! product adds and the inputs it must refuse.

mod emulator;
mod history;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use history::{client_history, SessionPlan, DAY, HOUR, MAX_SKEW, MINUTE, SECOND};
use iot_connectivity::ingest::processor::{Config, Outcome, Processor};
use iot_connectivity::presence::event::LifecycleEvent;
use iot_connectivity::presence::ordering::{
    decide, happened_after, Decision, Latest, Mark, Presence, RESET_WINDOW_MS,
};
use iot_connectivity::presence::store::{attr, number_attr, Item, Recorded, Store, Written};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// The sample's reference time.
const T: i64 = 1671506794644;

async fn processor(purpose: &str, ignored: &[&str]) -> Processor {
    configured_processor(purpose, |config| {
        config.ignored_client_id_prefixes = ignored.iter().map(|p| p.to_string()).collect();
    })
    .await
}

/// A processor on a new table, with the defaults changed by `configure`.
async fn configured_processor(purpose: &str, configure: impl FnOnce(&mut Config)) -> Processor {
    let client = emulator::client();
    let mut config = Config {
        table_name: emulator::create_table(&client, purpose).await,
        ignored_client_id_prefixes: vec![],
        item_ttl: None,
        record_unknown_connect_failures: false,
        status_index_shards: None,
        announcements: false,
        history: None,
        metrics: None,
    };
    configure(&mut config);
    Processor::new(client, config)
}

fn connected(client: &str, version: u64, timestamp: i64) -> Value {
    json!({
        "clientId": client, "timestamp": timestamp, "eventType": "connected",
        "versionNumber": version, "sessionIdentifier": format!("session-{version}-{timestamp}"),
        "principalIdentifier": "principal", "ipAddress": "192.0.2.10"
    })
}

fn disconnected(client: &str, version: u64, timestamp: i64) -> Value {
    json!({
        "clientId": client, "timestamp": timestamp, "eventType": "disconnected",
        "versionNumber": version, "sessionIdentifier": format!("session-{version}-{timestamp}"),
        "principalIdentifier": "principal", "clientInitiatedDisconnect": false,
        "disconnectReason": "CONNECTION_LOST"
    })
}

/// The item of `client`, which must exist (strongly consistent read).
async fn stored(processor: &Processor, client: &str) -> Item {
    processor
        .store()
        .get(client)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no item for {client}"))
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name).map(|value| {
        value
            .as_n()
            .unwrap_or_else(|_| panic!("{name} is not a number: {value:?}"))
            .parse()
            .unwrap()
    })
}

fn string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).map(|value| value.as_s().unwrap().as_str())
}

#[derive(Debug, PartialEq)]
struct Expected {
    status: &'static str,
    connect: Option<(i64, i64)>,
    disconnect: Option<(i64, i64)>,
}

fn observed(item: &Item) -> Expected {
    let pair = |version, time| Some((number(item, version)?, number(item, time)?));
    Expected {
        status: match string(item, "Status") {
            Some("Connected") => "Connected",
            Some("Disconnected") => "Disconnected",
            other => panic!("unexpected Status {other:?}"),
        },
        connect: pair("ConnectVersionNum", "ConnectTime"),
        disconnect: pair("DisconnectVersionNum", "DisconnectTime"),
    }
}

fn permutations(events: &[Value]) -> Vec<Vec<Value>> {
    if events.len() <= 1 {
        return vec![events.to_vec()];
    }
    (0..events.len())
        .flat_map(|i| {
            let mut rest = events.to_vec();
            let first = rest.remove(i);
            permutations(&rest).into_iter().map(move |mut tail| {
                tail.insert(0, first.clone());
                tail
            })
        })
        .collect()
}

/// Delivers `orders` of one scenario, each to its own client, and checks every item.
async fn check_scenario(
    processor: &Processor,
    scenario: &str,
    orders: Vec<Vec<Value>>,
    expected: Expected,
) {
    for (n, order) in orders.iter().enumerate() {
        let client = format!("{scenario}-{n}");
        for mut event in order.iter().cloned() {
            event["clientId"] = json!(client);
            processor.process(&event).await.expect("stored");
        }
        let item = stored(processor, &client).await;
        assert_eq!(
            observed(&item),
            expected,
            "{scenario} delivered as {order:?}"
        );
    }
}

/// Every order of `events`, and every order with the first event delivered again last.
fn all_orders_with_duplicates(events: &[Value]) -> Vec<Vec<Value>> {
    let mut orders = permutations(events);
    for order in permutations(events) {
        let mut duplicated = order.clone();
        duplicated.push(order[0].clone());
        duplicated.insert(0, order[order.len() - 1].clone());
        orders.push(duplicated);
    }
    orders
}

#[tokio::test]
async fn the_samples_scenarios_in_every_order() {
    let processor = processor("scenarios", &[]).await;
    let c = |v, t| connected("x", v, t);
    let d = |v, t| disconnected("x", v, t);

    let expect = |status, connect, disconnect| Expected {
        status,
        connect,
        disconnect,
    };
    let s5 = [c(0, T), d(0, T + 1), c(2, T + 2), d(2, T + 3), c(4, T + 4)];
    let mut s5_orders = vec![
        s5.to_vec(),
        [0, 3, 2, 4, 1].iter().map(|&i| s5[i].clone()).collect(),
    ];
    s5_orders.extend(permutations(&s5).into_iter().step_by(7));
    let (h, h1) = (T + 3_600_000, T + 3_600_001);
    let scenarios = [
        (
            "s1",
            vec![vec![c(0, T)]],
            expect("Connected", Some((0, T)), None),
        ),
        (
            "s2",
            vec![vec![d(0, T)]],
            expect("Disconnected", None, Some((0, T))),
        ),
        (
            "s3",
            all_orders_with_duplicates(&[c(0, T), d(0, T + 1)]),
            expect("Disconnected", Some((0, T)), Some((0, T + 1))),
        ),
        (
            "s4",
            all_orders_with_duplicates(&[c(0, T), d(0, T + 1), c(2, T + 2)]),
            expect("Connected", Some((2, T + 2)), Some((0, T + 1))),
        ),
        (
            "s5",
            s5_orders,
            expect("Connected", Some((4, T + 4)), Some((2, T + 3))),
        ),
        (
            "s6",
            all_orders_with_duplicates(&[c(10, T), d(10, T + 1), c(0, h1)]),
            expect("Connected", Some((0, h1)), Some((10, T + 1))),
        ),
        (
            "s7",
            all_orders_with_duplicates(&[d(10, T), c(0, h), d(0, h1)]),
            expect("Disconnected", Some((0, h)), Some((0, h1))),
        ),
    ];
    for (name, orders, expected) in scenarios {
        check_scenario(&processor, name, orders, expected).await;
    }
}

#[tokio::test]
async fn a_device_online_every_few_hours_shows_connected_while_connected() {
    let processor = processor("hourly", &[]).await;
    let hour = 3_600_000;
    for session in 0..3 {
        let start = T + session * 4 * hour;
        processor
            .process(&connected("sensor", 0, start))
            .await
            .unwrap();
        let item = stored(&processor, "sensor").await;
        assert_eq!(
            string(&item, "Status"),
            Some("Connected"),
            "session {session}"
        );
        processor
            .process(&disconnected("sensor", 0, start + hour / 2))
            .await
            .unwrap();
        // A late duplicate of the previous session's connect changes nothing.
        let outcome = processor
            .process(&connected("sensor", 0, start))
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::Stale);
        let item = stored(&processor, "sensor").await;
        assert_eq!(
            string(&item, "Status"),
            Some("Disconnected"),
            "session {session}"
        );
    }
}

#[tokio::test]
async fn outcomes_and_one_write_per_applied_event() {
    let processor = processor("outcomes", &[]).await;
    let revision = |item: &Item| number(item, "Revision").unwrap();
    assert_eq!(
        processor.process(&connected("a", 1, T)).await.unwrap(),
        Outcome::Applied
    );
    let item = stored(&processor, "a").await;
    assert_eq!(revision(&item), 1);
    assert_eq!(
        processor.process(&connected("a", 1, T)).await.unwrap(),
        Outcome::Stale
    );
    assert_eq!(
        processor.process(&connected("a", 0, T - 5)).await.unwrap(),
        Outcome::Stale
    );
    let item = stored(&processor, "a").await;
    assert_eq!(revision(&item), 1, "stale events write nothing");
    // Older than the stored disconnect but newer than the stored connect: applied,
    // Status unchanged.
    processor
        .process(&disconnected("a", 3, T + 10))
        .await
        .unwrap();
    assert_eq!(
        processor.process(&connected("a", 3, T + 5)).await.unwrap(),
        Outcome::Applied
    );
    let item = stored(&processor, "a").await;
    assert_eq!(string(&item, "Status"), Some("Disconnected"));
    assert_eq!(number(&item, "ConnectVersionNum"), Some(3));
    assert_eq!(revision(&item), 3);
}

#[tokio::test]
async fn newest_event_attributes_replace_older_ones_whole() {
    let processor = processor("attributes", &[]).await;
    let mut first = connected("thing-1", 1, T);
    first["thingName"] = json!("thing-one");
    processor.process(&first).await.unwrap();
    let item = stored(&processor, "thing-1").await;
    assert_eq!(string(&item, "ThingName"), Some("thing-one"));
    assert_eq!(string(&item, "IpAddress"), Some("192.0.2.10"));
    assert_eq!(string(&item, "PrincipalIdentifier"), Some("principal"));
    assert_eq!(
        string(&item, "SessionIdentifier"),
        Some(format!("session-1-{T}").as_str())
    );
    assert!(number(&item, "LastUpdateTime").unwrap() > T);

    // The next connection sent no thingName: the old one must not linger.
    processor
        .process(&connected("thing-1", 2, T + 100))
        .await
        .unwrap();
    processor
        .process(&disconnected("thing-1", 2, T + 200))
        .await
        .unwrap();
    let item = stored(&processor, "thing-1").await;
    assert_eq!(string(&item, "ThingName"), None);
    assert_eq!(string(&item, "DisconnectReason"), Some("CONNECTION_LOST"));
    assert_eq!(
        item.get("ClientInitiatedDisconnect"),
        Some(&AttributeValue::Bool(false))
    );
    assert_eq!(string(&item, "Status"), Some("Disconnected"));
}

#[tokio::test]
async fn connect_failures_are_kept_without_touching_status() {
    let processor = processor("connect-failed", &[]).await;
    let failed = |timestamp: i64, reason: &str| {
        json!({"clientId": "flaky", "timestamp": timestamp, "eventType": "connect_failed",
               "connectFailureReason": reason, "principalIdentifier": "p"})
    };
    processor.process(&connected("flaky", 4, T)).await.unwrap();
    assert_eq!(
        processor
            .process(&failed(T + 50, "AUTHORIZATION_FAILED"))
            .await
            .unwrap(),
        Outcome::Applied
    );
    assert_eq!(
        processor.process(&failed(T + 20, "OLDER")).await.unwrap(),
        Outcome::Stale
    );
    let item = stored(&processor, "flaky").await;
    assert_eq!(string(&item, "Status"), Some("Connected"));
    assert_eq!(number(&item, "ConnectFailedTime"), Some(T + 50));
    assert_eq!(
        string(&item, "ConnectFailureReason"),
        Some("AUTHORIZATION_FAILED")
    );

    // Anyone can fail to connect under any client ID: unknown clients are not recorded.
    let mut only_failed = failed(T, "AUTHORIZATION_FAILED");
    only_failed["clientId"] = json!("never-connected");
    assert_eq!(
        processor.process(&only_failed).await.unwrap(),
        Outcome::Skipped
    );
    assert_eq!(
        processor.store().get("never-connected").await.unwrap(),
        None
    );

    // Unless asked: then such a client reads as Disconnected; its first connect wins.
    let processor = configured_processor("connect-failed-unknown", |config| {
        config.record_unknown_connect_failures = true;
    })
    .await;
    processor.process(&only_failed).await.unwrap();
    let item = stored(&processor, "never-connected").await;
    assert_eq!(string(&item, "Status"), Some("Disconnected"));
    processor
        .process(&connected("never-connected", 0, T + 1))
        .await
        .unwrap();
    let item = stored(&processor, "never-connected").await;
    assert_eq!(string(&item, "Status"), Some("Connected"));
}

#[tokio::test]
async fn nothing_is_written_for_what_must_be_skipped() {
    let processor = processor("skipped", &["iotconsole", "test-"]).await;
    let cases: Vec<(&str, Value)> = vec![
        ("iotconsole-123", connected("iotconsole-123", 0, T)),
        ("test-rig", disconnected("test-rig", 0, T)),
        (
            "sub",
            json!({"clientId": "sub", "timestamp": T, "eventType": "subscribed",
                       "sessionIdentifier": "s", "topics": ["a/b"]}),
        ),
        (
            "unsub",
            json!({"clientId": "unsub", "timestamp": T, "eventType": "unsubscribed",
                         "topics": ["a/b"]}),
        ),
        (
            "bad-type",
            json!({"clientId": "bad-type", "timestamp": T, "eventType": "rebooted",
                            "versionNumber": 0}),
        ),
        (
            "no-version",
            json!({"clientId": "no-version", "timestamp": T, "eventType": "connected"}),
        ),
    ];
    for (client, payload) in cases {
        assert_eq!(
            processor.process(&payload).await.unwrap(),
            Outcome::Skipped,
            "{payload}"
        );
        assert_eq!(
            processor.store().get(client).await.unwrap(),
            None,
            "{payload}"
        );
    }
    assert_eq!(
        processor.process(&json!("not an event")).await.unwrap(),
        Outcome::Skipped
    );
}

#[tokio::test]
async fn items_written_by_the_original_sample_are_carried_forward() {
    let processor = processor("legacy", &[]).await;
    let client = emulator::client();
    let legacy: HashMap<String, AttributeValue> = [
        ("ClientID", AttributeValue::S("legacy".into())),
        ("Status", AttributeValue::S("Connected".into())),
        ("ConnectVersionNum", AttributeValue::N("7".into())),
        ("ConnectTime", AttributeValue::N(T.to_string())),
        ("DisconnectVersionNum", AttributeValue::N("6".into())),
        ("DisconnectTime", AttributeValue::N((T - 10).to_string())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    client
        .put_item()
        .table_name(processor.store().table())
        .set_item(Some(legacy))
        .send()
        .await
        .unwrap();
    // Older than the stored disconnect: takes the second, revision-guarded path on an
    // item that has no Revision yet.
    assert_eq!(
        processor
            .process(&disconnected("legacy", 6, T - 20))
            .await
            .unwrap(),
        Outcome::Stale
    );
    assert_eq!(
        processor
            .process(&disconnected("legacy", 7, T + 10))
            .await
            .unwrap(),
        Outcome::Applied
    );
    let item = stored(&processor, "legacy").await;
    assert_eq!(string(&item, "Status"), Some("Disconnected"));
    assert_eq!(number(&item, "Revision"), Some(1));
}

/// DynamoDB TTL may delete only a client that is not connected: a device connected for
/// longer than the TTL, with no new lifecycle event, must stay.
#[tokio::test]
async fn only_disconnected_clients_expire() {
    let processor = configured_processor("ttl", |config| {
        config.item_ttl = Some(std::time::Duration::from_secs(86_400));
    })
    .await;
    let expires = |item: &Item| number(item, "ExpiresAt");
    let failed = |timestamp: i64| {
        json!({"clientId": "dev", "timestamp": timestamp, "eventType": "connect_failed",
               "connectFailureReason": "AUTHORIZATION_FAILED"})
    };

    processor.process(&connected("dev", 0, T)).await.unwrap();
    assert_eq!(expires(&stored(&processor, "dev").await), None);
    processor.process(&failed(T + 1)).await.unwrap();
    let item = stored(&processor, "dev").await;
    assert_eq!(number(&item, "ConnectFailedTime"), Some(T + 1));
    assert_eq!(
        expires(&item),
        None,
        "a connect failure of a connected client"
    );

    processor
        .process(&disconnected("dev", 0, T + 2))
        .await
        .unwrap();
    let after_disconnect = expires(&stored(&processor, "dev").await);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        after_disconnect.is_some_and(|at| (at - now - 86_400).abs() < 60),
        "{after_disconnect:?}"
    );
    processor.process(&failed(T + 3)).await.unwrap();
    assert!(expires(&stored(&processor, "dev").await).is_some());

    processor
        .process(&connected("dev", 1, T + 4))
        .await
        .unwrap();
    assert_eq!(expires(&stored(&processor, "dev").await), None);
    // A late, stale disconnect changes nothing, so the client stays without expiry.
    processor
        .process(&disconnected("dev", 0, T + 2))
        .await
        .unwrap();
    assert_eq!(expires(&stored(&processor, "dev").await), None);
}

#[tokio::test]
async fn store_failures_are_returned_for_retry() {
    let processor = Processor::new(
        emulator::client(),
        Config {
            table_name: "no-such-table".into(),
            ignored_client_id_prefixes: vec![],
            item_ttl: None,
            record_unknown_connect_failures: false,
            status_index_shards: None,
            announcements: false,
            history: None,
            metrics: None,
        },
    );
    let err = processor.process(&connected("x", 0, T)).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("UpdateItem") && message.contains("no-such-table"),
        "{message}"
    );
}

async fn record(store: &Store, payload: &Value) -> Recorded {
    match LifecycleEvent::parse(payload).unwrap() {
        LifecycleEvent::Connected(event) => store.record_connected(&event).await.unwrap(),
        LifecycleEvent::Disconnected(event) => store.record_disconnected(&event).await.unwrap(),
        other => panic!("not a presence event: {other:?}"),
    }
}

/// In-order delivery is the common case: one conditional UpdateItem per event, which
/// also proves the store's condition expressions agree with the pure rule whenever the
/// event is the newest (a stricter condition would cost a second round trip; a looser
/// one would show in the scenarios above). A duplicate costs one round trip and no write.
#[tokio::test]
async fn in_order_events_take_one_round_trip_and_duplicates_write_nothing() {
    let processor = processor("round-trips", &[]).await;
    let plan = |offline_before, online_for, connect_skew, disconnect_skew| SessionPlan {
        offline_before,
        online_for,
        version_skip: 2,
        coin: false,
        connect_skew,
        disconnect_skew,
    };
    let sessions = [
        plan(0, 10 * SECOND, 0, 0),
        // Reconnect within a second, the disconnect stamped before its own connect.
        plan(SECOND, 30 * SECOND, MAX_SKEW, -MAX_SKEW),
        // Offline for two hours: the version resets to 0.
        plan(2 * HOUR, 3 * DAY, -MAX_SKEW, MAX_SKEW),
        plan(55 * MINUTE, 5, 0, 0),
        plan(10, 40 * MINUTE, MAX_SKEW, -MAX_SKEW),
        plan(3 * DAY, HOUR, 0, 0),
    ];
    let history = client_history(1, &sessions, true);
    for event in &history {
        let recorded = record(processor.store(), &event.to_json()).await;
        assert_eq!(
            recorded,
            Recorded {
                written: Written::Applied,
                round_trips: 1
            },
            "{event:?}"
        );
    }
    let revision = number(&stored(&processor, "device-0001").await, "Revision");
    for event in &history {
        let recorded = record(processor.store(), &event.to_json()).await;
        assert_eq!(
            recorded,
            Recorded {
                written: Written::Stale,
                round_trips: 1
            },
            "{event:?}"
        );
    }
    let item = stored(&processor, "device-0001").await;
    assert_eq!(number(&item, "Revision"), revision);
    assert_eq!(string(&item, "Status"), Some("Connected"));
}

/// The store's condition expressions are the pure rule: over random stored states and
/// events, with timestamps on and around the window's edges, the first conditional write
/// succeeds exactly when `decide` says the event is the newest of all (one round trip),
/// a stale event costs one round trip and no write, anything else two; and the item ends
/// as the pure fold says.
#[tokio::test]
async fn condition_expressions_agree_with_the_pure_rule() {
    const W: i64 = RESET_WINDOW_MS;
    let processor = processor("rule-agreement", &[]).await;
    let store = processor.store();
    let client = emulator::client();
    let mut rng = StdRng::seed_from_u64(7);
    let offsets = [
        0,
        1,
        -1,
        W,
        -W,
        W + 1,
        -W - 1,
        120_000,
        -120_000,
        3_600_000,
        -3_600_000,
    ];
    let mark = |rng: &mut StdRng, presence| Mark {
        presence,
        version: rng.random_range(0..4),
        timestamp: T + offsets[rng.random_range(0..offsets.len())],
    };
    for case in 0..300 {
        let stored = Latest {
            connect: rng
                .random_bool(0.8)
                .then(|| mark(&mut rng, Presence::Connected)),
            disconnect: rng
                .random_bool(0.8)
                .then(|| mark(&mut rng, Presence::Disconnected)),
        };
        let kind = if rng.random() {
            Presence::Connected
        } else {
            Presence::Disconnected
        };
        let event = mark(&mut rng, kind);
        let client_id = format!("case-{case}");

        let mut item: HashMap<String, AttributeValue> =
            HashMap::from([("ClientID".to_owned(), AttributeValue::S(client_id.clone()))]);
        for (stored_mark, version, time) in [
            (stored.connect, "ConnectVersionNum", "ConnectTime"),
            (stored.disconnect, "DisconnectVersionNum", "DisconnectTime"),
        ] {
            if let Some(stored_mark) = stored_mark {
                item.insert(
                    version.to_owned(),
                    AttributeValue::N(stored_mark.version.to_string()),
                );
                item.insert(
                    time.to_owned(),
                    AttributeValue::N(stored_mark.timestamp.to_string()),
                );
            }
        }
        client
            .put_item()
            .table_name(store.table())
            .set_item(Some(item))
            .send()
            .await
            .unwrap();

        let payload = match kind {
            Presence::Connected => connected(&client_id, event.version, event.timestamp),
            Presence::Disconnected => disconnected(&client_id, event.version, event.timestamp),
        };
        let recorded = record(store, &payload).await;
        let newest_of_all = [stored.connect, stored.disconnect]
            .iter()
            .flatten()
            .all(|other| happened_after(&event, other));
        let expected = match decide(&stored, &event) {
            Decision::Stale => Recorded {
                written: Written::Stale,
                round_trips: 1,
            },
            Decision::Apply { .. } if newest_of_all => Recorded {
                written: Written::Applied,
                round_trips: 1,
            },
            Decision::Apply { .. } => Recorded {
                written: Written::Applied,
                round_trips: 2,
            },
        };
        assert_eq!(recorded, expected, "stored {stored:?}, event {event:?}");

        let mut folded = stored;
        folded.apply(&event);
        let item = store.get(&client_id).await.unwrap().unwrap();
        let pair = |version, time| Some((number(&item, version)?, number(&item, time)?));
        let as_pair = |m: Option<Mark>| m.map(|m| (m.version as i64, m.timestamp));
        assert_eq!(
            pair("ConnectVersionNum", "ConnectTime"),
            as_pair(folded.connect),
            "case {case}"
        );
        assert_eq!(
            pair("DisconnectVersionNum", "DisconnectTime"),
            as_pair(folded.disconnect),
            "case {case}"
        );
        if recorded.written == Written::Applied {
            let status = folded.presence().unwrap().status();
            assert_eq!(
                string(&item, "Status"),
                Some(status),
                "stored {stored:?}, event {event:?}"
            );
        }
    }
}

/// With connectivity events on, every presence write marks the item as owing an
/// announcement, a disconnect records when it was recorded, and nothing sets an expiry
/// while the item is owed (not a disconnect, not a connect failure): only the notifier's
/// settlement does, so TTL never deletes a debt.
#[tokio::test]
async fn an_owed_item_is_marked_and_never_expires_until_settled() {
    let processor = configured_processor("owed", |config| {
        config.item_ttl = Some(std::time::Duration::from_secs(3600));
        config.announcements = true;
    })
    .await;
    let t = 1_700_000_000_000;
    processor.process(&connected("gw-1", 1, t)).await.unwrap();
    processor
        .process(&disconnected("gw-1", 1, t + 1_000))
        .await
        .unwrap();
    processor
        .process(
            &json!({"clientId": "gw-1", "timestamp": t + 2_000, "eventType": "connect_failed",
                         "connectFailureReason": "AUTHORIZATION_FAILED"}),
        )
        .await
        .unwrap();
    let item = stored(&processor, "gw-1").await;
    assert_eq!(
        item.get(attr::OWED_SHARD),
        Some(&AttributeValue::S(
            iot_connectivity::presence::store::owed_shard_key("gw-1")
        ))
    );
    assert!(item.contains_key(attr::DISCONNECT_RECORDED_AT), "{item:?}");
    assert!(
        !item.contains_key(attr::EXPIRES_AT),
        "owed: no expiry {item:?}"
    );

    let revision = number_attr(&item, attr::REVISION);
    assert!(processor
        .store()
        .settle("gw-1", revision, Presence::Disconnected)
        .await
        .unwrap());
    let item = stored(&processor, "gw-1").await;
    assert!(!item.contains_key(attr::OWED_SHARD));
    assert!(
        item.contains_key(attr::EXPIRES_AT),
        "settled: expires {item:?}"
    );
}

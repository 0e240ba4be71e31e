//! Routing and storms against a real AWS API process (see `emulator`): a [`Notifier`] with
//! the thing registry's context, a grace period per device class, a maintenance window and
//! storm digests, woken by stream records as Lambda delivers them and by the reconciler's
//! schedule, putting on a real bus whose rule sends to a queue the test reads.
//!
//! Three thing groups of devices that were announced Connected: all of `lobby` drop at once
//! (one `Fleet Connectivity Degraded`, its devices' announcements naming its `stormId`),
//! `yard` in maintenance drops too (no storm; its announcements say so), and in `roof` a
//! sensor class with a longer grace waits while a camera is announced. `lobby` returning
//! gives one `Fleet Connectivity Restored` with the same `stormId`. With the registry
//! throttled, announcements are put at once, with what their last announcement knew.

mod emulator;

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use iot_connectivity::announcements::fleet_store::FleetStore;
use iot_connectivity::announcements::maintenance::{Scope, Window};
use iot_connectivity::announcements::notifier::{Notifier, NotifierConfig};
use iot_connectivity::announcements::store::attr;
use iot_connectivity::announcements::storm::{StormConfig, STORM_READ_HOLD_MS};
use iot_connectivity::shared::time::now_ms;
use serde_json::{json, Value};

const PER_GROUP: usize = 8;

/// Everything on the queue until it has been quiet for a second.
async fn drain(queue: &str) -> Vec<Value> {
    let sqs = aws_sdk_sqs::Client::new(&emulator::sdk_config());
    let mut events = Vec::new();
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(1) {
        let messages = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        for message in messages.messages() {
            quiet_since = Instant::now();
            events.push(serde_json::from_str(message.body().unwrap()).unwrap());
            sqs.delete_message()
                .queue_url(queue)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    events
}

/// Things `<prefix>-<group>-<i>` in groups lobby, yard and roof: cameras, except roof's
/// first, a sensor; each with attribute site=north.
async fn register_things(prefix: &str) {
    let iot = aws_sdk_iot::Client::new(&emulator::sdk_config());
    for type_name in ["camera", "sensor"] {
        let _ = iot
            .create_thing_type()
            .thing_type_name(format!("{prefix}-{type_name}"))
            .send()
            .await;
    }
    for group in ["lobby", "yard", "roof"] {
        let group_name = format!("{prefix}-{group}");
        iot.create_thing_group()
            .thing_group_name(&group_name)
            .send()
            .await
            .unwrap();
        for i in 0..PER_GROUP {
            let name = format!("{prefix}-{group}-{i}");
            let class = if group == "roof" && i == 0 {
                "sensor"
            } else {
                "camera"
            };
            iot.create_thing()
                .thing_name(&name)
                .thing_type_name(format!("{prefix}-{class}"))
                .attribute_payload(
                    aws_sdk_iot::types::AttributePayload::builder()
                        .attributes("site", "north")
                        .build(),
                )
                .send()
                .await
                .unwrap();
            iot.add_thing_to_thing_group()
                .thing_group_name(&group_name)
                .thing_name(&name)
                .send()
                .await
                .unwrap();
        }
    }
}

/// A device announced Connected, now `status` since `at` (its disconnect recorded then),
/// owed.
async fn put_device(table: &str, client_id: &str, status: &str, at: i64, revision: u64) {
    let item = vec![
        (attr::CLIENT_ID, AttributeValue::S(client_id.into())),
        (attr::STATUS, AttributeValue::S(status.into())),
        (
            attr::CONNECT_TIME,
            AttributeValue::N(if status == "Connected" { at } else { 5 }.to_string()),
        ),
        (
            attr::CONNECT_VERSION,
            AttributeValue::N(revision.to_string()),
        ),
        (
            attr::DISCONNECT_TIME,
            AttributeValue::N(if status == "Connected" { at - 1 } else { at }.to_string()),
        ),
        (
            attr::DISCONNECT_VERSION,
            AttributeValue::N(revision.to_string()),
        ),
        (
            attr::DISCONNECT_RECORDED_AT,
            AttributeValue::N(at.to_string()),
        ),
        (attr::REVISION, AttributeValue::N(revision.to_string())),
        (attr::CREATED_TIME, AttributeValue::N("1000".into())),
        (attr::OWED_SHARD, AttributeValue::S("Owed#0".into())),
    ];
    let client = emulator::client();
    let key = [(
        attr::CLIENT_ID.to_owned(),
        AttributeValue::S(client_id.into()),
    )];
    let old = client
        .get_item()
        .table_name(table)
        .set_key(Some(key.into_iter().collect()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_default();
    // The announcement attributes as the notifier left them; Connected at first.
    let mut full: std::collections::HashMap<String, AttributeValue> = old
        .into_iter()
        .filter(|(name, _)| name.starts_with("Announce"))
        .collect();
    if full.is_empty() {
        full.insert(
            attr::ANNOUNCED_STATUS.into(),
            AttributeValue::S("Connected".into()),
        );
        full.insert(
            attr::ANNOUNCEMENT_ID.into(),
            AttributeValue::S(format!("{client_id}-first")),
        );
        full.insert(
            attr::ANNOUNCEMENT_SEQUENCE.into(),
            AttributeValue::N("1".into()),
        );
    }
    full.extend(item.into_iter().map(|(k, v)| (k.to_owned(), v)));
    client
        .put_item()
        .table_name(table)
        .set_item(Some(full))
        .send()
        .await
        .unwrap();
}

fn modify(client_id: &str) -> Value {
    json!({"eventName": "MODIFY", "eventSource": "aws:dynamodb", "dynamodb": {
        "Keys": {"ClientID": {"S": client_id}}, "SequenceNumber": "100"}})
}

fn devices(prefix: &str, group: &str) -> Vec<String> {
    (0..PER_GROUP)
        .map(|i| format!("{prefix}-{group}-{i}"))
        .collect()
}

fn of_type<'a>(events: &'a [Value], detail_type: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["detail-type"] == detail_type)
        .collect()
}

fn far_off() -> Instant {
    Instant::now() + Duration::from_secs(50)
}

async fn notifier(prefix: &str, table: &str, fleet_table: &str) -> Notifier {
    let storm =
        StormConfig::parse(r#"{"threshold": 6, "window_seconds": 300, "group_by": "thing_group"}"#)
            .unwrap();
    Notifier::new(
        &emulator::sdk_config(),
        NotifierConfig {
            table_name: table.to_owned(),
            event_bus_name: "default".into(),
            event_source: format!("test.{prefix}"),
            grace_period: Duration::from_secs(60),
            grace_queue_url: "unused".into(),
            item_ttl: None,
            max_concurrent_puts: 2,
            claim_put_deadline: Duration::from_secs(45),
            metrics: None,
            thing_context: true,
            grace_overrides: serde_json::from_value(json!([
                {"thing_type": format!("{prefix}-sensor"), "seconds": 900}
            ]))
            .unwrap(),
            fleet_table: Some(fleet_table.to_owned()),
            storm: Some(storm),
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_dropping_at_once_is_one_storm_and_its_return_one_restore() {
    let prefix = format!("rt{}", now_ms() % 1_000_000_000);
    let client = emulator::client();
    let table = emulator::create_table_with_owed_index(&client, "routing").await;
    let fleet_table = emulator::create_fleet_table(&client, "routing").await;
    let queue = emulator::announcements_queue(&format!("test.{prefix}")).await;
    register_things(&prefix).await;
    FleetStore::new(client.clone(), fleet_table.clone())
        .start_window(&Window {
            id: "mw-test".into(),
            scope: Scope::Group(format!("{prefix}-yard")),
            started_at: now_ms() - 1_000,
            until: now_ms() + 3_600_000,
            reason: Some("firmware rollout".into()),
            started_by: "test".into(),
            ended_at: None,
            ended_by: None,
            end_reason: None,
        })
        .await
        .unwrap();
    let notifier = notifier(&prefix, &table, &fleet_table).await;

    // Everything drops; disconnects recorded two minutes ago, past the default grace.
    let down_at = now_ms() - 120_000;
    let mut everyone = Vec::new();
    for group in ["lobby", "yard", "roof"] {
        // Two of roof: the sensor and one camera.
        let dropping = if group == "roof" { 2 } else { PER_GROUP };
        for device in devices(&prefix, group).into_iter().take(dropping) {
            put_device(&table, &device, "Disconnected", down_at, 2).await;
            everyone.push(device);
        }
    }
    let batch = json!({"Records": everyone.iter().map(|c| modify(c)).collect::<Vec<_>>()});
    notifier.handle(&batch, far_off()).await;
    let events = drain(&queue).await;

    let degraded = of_type(&events, "Fleet Connectivity Degraded");
    assert_eq!(degraded.len(), 1, "one storm: {degraded:#?}");
    let storm = &degraded[0]["detail"];
    assert_eq!(storm["group"], format!("{prefix}-lobby"));
    assert_eq!(storm["groupBy"], "thing_group");
    assert!(storm["disconnectedCount"].as_u64().unwrap() >= 6, "{storm}");
    let storm_id = storm["stormId"].as_str().unwrap().to_owned();

    let disconnected = of_type(&events, "Device Disconnected");
    let roof_sensor = format!("{prefix}-roof-0");
    assert_eq!(
        disconnected.len(),
        2 * PER_GROUP + 1,
        "all but the sensor, whose class waits 15 minutes"
    );
    assert!(disconnected
        .iter()
        .all(|e| e["detail"]["clientId"] != roof_sensor.as_str()));
    for event in &disconnected {
        let detail = &event["detail"];
        let client = detail["clientId"].as_str().unwrap();
        assert_eq!(detail["thing"]["attributes"]["site"], "north", "{detail}");
        assert!(
            detail["thing"]["type"]
                .as_str()
                .unwrap()
                .ends_with("camera"),
            "{detail}"
        );
        let group = detail["thing"]["groups"][0].as_str().unwrap();
        if group.ends_with("yard") {
            assert_eq!(
                detail["maintenance"]["reason"], "firmware rollout",
                "{detail}"
            );
            assert!(
                detail.get("stormId").is_none(),
                "a device in maintenance is in no storm"
            );
        } else {
            assert!(detail.get("maintenance").is_none(), "{client}");
        }
        if group.ends_with("roof") {
            assert!(
                detail.get("stormId").is_none(),
                "roof is no storm: {detail}"
            );
        }
    }
    let lobby_in_storm = disconnected
        .iter()
        .filter(|e| e["detail"]["stormId"] == storm_id.as_str())
        .count();
    assert!(
        lobby_in_storm >= PER_GROUP - 5,
        "the storm's later devices name it"
    );

    // Lobby returns: each device announced Connected; the reconciler's pass restores the
    // storm. Three came back as if their return had raced their own join (back, announced
    // Connected, nothing owed, so no look takes them out): the pass finds them back.
    let lobby = devices(&prefix, "lobby");
    for device in &lobby {
        put_device(&table, device, "Connected", now_ms(), 3).await;
    }
    let (raced, announced) = lobby.split_at(3);
    for device in raced {
        client
            .update_item()
            .table_name(&table)
            .key(attr::CLIENT_ID, AttributeValue::S(device.clone()))
            .update_expression("SET #a = :c REMOVE #o")
            .expression_attribute_names("#a", attr::ANNOUNCED_STATUS)
            .expression_attribute_names("#o", attr::OWED_SHARD)
            .expression_attribute_values(":c", AttributeValue::S("Connected".into()))
            .send()
            .await
            .unwrap();
    }
    let batch = json!({"Records": announced.iter().map(|c| modify(c)).collect::<Vec<_>>()});
    notifier.handle(&batch, far_off()).await;
    assert!(
        of_type(&drain(&queue).await, "Fleet Connectivity Restored").is_empty(),
        "restored by the pass"
    );
    notifier
        .handle(&json!({"source": "aws.events"}), far_off())
        .await;
    let events = drain(&queue).await;
    let restored = of_type(&events, "Fleet Connectivity Restored");
    assert_eq!(restored.len(), 1, "{events:#?}");
    let detail = &restored[0]["detail"];
    assert_eq!(detail["stormId"], storm_id.as_str());
    assert_eq!(detail["disconnectedCount"], 0);
    assert!(detail["sequence"].as_u64() > storm["sequence"].as_u64());
    assert!(detail["durationMs"].as_i64().unwrap() >= 0);
    assert!(
        of_type(&events, "Fleet Connectivity Degraded").is_empty(),
        "yard is in maintenance"
    );

    // Another pass: nothing more to say.
    notifier
        .handle(&json!({"source": "aws.events"}), far_off())
        .await;
    let events = drain(&queue).await;
    assert!(
        events
            .iter()
            .all(|e| !e["detail-type"].as_str().unwrap().starts_with("Fleet")),
        "{events:#?}"
    );

    // Faults are the emulator's, for every caller: the throttled registry comes after.
    a_throttled_registry_holds_no_announcement().await;
}

/// With the registry throttled, a device never announced before is put at once, saying
/// its context is unavailable.
async fn a_throttled_registry_holds_no_announcement() {
    let prefix = format!("rq{}", now_ms() % 1_000_000_000);
    let client = emulator::client();
    let table = emulator::create_table_with_owed_index(&client, "throttled").await;
    let fleet_table = emulator::create_fleet_table(&client, "throttled").await;
    let queue = emulator::announcements_queue(&format!("test.{prefix}")).await;
    register_things(&prefix).await;
    let first = notifier(&prefix, &table, &fleet_table).await;
    let device = format!("{prefix}-roof-3");
    put_device(&table, &device, "Disconnected", now_ms() - 120_000, 2).await;
    // Another was announced with its thing (confirmed), and is back since.
    let known = format!("{prefix}-roof-4");
    put_device(&table, &known, "Disconnected", now_ms() - 120_000, 2).await;
    first
        .handle(&json!({"Records": [modify(&known)]}), far_off())
        .await;
    assert_eq!(drain(&queue).await.len(), 1, "announced with its thing");
    put_device(&table, &known, "Connected", now_ms() - 1_000, 3).await;
    // A new instance: nothing cached.
    let restarted = notifier(&prefix, &table, &fleet_table).await;

    let faults = json!([
        {"service": "iot", "operation": "DescribeThing",
         "error": {"statusCode": 400, "code": "ThrottlingException", "message": "Rate exceeded"}},
        {"service": "iot", "operation": "ListThingGroupsForThing",
         "error": {"statusCode": 400, "code": "ThrottlingException", "message": "Rate exceeded"}}
    ]);
    emulator::chaos("faults", &faults).await;
    let started = Instant::now();
    restarted
        .handle(
            &json!({"Records": [modify(&device), modify(&known)]}),
            far_off(),
        )
        .await;
    let took = started.elapsed();
    emulator::chaos("faults", &json!([])).await;

    let events = drain(&queue).await;
    let disconnected = of_type(&events, "Device Disconnected");
    assert_eq!(disconnected.len(), 1, "{events:#?}");
    assert_eq!(
        disconnected[0]["detail"]["thing"],
        json!({"name": device, "unavailable": true})
    );
    // The one announced before: the thing its confirmed announcement carried.
    let connected = of_type(&events, "Device Connected");
    assert_eq!(connected.len(), 1, "{events:#?}");
    assert_eq!(
        connected[0]["detail"]["thing"],
        json!({"name": known, "type": format!("{prefix}-camera"),
            "attributes": {"site": "north"}, "groups": [format!("{prefix}-roof")]})
    );
    assert!(
        took < Duration::from_secs(10),
        "held {took:?} for its context"
    );
}

/// A fleet table that cannot answer holds a device's Disconnected for a later look (it stays
/// owed, nothing is claimed), so a storm that throttles it does not page its devices one by
/// one; a Disconnected due longer than the hold is announced on its own.
#[tokio::test]
async fn an_unreadable_storm_group_holds_a_disconnect_then_lets_it_go_alone() {
    let prefix = format!("ru{}", now_ms() % 1_000_000_000);
    let client = emulator::client();
    let table = emulator::create_table_with_owed_index(&client, "unreadable").await;
    let queue = emulator::announcements_queue(&format!("test.{prefix}")).await;
    register_things(&prefix).await;
    // A fleet table that does not exist: every read and write of it fails.
    let notifier = notifier(&prefix, &table, &format!("{prefix}-missing-fleet")).await;
    let (just_due, long_due) = (format!("{prefix}-lobby-0"), format!("{prefix}-lobby-1"));
    // The default grace is 60 s: one is due a second ago, one well past the hold.
    put_device(&table, &just_due, "Disconnected", now_ms() - 61_000, 2).await;
    put_device(
        &table,
        &long_due,
        "Disconnected",
        now_ms() - 60_000 - STORM_READ_HOLD_MS - 5_000,
        2,
    )
    .await;

    // Their last announcement knew their group: the registry, which a parallel test
    // throttles, is not needed to place them.
    for device in [&just_due, &long_due] {
        let thing = json!({"name": device, "type": format!("{prefix}-camera"),
            "attributes": {"site": "north"}, "groups": [format!("{prefix}-lobby")]});
        client
            .update_item()
            .table_name(&table)
            .key(attr::CLIENT_ID, AttributeValue::S(device.clone()))
            .update_expression("SET #detail = :detail")
            .expression_attribute_names("#detail", attr::ANNOUNCEMENT_DETAIL)
            .expression_attribute_values(
                ":detail",
                AttributeValue::S(json!({"eventId": "first", "thing": thing}).to_string()),
            )
            .send()
            .await
            .unwrap();
    }

    let batch = json!({"Records": [modify(&just_due), modify(&long_due)]});
    notifier.handle(&batch, far_off()).await;

    let events = drain(&queue).await;
    let disconnected = of_type(&events, "Device Disconnected");
    assert_eq!(
        disconnected.len(),
        1,
        "only the one past the hold: {events:#?}"
    );
    assert_eq!(disconnected[0]["detail"]["clientId"], json!(long_due));
    assert!(disconnected[0]["detail"].get("stormId").is_none());
    let held = client
        .get_item()
        .table_name(&table)
        .key(attr::CLIENT_ID, AttributeValue::S(just_due.clone()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(held.contains_key(attr::OWED_SHARD), "still owed: {held:?}");
    assert_eq!(
        held.get(attr::ANNOUNCED_STATUS),
        Some(&AttributeValue::S("Connected".into())),
        "nothing claimed for it: {held:?}"
    );
}

/// A fleet head's claim or takeover written again by the SDK after its first attempt
/// landed but its answer was lost (an attempt timeout) is still its look's: the look puts
/// the announcement at once instead of leaving it to the reconciler after its lease.
#[tokio::test]
async fn a_fleet_claim_written_again_after_its_answer_was_lost_is_still_its_looks() {
    use iot_connectivity::announcements::storm::{FleetAnnouncement, FleetState, Head};
    let client = emulator::client();
    let fleet = FleetStore::new(
        client.clone(),
        emulator::create_fleet_table(&client, "refleet").await,
    );
    let key = "storm#thing_group#lobby";
    let announcement = FleetAnnouncement {
        state: FleetState::Degraded,
        storm_id: "st-1".into(),
        sequence: 7,
        since: now_ms(),
        peak: 20,
        detail: json!({"stormId": "st-1"}),
    };
    let unclaimed = Head::default();
    assert!(fleet
        .claim(key, "lobby", &unclaimed, &announcement, "look-a")
        .await
        .unwrap());
    assert!(
        fleet
            .claim(key, "lobby", &unclaimed, &announcement, "look-a")
            .await
            .unwrap(),
        "the same look's write again"
    );
    assert!(
        !fleet
            .claim(key, "lobby", &unclaimed, &announcement, "look-b")
            .await
            .unwrap(),
        "another look's claim is refused"
    );
    // A takeover of the pending announcement, retried, likewise.
    let claimed_at = fleet.head(key).await.unwrap().head.claimed_at;
    assert!(fleet.resume(key, claimed_at, "look-c").await.unwrap());
    assert!(
        fleet.resume(key, claimed_at, "look-c").await.unwrap(),
        "the same takeover again"
    );
    assert!(!fleet.resume(key, claimed_at, "look-d").await.unwrap());
}

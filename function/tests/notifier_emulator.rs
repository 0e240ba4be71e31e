//! The notifier's glue against a real AWS API process (see `emulator`): a [`Notifier`]
//! woken by stream records as Lambda delivers them, putting on a real bus whose rule sends
//! to a queue the test reads. A look whose claim has passed its fence puts nothing; an
//! announcement carries its sequence; a removed item last announced Connected gets a final
//! `Device Disconnected` that says why, and one that cannot be put is reported for retry.

mod emulator;

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use iot_connectivity::announcements::notifier::{Notifier, NotifierConfig};
use iot_connectivity::announcements::store::{attr, snapshot_of};
use iot_connectivity::presence::store::Store;
use serde_json::{json, Value};

/// The announcements on `queue` (EventBridge events), as many as arrive within a second.
async fn received(queue: &str) -> Vec<Value> {
    let sqs = aws_sdk_sqs::Client::new(&emulator::sdk_config());
    let mut events = Vec::new();
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        let messages = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        for message in messages.messages() {
            events.push(serde_json::from_str(message.body().unwrap()).unwrap());
        }
    }
    events
}

fn config(table: &str, source: &str, claim_put_deadline: Duration) -> NotifierConfig {
    NotifierConfig {
        table_name: table.to_owned(),
        event_bus_name: "default".into(),
        event_source: source.to_owned(),
        grace_period: Duration::from_secs(60),
        grace_queue_url: "unused: no disconnect waits here".into(),
        item_ttl: None,
        max_concurrent_puts: 2,
        claim_put_deadline,
        metrics: None,
        thing_context: false,
        grace_overrides: Vec::new(),
        fleet_table: None,
        storm: None,
    }
}

/// "dev", Connected since its connect at 5, owed, never announced.
async fn connected_device(table_purpose: &str) -> (String, Store) {
    let client = emulator::client();
    let table = emulator::create_table(&client, table_purpose).await;
    let item = [
        (attr::CLIENT_ID, AttributeValue::S("dev".into())),
        (attr::STATUS, AttributeValue::S("Connected".into())),
        (attr::CONNECT_TIME, AttributeValue::N("5".into())),
        (attr::CONNECT_VERSION, AttributeValue::N("1".into())),
        (attr::REVISION, AttributeValue::N("1".into())),
        (attr::CREATED_TIME, AttributeValue::N("1000".into())),
        (attr::OWED_SHARD, AttributeValue::S("Owed#0".into())),
    ];
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(
            item.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ))
        .send()
        .await
        .unwrap();
    let store = Store::new(client, table.clone(), None);
    (table, store)
}

fn stream_batch(records: Vec<Value>) -> Value {
    json!({ "Records": records })
}

fn modify(client_id: &str) -> Value {
    json!({"eventName": "MODIFY", "eventSource": "aws:dynamodb", "dynamodb": {
        "Keys": {"ClientID": {"S": client_id}}, "SequenceNumber": "100"}})
}

fn far_off() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

/// The fence: a look whose claim is older than the deadline when its put would start gives
/// the claim up instead of putting it; the next look puts it, with its sequence.
#[tokio::test]
async fn a_look_held_past_its_fence_puts_nothing_and_frees_the_claim() {
    let source = format!("test.fence.{}", std::process::id());
    let queue = emulator::announcements_queue(&source).await;
    let (table, store) = connected_device("notifier-fence").await;
    let aws = emulator::sdk_config();

    // Held for longer than its fence allows (the claim's write alone takes longer).
    let slow = Notifier::new(&aws, config(&table, &source, Duration::ZERO));
    slow.handle(&stream_batch(vec![modify("dev")]), far_off())
        .await;
    assert!(
        received(&queue).await.is_empty(),
        "a fenced look puts nothing"
    );
    let item = snapshot_of(&store.get("dev").await.unwrap().unwrap());
    let announced = item.announced.expect("claimed");
    assert!(announced.pending, "still owed, for the next look");
    assert_eq!(
        item.announced_at,
        Some(0),
        "released, not left to its lease"
    );
    let sequence = item.sequence.expect("the claim wrote a sequence");

    let prompt = Notifier::new(&aws, config(&table, &source, Duration::from_secs(45)));
    prompt
        .handle(&stream_batch(vec![modify("dev")]), far_off())
        .await;
    let events = received(&queue).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail-type"], "Device Connected");
    assert_eq!(events[0]["detail"]["eventId"], announced.event_id);
    assert_eq!(
        events[0]["detail"]["sequence"], sequence,
        "kept by the put again"
    );
    let item = snapshot_of(&store.get("dev").await.unwrap().unwrap());
    assert!(
        !item.announced.unwrap().pending && !item.owed,
        "confirmed and settled"
    );
}

/// An announcement claimed before sequences existed (pending across the upgrade) is put with
/// one, written to the item too, so consumers applying by sequence take it.
#[tokio::test]
async fn an_announcement_pending_from_before_sequences_is_put_with_one() {
    let source = format!("test.legacy.{}", std::process::id());
    let queue = emulator::announcements_queue(&source).await;
    let (table, store) = connected_device("notifier-legacy").await;
    let legacy = [
        (attr::ANNOUNCED_STATUS, AttributeValue::S("Connected".into())),
        (attr::ANNOUNCEMENT_ID, AttributeValue::S("legacy-id".into())),
        (attr::ANNOUNCEMENT_PENDING, AttributeValue::Bool(true)),
        (attr::ANNOUNCED_AT, AttributeValue::N("0".into())),
        (
            attr::ANNOUNCEMENT_DETAIL,
            AttributeValue::S(
                json!({"version": "1", "eventId": "legacy-id", "clientId": "dev", "status": "Connected"})
                    .to_string(),
            ),
        ),
    ];
    let mut update = emulator::client()
        .update_item()
        .table_name(&table)
        .key(attr::CLIENT_ID, AttributeValue::S("dev".into()))
        .update_expression(
            "SET AnnouncedStatus = :a, AnnouncementId = :b, AnnouncementPending = :c, AnnouncedAt = :d, AnnouncementDetail = :e",
        );
    for (placeholder, (_, value)) in [":a", ":b", ":c", ":d", ":e"].iter().zip(legacy) {
        update = update.expression_attribute_values(*placeholder, value);
    }
    update.send().await.unwrap();

    let notifier = Notifier::new(
        &emulator::sdk_config(),
        config(&table, &source, Duration::from_secs(45)),
    );
    notifier
        .handle(&stream_batch(vec![modify("dev")]), far_off())
        .await;
    let events = received(&queue).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["detail"]["eventId"], "legacy-id");
    let sequence = events[0]["detail"]["sequence"]
        .as_u64()
        .expect("stamped with a sequence");
    let item = snapshot_of(&store.get("dev").await.unwrap().unwrap());
    assert_eq!(item.sequence, Some(sequence), "and the item keeps it");
}

fn removal(old: &Value, ttl: bool) -> Value {
    let mut record = json!({"eventName": "REMOVE", "eventSource": "aws:dynamodb", "dynamodb": {
        "Keys": {"ClientID": old["ClientID"]}, "OldImage": old, "SequenceNumber": "200"}});
    if ttl {
        record["userIdentity"] =
            json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
    }
    record
}

/// A device whose item is deleted while announced Connected is announced Disconnected,
/// with the reason, ordered after everything its item said; one announced Disconnected
/// is not announced again.
#[tokio::test]
async fn a_removed_item_last_announced_connected_gets_a_final_disconnect() {
    let source = format!("test.farewell.{}", std::process::id());
    let queue = emulator::announcements_queue(&source).await;
    let client = emulator::client();
    let table = emulator::create_table(&client, "notifier-farewell").await;
    let notifier = Notifier::new(
        &emulator::sdk_config(),
        config(&table, &source, Duration::from_secs(45)),
    );
    let connected = json!({"ClientID": {"S": "cam"}, "Status": {"S": "Connected"},
        "ConnectTime": {"N": "5"}, "CreatedTime": {"N": "1000"}, "Revision": {"N": "3"},
        "AnnouncedStatus": {"S": "Connected"}, "AnnouncementId": {"S": "x"},
        "AnnouncementSequence": {"N": "41"}});
    let mut said_disconnected = connected.clone();
    said_disconnected["AnnouncedStatus"] = json!({"S": "Disconnected"});
    said_disconnected["ClientID"] = json!({"S": "gone"});

    let response = notifier
        .handle(
            &stream_batch(vec![
                removal(&connected, false),
                removal(&said_disconnected, true),
            ]),
            far_off(),
        )
        .await;
    assert!(response.batch_item_failures.is_empty());
    let events = received(&queue).await;
    assert_eq!(
        events.len(),
        1,
        "only the one announced Connected: {events:?}"
    );
    let detail = &events[0]["detail"];
    assert_eq!(events[0]["detail-type"], "Device Disconnected");
    assert_eq!(detail["clientId"], "cam");
    assert_eq!(detail["reason"], "ITEM_DELETED");
    assert_eq!(detail["sequence"], 42);

    let expired = notifier
        .handle(&stream_batch(vec![removal(&connected, true)]), far_off())
        .await;
    assert!(expired.batch_item_failures.is_empty());
    let events = received(&queue).await;
    assert_eq!(events[0]["detail"]["reason"], "ITEM_EXPIRED");
    assert_eq!(
        events[0]["detail"]["eventId"], detail["eventId"],
        "one removal, one eventId, however often its record comes"
    );

    // A bus that refuses the put: the record is reported, so Lambda delivers it again.
    let refused = Notifier::new(
        &emulator::sdk_config(),
        NotifierConfig {
            event_bus_name: "no-such-bus".into(),
            ..config(&table, &source, Duration::from_secs(45))
        },
    );
    let response = refused
        .handle(&stream_batch(vec![removal(&connected, false)]), far_off())
        .await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(response.batch_item_failures[0].item_identifier, "200");
}

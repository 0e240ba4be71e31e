//! The counter against a real AWS API process: a table written through the handler's
//! code path (and items removed as TTL would), its status changes turned into the
//! stream records DynamoDB Streams carries (the item after each write is the new image),
//! and those records delivered to the counter as Lambda may: in batches, duplicated,
//! replayed after a failure, two stream shards at once, and late, out of order. The count is read back from
//! the counter shards as the schedule reads it.

mod emulator;

use aws_sdk_dynamodb::types::AttributeValue;
use iot_connectivity::count::counter::{Counter, CounterConfig};
use iot_connectivity::ingest::processor::{Config, Processor};
use iot_connectivity::presence::store::Item;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

const T: i64 = 1_700_000_000_000;
const CLIENTS: usize = 12;

fn image(item: &Item) -> Value {
    let mut image = Map::new();
    for (name, value) in item {
        let value = match value {
            AttributeValue::S(text) => json!({"S": text}),
            AttributeValue::N(number) => json!({"N": number}),
            AttributeValue::Bool(flag) => json!({"BOOL": flag}),
            _ => continue,
        };
        image.insert(name.clone(), value);
    }
    Value::Object(image)
}

fn status(item: Option<&Item>) -> Option<&str> {
    item?.get("Status")?.as_s().ok().map(String::as_str)
}

/// The stream record of a change from `old` to `new`, if the module's filter lets it
/// through to the counter (a status change, a first Connected, a removal).
fn record(client: &str, old: Option<&Item>, new: Option<&Item>, sequence: usize) -> Option<Value> {
    let event_name = match (old, new) {
        (None, Some(_)) if status(new) == Some("Connected") => "INSERT",
        (Some(_), None) => "REMOVE",
        (Some(_), Some(_)) if status(old) != status(new) => "MODIFY",
        _ => return None,
    };
    let mut dynamodb = json!({
        "Keys": {"ClientID": {"S": client}},
        "SequenceNumber": format!("{sequence:021}"),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    });
    if let Some(old) = old {
        dynamodb["OldImage"] = image(old);
    }
    if let Some(new) = new {
        dynamodb["NewImage"] = image(new);
    }
    Some(json!({"eventName": event_name, "eventSource": "aws:dynamodb", "dynamodb": dynamodb}))
}

fn event(kind: &str, client: &str, version: u64, timestamp: i64) -> Value {
    json!({"clientId": client, "eventType": kind, "versionNumber": version, "timestamp": timestamp,
           "sessionIdentifier": "s", "principalIdentifier": "p"})
}

/// Writes a random history through the handler and returns the records of each
/// client's status changes, in the order the table saw them.
async fn history(processor: &Processor, table: &str, seed: u64) -> Vec<(usize, Value)> {
    let client = emulator::client();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut records = Vec::new();
    for step in 0..200usize {
        let index = rng.random_range(0..CLIENTS);
        let client_id = format!("device-{index:02}");
        let key = AttributeValue::S(client_id.clone());
        let old = client
            .get_item()
            .table_name(table)
            .key("ClientID", key.clone())
            .consistent_read(true)
            .send()
            .await
            .expect("get")
            .item;
        let new = match rng.random_range(0..10) {
            // Removed, as TTL removes an item that stayed disconnected.
            0 => {
                client
                    .delete_item()
                    .table_name(table)
                    .key("ClientID", key.clone())
                    .send()
                    .await
                    .expect("delete");
                None
            }
            roll => {
                let kind = if roll <= 5 {
                    "connected"
                } else {
                    "disconnected"
                };
                let timestamp = T + step as i64 * 1_000;
                processor
                    .process(&event(kind, &client_id, step as u64, timestamp))
                    .await
                    .expect("processed");
                client
                    .get_item()
                    .table_name(table)
                    .key("ClientID", key)
                    .consistent_read(true)
                    .send()
                    .await
                    .expect("get")
                    .item
            }
        };
        if let Some(record) = record(&client_id, old.as_ref(), new.as_ref(), step) {
            records.push((index, record));
        }
    }
    records
}

async fn connected_items(table: &str) -> i64 {
    let items = emulator::client()
        .scan()
        .table_name(table)
        .consistent_read(true)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    items
        .iter()
        .filter(|item| status(Some(item)) == Some("Connected"))
        .count() as i64
}

/// One stream shard's records through the counter: batches of up to 10, each record
/// sometimes twice, and now and then the previous batch again (a retried batch).
async fn deliver(counter: &Counter, records: Vec<Value>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut previous: Vec<Value> = Vec::new();
    for chunk in records.chunks(10) {
        let mut batch = Vec::new();
        for record in chunk {
            batch.push(record.clone());
            if rng.random_bool(0.2) {
                batch.push(record.clone());
            }
        }
        if rng.random_bool(0.3) && !previous.is_empty() {
            let replay = counter
                .handle(&json!({"Records": previous}))
                .await
                .expect("replayed batch");
            assert!(replay.batch_item_failures.is_empty());
        }
        let response = counter
            .handle(&json!({"Records": batch}))
            .await
            .expect("batch");
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        previous = batch;
    }
}

#[tokio::test]
async fn the_count_is_exact_under_duplicates_replays_removals_and_two_shards() {
    let client = emulator::client();
    let table = emulator::create_table(&client, "counter").await;
    let counts_table = emulator::create_counts_table(&client, "counter").await;
    let processor = Processor::new(
        client.clone(),
        Config {
            table_name: table.clone(),
            ignored_client_id_prefixes: vec![],
            item_ttl: None,
            record_unknown_connect_failures: false,
            status_index_shards: None,
            announcements: false,
            history: None,
            metrics: None,
        },
    );
    let records = history(&processor, &table, 7).await;
    assert!(
        records.iter().any(|(_, r)| r["eventName"] == "REMOVE"
            && r["dynamodb"]["OldImage"]["Status"]["S"] == "Connected"),
        "the history removes a Connected item"
    );

    // Two shards of clients, each in order, delivered at the same time: their records
    // meet on the counter shards (three of them, to make them meet often).
    let counter = Counter::new(
        client.clone(),
        CounterConfig {
            counts_table,
            shards: 3,
            metrics: None,
        },
    );
    let (even, odd): (Vec<_>, Vec<_>) = records
        .iter()
        .cloned()
        .partition(|(index, _)| index % 2 == 0);
    let strip = |records: Vec<(usize, Value)>| records.into_iter().map(|(_, r)| r).collect();
    tokio::join!(
        deliver(&counter, strip(even), 1),
        deliver(&counter, strip(odd), 2)
    );

    let expected = connected_items(&table).await;
    assert!(expected > 0, "the history leaves some client Connected");
    assert_eq!(counter.publish().await.expect("published"), expected);

    // Every record again, newest first (a late retry, a re-drive): all stale now.
    let late: Vec<Value> = records.into_iter().rev().map(|(_, r)| r).collect();
    counter
        .handle(&json!({ "Records": late }))
        .await
        .expect("late records");
    assert_eq!(counter.publish().await.expect("published"), expected);
}

#[tokio::test]
async fn a_scheduled_event_publishes_the_count() {
    let client = emulator::client();
    let counts_table = emulator::create_counts_table(&client, "schedule").await;
    let counter = Counter::new(
        client,
        CounterConfig {
            counts_table,
            shards: 4,
            metrics: None,
        },
    );
    let connect = |client: &str, revision: u64| {
        json!({"eventName": "INSERT", "eventSource": "aws:dynamodb", "dynamodb": {
            "Keys": {"ClientID": {"S": client}}, "SequenceNumber": "1",
            "NewImage": {"ClientID": {"S": client}, "Status": {"S": "Connected"}, "Revision": {"N": revision.to_string()}}}})
    };
    counter
        .handle(&json!({"Records": [connect("a", 1), connect("b", 1), connect("a", 1)]}))
        .await
        .expect("batch");
    let scheduled = json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
                           "resources": ["arn:aws:events:us-east-1:123456789012:rule/count"], "detail": {}});
    counter.handle(&scheduled).await.expect("published");
    assert_eq!(counter.publish().await.expect("published"), 2);
}

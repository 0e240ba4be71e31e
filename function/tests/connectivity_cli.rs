//! The `connectivity` binary against a real AWS API process: a table with the sharded
//! status index filled through the handler's code path, then get, list, count and
//! redrive as an operator runs them, with only the table's name (the settings are the
//! table's tags, as the module writes them).

mod emulator;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};

use aws_sdk_dynamodb::types::AttributeValue;
use iot_connectivity::ingest::processor::{Config, Processor};
use iot_connectivity::presence::store::{status_shard, status_shard_key};
use iot_connectivity::shared::deployment::{CountsSettings, Settings};
use serde_json::{json, Value};

const T: i64 = 1_700_000_000_000;
const SHARDS: u32 = 4;

fn connectivity(table: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_connectivity"));
    for variable in emulator::SETTINGS_VARIABLES {
        command.env_remove(variable);
    }
    command
        .envs(emulator::child_env())
        .env("TABLE_NAME", table)
        .args(args)
        .output()
        .expect("run connectivity")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

fn event(kind: &str, client: &str, version: u64, timestamp: i64) -> Value {
    json!({"clientId": client, "eventType": kind, "versionNumber": version, "timestamp": timestamp,
           "sessionIdentifier": "s", "principalIdentifier": "p"})
}

/// A table deployed with the status index and a one-hour item TTL (and `counts`, when
/// given), and a processor that writes as its presence function does.
async fn fleet_table_with(purpose: &str, counts: Option<CountsSettings>) -> (String, Processor) {
    let client = emulator::client();
    let table = emulator::create_table_with_status_index(&client, purpose).await;
    let settings = Settings {
        ignored_client_id_prefixes: vec![],
        item_ttl: Some(std::time::Duration::from_secs(3600)),
        record_unknown_connect_failures: true,
        status_index_shards: Some(SHARDS),
        counts,
        announcements: false,
        history: None,
        fleet_table: None,
    };
    emulator::tag_as_deployed(&client, &table, &settings).await;
    let mut config = Config::with_settings(table.clone(), settings);
    config.metrics = None;
    (table, Processor::new(client, config))
}

async fn fleet_table(purpose: &str) -> (String, Processor) {
    fleet_table_with(purpose, None).await
}

#[tokio::test]
async fn presence_writes_keep_the_shard_key_and_connect_failures_leave_it() {
    let (_, processor) = fleet_table("shardkey").await;
    for payload in [
        event("connected", "gw-1", 1, T),
        event("disconnected", "gw-1", 1, T + 1000),
    ] {
        processor.process(&payload).await.unwrap();
    }
    let key = |item: &iot_connectivity::presence::store::Item| item.get("StatusShard").cloned();
    let item = processor.store().get("gw-1").await.unwrap().unwrap();
    let shard = status_shard("gw-1", SHARDS);
    assert_eq!(
        key(&item),
        Some(AttributeValue::S(status_shard_key("Disconnected", shard)))
    );
    assert_eq!(item["Status"], AttributeValue::S("Disconnected".into()));

    // A connect failure never changes Status, so it must not touch the index key either,
    // not even for a client it creates.
    processor
        .process(
            &json!({"clientId": "gw-1", "eventType": "connect_failed", "timestamp": T + 2000,
                          "connectFailureReason": "AUTHORIZATION_FAILED"}),
        )
        .await
        .unwrap();
    let after = processor.store().get("gw-1").await.unwrap().unwrap();
    assert_eq!(key(&after), key(&item));
    processor
        .process(&json!({"clientId": "stranger", "eventType": "connect_failed", "timestamp": T}))
        .await
        .unwrap();
    let stranger = processor.store().get("stranger").await.unwrap().unwrap();
    assert_eq!(key(&stranger), None);
}

#[tokio::test]
async fn get_list_and_count_read_every_shard() {
    let (table, processor) = fleet_table("cli").await;
    let mut connected = BTreeSet::new();
    for i in 0..40 {
        let client = format!("site-{}/gw-{i}", i % 3);
        processor
            .process(&event("connected", &client, 1, T + i))
            .await
            .unwrap();
        if i % 4 == 0 {
            processor
                .process(&event("disconnected", &client, 1, T + 60_000 + i))
                .await
                .unwrap();
        } else {
            connected.insert(client);
        }
    }
    let shards: BTreeSet<u32> = connected.iter().map(|c| status_shard(c, SHARDS)).collect();
    assert_eq!(shards.len(), SHARDS as usize, "the fleet spans every shard");

    let item: Value =
        serde_json::from_str(&stdout(&connectivity(&table, &["get", "site-1/gw-1"]))).unwrap();
    assert_eq!(item["Status"], "Connected");
    assert_eq!(item["ConnectTime"], T + 1);

    let listed: BTreeSet<String> =
        stdout(&connectivity(&table, &["list", "--status", "Connected"]))
            .lines()
            .map(|line| {
                serde_json::from_str::<Value>(line).unwrap()["ClientID"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
    assert_eq!(listed, connected);
    assert_eq!(stdout(&connectivity(&table, &["list"])).lines().count(), 40);

    let counts: BTreeMap<String, u64> =
        serde_json::from_str(&stdout(&connectivity(&table, &["count"]))).unwrap();
    assert_eq!(
        counts,
        BTreeMap::from([("Connected".into(), 30), ("Disconnected".into(), 10)])
    );

    let missing = connectivity(&table, &["get", "nobody"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no item for \"nobody\""));
    let no_table = connectivity("no-such-table", &["count"]);
    assert_eq!(no_table.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_table.stderr).contains("no-such-table"));
}

#[tokio::test]
async fn redrive_applies_events_deletes_them_and_keeps_what_is_not_an_event() {
    let (table, processor) = fleet_table("redrive").await;
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .endpoint_url(emulator::endpoint())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .http_client(iot_connectivity::shared::aws::http_client())
            .build(),
    );
    let queue = sqs
        .create_queue()
        .queue_name(format!("{table}-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let send = |body: Value| {
        let sqs = sqs.clone();
        let queue = queue.clone();
        async move {
            sqs.send_message()
                .queue_url(queue)
                .message_body(body.to_string())
                .send()
                .await
                .unwrap();
        }
    };
    // As Lambda's on-failure destination and the rule's error action write them.
    send(json!({"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": event("connected", "gw-a", 3, T)})).await;
    let encoded = base64_of(&event("connected", "gw-b", 1, T).to_string());
    send(json!({"ruleName": "r", "base64OriginalPayload": encoded})).await;
    send(json!({"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": event("disconnected", "gw-c", 2, T)})).await;
    send(json!({"DDBStreamBatchInfo": {"shardId": "s"}})).await;

    let output = connectivity(
        &table,
        &[
            "redrive",
            "--queue-url",
            &queue,
            "--visibility-timeout",
            "1",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "a kept message is reported by the exit code"
    );
    let counts: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(counts, json!({"redriven": 3, "failed": 0, "kept": 1}));
    for client in ["gw-a", "gw-b"] {
        let item = processor
            .store()
            .get(client)
            .await
            .unwrap()
            .expect("re-driven");
        assert_eq!(item["Status"], AttributeValue::S("Connected".into()));
        assert!(item.contains_key("StatusShard"));
    }
    // Written as the function writes it, with only the table's name: the index key and
    // the TTL of a disconnected item.
    let disconnected = processor
        .store()
        .get("gw-c")
        .await
        .unwrap()
        .expect("re-driven");
    assert_eq!(
        disconnected["StatusShard"],
        AttributeValue::S(status_shard_key(
            "Disconnected",
            status_shard("gw-c", SHARDS)
        ))
    );
    assert!(disconnected.contains_key("ExpiresAt"), "{disconnected:?}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let left = sqs
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(left.len(), 1);
    assert!(left[0].body().unwrap().contains("DDBStreamBatchInfo"));
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A count enabled on a fleet that already exists starts from nothing: `recount` counts
/// every item through the counter's conditional writes, drops tallies of removed items,
/// and corrects nothing the second time.
#[tokio::test]
async fn recount_brings_the_count_in_line_with_the_table() {
    let client = emulator::client();
    let counts_table = emulator::create_counts_table(&client, "recount").await;
    let deployed_counts = CountsSettings {
        table: counts_table.clone(),
        shards: 4,
    };
    let (table, processor) = fleet_table_with("recount", Some(deployed_counts)).await;
    for i in 0..9 {
        let device = format!("gw-{i}");
        processor
            .process(&event("connected", &device, 1, T + i))
            .await
            .unwrap();
        if i % 3 == 0 {
            processor
                .process(&event("disconnected", &device, 1, T + 1_000 + i))
                .await
                .unwrap();
        }
    }
    // The counts table and its shards come from the table's settings.
    let recount = || -> Value {
        let output = connectivity(&table, &["recount"]);
        serde_json::from_str(&stdout(&output)).unwrap()
    };
    let first = recount();
    assert_eq!(first["items"], 9);
    assert_eq!(first["connected"], 6);
    assert_eq!(
        first["corrections"], 6,
        "the Connected devices were not counted yet"
    );

    // A Connected device removed while nothing counted the stream: its tally is an orphan.
    client
        .delete_item()
        .table_name(&table)
        .key("ClientID", AttributeValue::S("gw-1".into()))
        .send()
        .await
        .unwrap();
    let second = recount();
    assert_eq!(second["orphans"], 1);
    assert_eq!(second["connected"], 5);

    let third = recount();
    assert_eq!(
        third["corrections"], 0,
        "an exact count needs no correction"
    );
    assert_eq!(third["connected"], 5);
}

/// Items written before the owed mark existed (or before events were on) are marked when
/// their announcement lags their status, and only those; a table without events refuses.
#[tokio::test]
async fn mark_owed_marks_the_items_whose_announcement_lags() {
    let client = emulator::client();
    let table = emulator::create_table(&client, "mark-owed").await;
    let settings = Settings {
        announcements: true,
        ..Settings::default()
    };
    emulator::tag_as_deployed(&client, &table, &settings).await;
    let item = |id: &str, status: &str, announced: Option<&str>, pending: bool| {
        let mut item = std::collections::HashMap::from([
            ("ClientID".to_owned(), AttributeValue::S(id.into())),
            ("Status".to_owned(), AttributeValue::S(status.into())),
            ("ConnectTime".to_owned(), AttributeValue::N("1".into())),
            ("DisconnectTime".to_owned(), AttributeValue::N("2".into())),
            ("Revision".to_owned(), AttributeValue::N("3".into())),
        ]);
        if let Some(announced) = announced {
            item.insert(
                "AnnouncedStatus".into(),
                AttributeValue::S(announced.into()),
            );
            item.insert("AnnouncementId".into(), AttributeValue::S("id".into()));
        }
        if pending {
            item.insert("AnnouncementPending".into(), AttributeValue::Bool(true));
        }
        // As the sample wrote it: no LastUpdateTime (the owed index's sort key); and an
        // expiry from an earlier settlement.
        item.insert("ExpiresAt".into(), AttributeValue::N("1900000000".into()));
        item
    };
    for item in [
        item("never-announced", "Connected", None, false),
        item("said", "Connected", Some("Connected"), false),
        item("never-online", "Disconnected", None, false),
        item("dropped", "Disconnected", Some("Connected"), false),
        item("pending", "Connected", Some("Connected"), true),
    ] {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let summary: Value =
        serde_json::from_str(&stdout(&connectivity(&table, &["mark-owed"]))).unwrap();
    assert_eq!(summary, json!({"items": 5, "marked": 3}));
    let store = iot_connectivity::presence::store::Store::new(client.clone(), table.clone(), None);
    for (id, owed) in [
        ("never-announced", true),
        ("said", false),
        ("never-online", false),
        ("dropped", true),
        ("pending", true),
    ] {
        let item = store.get(id).await.unwrap().unwrap();
        assert_eq!(item.contains_key("OwedShard"), owed, "{id}");
        if owed {
            // In the owed index, so the reconciler finds it; and it cannot expire while owed.
            assert!(item.contains_key("LastUpdateTime"), "{id} is in the index");
            assert!(
                !item.contains_key("ExpiresAt"),
                "{id} cannot expire while owed"
            );
        }
    }
    let again: Value =
        serde_json::from_str(&stdout(&connectivity(&table, &["mark-owed"]))).unwrap();
    assert_eq!(again["marked"], 0, "marked once");

    let (plain, _) = fleet_table("mark-owed-off").await;
    let refused = connectivity(&plain, &["mark-owed"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("events_enabled is off"));
}

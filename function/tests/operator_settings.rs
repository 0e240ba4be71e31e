//! The operators' CLIs take their settings from the deployment: `replay` given only a
//! table's name writes what the presence function writes (index key, TTL, ignored
//! prefixes); a setting stated otherwise is refused, naming both values; a table that
//! carries no settings gets an error that says how to proceed.

mod emulator;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use iot_connectivity::ingest::processor::{Config, Processor};
use iot_connectivity::presence::store::Item;
use iot_connectivity::shared::deployment::Settings;
use serde_json::{json, Value};

const T: i64 = 1_700_000_000_000;

fn deployed() -> Settings {
    Settings {
        ignored_client_id_prefixes: vec!["iotconsole".into()],
        item_ttl: Some(Duration::from_secs(86_400)),
        record_unknown_connect_failures: false,
        status_index_shards: Some(8),
        counts: None,
        announcements: false,
        history: None,
        fleet_table: None,
    }
}

fn events() -> Vec<Value> {
    let event = |kind: &str, client: &str, version: u64, at: i64| {
        json!({"clientId": client, "eventType": kind, "versionNumber": version, "timestamp": T + at,
               "sessionIdentifier": "s", "principalIdentifier": "p", "disconnectReason": "CLIENT_INITIATED_DISCONNECT"})
    };
    let mut events = Vec::new();
    for i in 0..12 {
        let client = format!("site-{}/gw-{i}", i % 3);
        events.push(event("connected", &client, 1, i));
        if i % 2 == 0 {
            events.push(event("disconnected", &client, 1, 1_000 + i));
        }
    }
    events.push(event("connected", "iotconsole-123", 1, 5));
    events
}

/// Runs a CLI with the emulator's endpoint, `env`, and none of the settings variables an
/// operator's shell might hold.
fn run(binary: &str, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut command = Command::new(binary);
    for variable in emulator::SETTINGS_VARIABLES {
        command.env_remove(variable);
    }
    let mut child = command
        .env_remove("TABLE_NAME")
        .envs(emulator::child_env())
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the CLI");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().expect("the CLI finishes")
}

fn replay(table: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let lines: String = events().iter().map(|event| format!("{event}\n")).collect();
    let mut args = vec!["--table", table];
    args.extend_from_slice(extra);
    run(env!("CARGO_BIN_EXE_replay"), &args, env, &lines)
}

async fn items(client: &aws_sdk_dynamodb::Client, table: &str) -> BTreeMap<String, Item> {
    let output = client
        .scan()
        .table_name(table)
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    output
        .items
        .unwrap_or_default()
        .into_iter()
        .map(|item| {
            let id = item["ClientID"].as_s().unwrap().clone();
            (id, item)
        })
        .collect()
}

/// The item without what depends on when it was written (`ExpiresAt` counts from the
/// write), with whether it has an `ExpiresAt`.
fn comparable(item: &Item) -> (Item, bool) {
    let mut item = item.clone();
    let expires = item.remove("ExpiresAt").is_some();
    (item, expires)
}

#[tokio::test]
async fn replay_with_only_the_table_name_writes_what_the_function_writes() {
    let client = emulator::client();
    let by_function = emulator::create_table_with_status_index(&client, "settings-fn").await;
    let by_replay = emulator::create_table_with_status_index(&client, "settings-replay").await;
    emulator::tag_as_deployed(&client, &by_replay, &deployed()).await;

    // As the presence function writes, configured by the module's environment.
    let mut config = Config::with_settings(by_function.clone(), deployed());
    config.metrics = None;
    let function = Processor::new(client.clone(), config);
    for event in events() {
        function.process(&event).await.unwrap();
    }

    let output = replay(&by_replay, &[], &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = items(&client, &by_function).await;
    let written = items(&client, &by_replay).await;
    assert_eq!(written.len(), 12, "the iotconsole client is ignored");
    assert!(
        written
            .values()
            .all(|item| item.contains_key("StatusShard")),
        "every item is in the index"
    );
    assert_eq!(
        written
            .values()
            .filter(|item| item.contains_key("ExpiresAt"))
            .count(),
        6,
        "every disconnected item expires"
    );
    for (client_id, item) in &expected {
        let (mut written, written_expires) = comparable(&written[client_id]);
        let (mut expected, expected_expires) = comparable(item);
        for item in [&mut written, &mut expected] {
            // The time of the write.
            item.remove("LastUpdateTime");
            item.remove("CreatedTime");
        }
        assert_eq!(written, expected, "{client_id}");
        assert_eq!(written_expires, expected_expires, "{client_id}");
    }
}

#[tokio::test]
async fn a_setting_that_disagrees_with_the_table_is_refused_and_nothing_is_written() {
    let client = emulator::client();
    let table = emulator::create_table_with_status_index(&client, "settings-disagree").await;
    emulator::tag_as_deployed(&client, &table, &deployed()).await;

    let output = replay(&table, &[], &[("STATUS_INDEX_SHARDS", "64")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for part in ["STATUS_INDEX_SHARDS is 64", "deployed with 8", &table] {
        assert!(stderr.contains(part), "{part:?} not in: {stderr}");
    }
    assert!(items(&client, &table).await.is_empty(), "nothing written");

    let output = run(
        env!("CARGO_BIN_EXE_connectivity"),
        &["--table", &table, "--shards", "4", "count"],
        &[],
        "",
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("STATUS_INDEX_SHARDS is 4") && stderr.contains("deployed with 8"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_table_without_settings_gets_an_error_that_says_how_to_proceed() {
    let client = emulator::client();
    let table = emulator::create_table_with_status_index(&client, "settings-untagged").await;

    let output = replay(&table, &[], &[("STATUS_INDEX_SHARDS", "8")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for part in [
        "carries no deployment settings",
        "Upgrade the module",
        "--override-table-settings",
    ] {
        assert!(stderr.contains(part), "{part:?} not in: {stderr}");
    }
    assert!(items(&client, &table).await.is_empty(), "nothing written");

    // Overridden: the environment's settings, said explicitly.
    let output = replay(
        &table,
        &["--override-table-settings"],
        &[
            ("STATUS_INDEX_SHARDS", "8"),
            ("ITEM_TTL_SECONDS", "86400"),
            ("IGNORED_CLIENT_ID_PREFIXES", "iotconsole"),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let written = items(&client, &table).await;
    assert_eq!(written.len(), 12);
    assert!(written
        .values()
        .all(|item| item.contains_key("StatusShard")));
    assert_eq!(
        written
            .get("site-0/gw-0")
            .map(|item| item["Status"].clone()),
        Some(AttributeValue::S("Disconnected".into()))
    );
}

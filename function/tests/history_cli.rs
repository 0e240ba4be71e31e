//! Connectivity history against a real AWS API process: the handler's code path keeps
//! every connect and disconnect once, whatever the delivery; then `connectivity history`,
//! `availability` and `list --for-longer-than` as an operator runs them, with only the
//! table's name.

mod emulator;

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use iot_connectivity::history::report::rfc3339;
use iot_connectivity::ingest::processor::{Config, Processor};
use iot_connectivity::shared::deployment::{HistorySettings, Settings};
use serde_json::{json, Value};

/// 2023-11-14T22:13:20Z.
const T: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

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
           "sessionIdentifier": format!("{client}-{version}"), "principalIdentifier": "p",
           "disconnectReason": "CONNECTION_LOST", "clientInitiatedDisconnect": false})
}

/// A table deployed with the status index and history, and a processor writing as its
/// presence function does.
async fn deployed(purpose: &str, history: bool) -> (Client, String, Option<String>, Processor) {
    let client = emulator::client();
    let table = emulator::create_table_with_status_index(&client, purpose).await;
    let history_table = if history {
        Some(emulator::create_history_table(&client, purpose).await)
    } else {
        None
    };
    let settings = Settings {
        ignored_client_id_prefixes: vec!["iotconsole".into()],
        status_index_shards: Some(4),
        history: history_table.clone().map(|table| HistorySettings {
            table,
            retention: Duration::from_secs(90 * 86_400),
        }),
        ..Settings::default()
    };
    emulator::tag_as_deployed(&client, &table, &settings).await;
    let mut config = Config::with_settings(table.clone(), settings);
    config.metrics = None;
    (
        client.clone(),
        table,
        history_table,
        Processor::new(client, config),
    )
}

/// Every item of a table, each as its sorted attributes.
async fn items(client: &Client, table: &str) -> BTreeSet<String> {
    let output = client.scan().table_name(table).send().await.unwrap();
    output
        .items()
        .iter()
        .map(|item| {
            let mut fields: Vec<String> = item.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            fields.sort();
            fields.join(" ")
        })
        .collect()
}

/// The test fleet over [T, T + 4h):
/// - `gw-a`: up T..T+1h, then again from T+2h (open): 75%;
/// - `gw-b`: up T..T+30m: 12.5%;
/// - `site-1/gw-c`: only a disconnect at T+1h arrived (its connect was lost): 0% of 3h.
fn fleet_history() -> Vec<Value> {
    vec![
        event("connected", "gw-a", 1, T),
        event("disconnected", "gw-a", 1, T + HOUR),
        event("connected", "gw-a", 2, T + 2 * HOUR),
        event("connected", "gw-b", 7, T),
        event("disconnected", "gw-b", 7, T + HOUR / 2),
        event("disconnected", "site-1/gw-c", 5, T + HOUR),
    ]
}

#[tokio::test]
async fn every_event_is_kept_once_whatever_the_delivery() {
    let (client, _, in_order_history, in_order) = deployed("hist-order", true).await;
    let (_, _, shuffled_history, shuffled) = deployed("hist-shuffle", true).await;
    let history = fleet_history();
    for payload in &history {
        in_order.process(payload).await.unwrap();
    }
    // Reversed, every event twice, an ignored client, a malformed event.
    let mut delivery: Vec<Value> = history.iter().rev().cloned().collect();
    delivery.extend(history.iter().cloned());
    delivery.push(event("connected", "iotconsole-123", 1, T));
    delivery.push(json!({"eventType": "connected", "timestamp": "soon"}));
    for payload in &delivery {
        shuffled.process(payload).await.unwrap();
    }
    let (a, b) = (in_order_history.unwrap(), shuffled_history.unwrap());
    let kept = items(&client, &b).await;
    assert_eq!(kept.len(), history.len(), "one item per event: {kept:#?}");
    assert_eq!(items(&client, &a).await, kept, "the same items as in order");
}

#[tokio::test]
async fn history_lists_sessions_with_missing_halves_shown() {
    let (_, table, _, processor) = deployed("hist-cli", true).await;
    for payload in fleet_history().iter().rev() {
        processor.process(payload).await.unwrap();
    }
    let window = [
        "--since".to_owned(),
        rfc3339(T - HOUR),
        "--until".to_owned(),
        rfc3339(T + 4 * HOUR),
    ];
    let args = |client: &'static str, extra: &[&'static str]| -> Vec<String> {
        let mut args = vec!["history".to_owned(), client.to_owned()];
        args.extend(window.iter().cloned());
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        connectivity(&table, &refs)
    };
    let sessions: Vec<Value> = stdout(&run(args("gw-a", &[])))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(sessions.len(), 2, "{sessions:#?}");
    assert_eq!(sessions[0]["connectedAt"], rfc3339(T));
    assert_eq!(sessions[0]["disconnectedAt"], rfc3339(T + HOUR));
    assert_eq!(sessions[0]["durationMs"], HOUR);
    assert_eq!(sessions[0]["disconnectReason"], "CONNECTION_LOST");
    assert_eq!(sessions[1]["state"], "open");
    assert_eq!(sessions[1]["disconnectedAt"], Value::Null);

    let lost: Vec<Value> = stdout(&run(args("site-1/gw-c", &[])))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0]["state"], "connect missing");
    assert_eq!(lost[0]["connectedAt"], Value::Null);

    let table_output = stdout(&run(args("gw-a", &["--format", "table"])));
    assert!(table_output.starts_with("CONNECTED AT"), "{table_output}");
    assert!(table_output.contains("1h"), "{table_output}");

    let unknown = run(args("gw-nobody", &[]));
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no sessions"));

    let bad = connectivity(&table, &["history", "gw-a", "--since", "last tuesday"]);
    assert_eq!(bad.status.code(), Some(2));
    let message = String::from_utf8_lossy(&bad.stderr);
    assert!(
        message.contains("--since") && message.contains("RFC 3339"),
        "{message}"
    );
}

#[tokio::test]
async fn availability_per_device_and_for_the_fleet() {
    let (_, table, _, processor) = deployed("hist-avail", true).await;
    for payload in fleet_history() {
        processor.process(&payload).await.unwrap();
    }
    let (since, until) = (rfc3339(T), rfc3339(T + 4 * HOUR));
    let run = |extra: &[&str]| {
        let mut args = vec!["availability", "--since", &since, "--until", &until];
        args.extend_from_slice(extra);
        connectivity(&table, &args)
    };
    let report: Value =
        serde_json::from_str(&stdout(&run(&["--all", "--format", "json"]))).unwrap();
    let percents: Vec<(String, Value)> = report["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["clientId"].as_str().unwrap().to_owned(),
                d["availabilityPercent"].clone(),
            )
        })
        .collect();
    assert_eq!(
        percents,
        [
            ("gw-a".to_owned(), json!(75.0)),
            ("gw-b".to_owned(), json!(12.5)),
            ("site-1/gw-c".to_owned(), json!(0.0)),
        ]
    );
    assert_eq!(report["fleet"]["devices"], 3);
    assert_eq!(report["fleet"]["p50"], 12.5);
    assert_eq!(report["fleet"]["min"], 0.0);

    let below: Value = serde_json::from_str(&stdout(&run(&[
        "--client", "gw-a", "--client", "gw-b", "--below", "50", "--format", "json",
    ])))
    .unwrap();
    assert_eq!(below["devices"].as_array().unwrap().len(), 1);
    assert_eq!(below["devices"][0]["clientId"], "gw-b");
    assert_eq!(below["fleet"]["belowThreshold"]["devices"], 1);

    let csv = stdout(&run(&["--all", "--format", "csv"]));
    assert_eq!(
        csv.lines().next(),
        Some("client_id,availability_percent,connected_ms,observed_ms,sessions")
    );
    assert!(csv.contains("\"gw-a\",75.000,10800000,14400000,2"), "{csv}");

    let page = std::env::temp_dir().join(format!("{table}.html"));
    stdout(&run(&["--all", "--html", page.to_str().unwrap()]));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("site-1/gw-c") && html.contains("75.0"),
        "the data is in the page"
    );

    let neither = run(&[]);
    assert_eq!(
        neither.status.code(),
        Some(2),
        "--client or --all is required"
    );
    let bad = run(&["--all", "--below", "150"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test]
async fn history_commands_say_when_the_deployment_keeps_none() {
    let (_, table, _, _) = deployed("hist-off", false).await;
    let output = connectivity(&table, &["history", "gw-a"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("history_enabled is off"));
}

#[tokio::test]
async fn list_for_longer_than_reads_only_what_has_not_changed_since() {
    let (_, table, _, processor) = deployed("hist-longer", false).await;
    for client in ["old-1", "old-2"] {
        processor
            .process(&event("disconnected", client, 1, T))
            .await
            .unwrap();
    }
    processor
        .process(&event("connected", "old-up", 1, T))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    processor
        .process(&event("disconnected", "new-1", 1, T))
        .await
        .unwrap();
    let listed = |args: &[&str]| -> BTreeSet<String> {
        stdout(&connectivity(&table, args))
            .lines()
            .map(|line| {
                serde_json::from_str::<Value>(line).unwrap()["ClientID"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(
        listed(&[
            "list",
            "--status",
            "Disconnected",
            "--for-longer-than",
            "2s"
        ]),
        BTreeSet::from(["old-1".to_owned(), "old-2".to_owned()])
    );
    assert_eq!(listed(&["list", "--status", "Disconnected"]).len(), 3);
    assert_eq!(
        listed(&["list", "--status", "Connected", "--for-longer-than", "2s"]),
        BTreeSet::from(["old-up".to_owned()])
    );
    let bad = connectivity(&table, &["list", "--for-longer-than", "a while"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// The status at a window's start when the newest events before it were stamped out of
/// order, and a session whose disconnect is stamped a little after the window's end.
#[tokio::test]
async fn the_edges_of_a_window_are_read_with_the_stamps_error() {
    let (_, table, _, processor) = deployed("hist-edges", true).await;
    let minute = 60_000;
    for payload in [
        // Long before the window: a session whose disconnect is stamped 90 s before its
        // connect. The device has been offline since.
        event("connected", "gw-skewed", 5, T - 10 * HOUR),
        event("disconnected", "gw-skewed", 5, T - 10 * HOUR - 90_000),
        // Inside the window: a session ending just after it, by its stamp.
        event("connected", "gw-late", 2, T + 3 * HOUR),
        event("disconnected", "gw-late", 2, T + 4 * HOUR + minute),
    ] {
        processor.process(&payload).await.unwrap();
    }
    let (since, until) = (rfc3339(T), rfc3339(T + 4 * HOUR));
    let report: Value = serde_json::from_str(&stdout(&connectivity(
        &table,
        &[
            "availability",
            "--since",
            &since,
            "--until",
            &until,
            "--client",
            "gw-skewed",
            "--client",
            "gw-late",
            "--format",
            "json",
        ],
    )))
    .unwrap();
    assert_eq!(
        report["devices"][0]["availabilityPercent"],
        json!(0.0),
        "offline all along: {report}"
    );
    assert_eq!(report["devices"][0]["observedMs"], json!(4 * HOUR));
    assert_eq!(
        report["devices"][1]["availabilityPercent"],
        json!(100.0),
        "{report}"
    );
    let late: Value = serde_json::from_str(
        stdout(&connectivity(
            &table,
            &["history", "gw-late", "--since", &since, "--until", &until],
        ))
        .trim(),
    )
    .unwrap();
    assert_eq!(late["state"], "closed", "its disconnect arrived: {late}");
    assert_eq!(late["disconnectedAt"], rfc3339(T + 4 * HOUR + minute));
}

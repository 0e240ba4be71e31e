//! `replay --concurrency 8` over thousands of interleaved, duplicated events of many
//! clients ends with the same table as a sequential run, and both equal the truth.
//! Events of "hot" clients are delivered back to back, so concurrent invocations for one
//! client really race each other.
//!
//! Size: REPLAY_TEST_CLIENTS clients (default 300) and REPLAY_TEST_SEED (fixed default).

mod emulator;
mod history;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::process::Command;

use aws_sdk_dynamodb::types::AttributeValue;
use history::{client_history, truth, Event, SessionPlan, DAY, HOUR, MAX_SKEW, MINUTE, SECOND};
use iot_connectivity::presence::ordering::{Mark, Presence};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn duration(rng: &mut StdRng) -> i64 {
    let (low, high) = [
        (1, SECOND),
        (SECOND, MINUTE),
        (MINUTE, HOUR),
        (50 * MINUTE, 70 * MINUTE),
        (HOUR, DAY),
        (DAY, 5 * DAY),
    ][rng.random_range(0..6)];
    rng.random_range(low..high)
}

fn session(rng: &mut StdRng) -> SessionPlan {
    SessionPlan {
        offline_before: duration(rng),
        online_for: duration(rng),
        version_skip: if rng.random_bool(0.7) {
            0
        } else {
            rng.random_range(1..50)
        },
        coin: rng.random(),
        connect_skew: rng.random_range(-MAX_SKEW..=MAX_SKEW),
        disconnect_skew: rng.random_range(-MAX_SKEW..=MAX_SKEW),
    }
}

struct Replay {
    lines: Vec<String>,
    history: Vec<Event>,
    skippable: u64,
}

fn generate(clients: usize, seed: u64) -> Replay {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut history = Vec::new();
    for client in 0..clients {
        let sessions: Vec<SessionPlan> = (0..rng.random_range(1..12))
            .map(|_| session(&mut rng))
            .collect();
        history.extend(client_history(client, &sessions, rng.random()));
    }
    let hot_clients = clients / 30;
    let mut delivered: Vec<Event> = history.clone();
    // A quarter delivered twice.
    for _ in 0..history.len() / 4 {
        delivered.push(history[rng.random_range(0..history.len())]);
    }
    delivered.shuffle(&mut rng);
    let (mut hot, cold): (Vec<Event>, Vec<Event>) = delivered
        .into_iter()
        .partition(|event| event.client < hot_clients);
    hot.sort_by_key(|event| event.client);
    let mut lines: Vec<String> = cold
        .iter()
        .map(|event| event.to_json().to_string())
        .collect();
    let hot_lines: Vec<String> = hot
        .iter()
        .map(|event| event.to_json().to_string())
        .collect();
    let at = lines.len() / 2;
    lines.splice(at..at, hot_lines);

    // What must be skipped, anywhere in the stream.
    let mut skippable = 0;
    for client in (0..clients).step_by(10) {
        let subscribed = json!({"clientId": format!("device-{client:04}"), "timestamp": 1,
                                "eventType": "subscribed", "topics": ["t/1"]});
        lines.insert(rng.random_range(0..lines.len()), subscribed.to_string());
        skippable += 1;
    }
    for garbage in [
        "{\"clientId\": \"device-0000\", \"eventType\": \"connected\"}",
        "not json",
    ] {
        lines.insert(rng.random_range(0..lines.len()), garbage.to_owned());
        skippable += 1;
    }
    Replay {
        lines,
        history,
        skippable,
    }
}

fn replay(table: &str, concurrency: u16, file: &std::path::Path) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_replay"))
        .args(["--table", table, "--concurrency", &concurrency.to_string()])
        .arg(file)
        .envs(emulator::child_env())
        .env_remove("TABLE_NAME")
        .output()
        .expect("replay runs");
    assert!(
        output.status.success(),
        "replay failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("replay prints its counts as JSON")
}

type Table = BTreeMap<String, BTreeMap<String, AttributeValue>>;

/// Every item, without the attributes that record when and how often it was written.
async fn scan(client: &aws_sdk_dynamodb::Client, table: &str) -> Table {
    let items: Vec<HashMap<String, AttributeValue>> = client
        .scan()
        .table_name(table)
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .expect("scan");
    items
        .into_iter()
        .map(|mut item| {
            item.remove("LastUpdateTime");
            item.remove("Revision");
            item.remove("CreatedTime");
            let id = item["ClientID"].as_s().unwrap().clone();
            (id, item.into_iter().collect())
        })
        .collect()
}

fn stored_mark(item: &BTreeMap<String, AttributeValue>, presence: Presence) -> Option<Mark> {
    let (version, time) = match presence {
        Presence::Connected => ("ConnectVersionNum", "ConnectTime"),
        Presence::Disconnected => ("DisconnectVersionNum", "DisconnectTime"),
    };
    Some(Mark {
        presence,
        version: item.get(version)?.as_n().unwrap().parse().unwrap(),
        timestamp: item.get(time)?.as_n().unwrap().parse().unwrap(),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_replay_equals_sequential_replay_and_the_truth() {
    let clients = env_or("REPLAY_TEST_CLIENTS", 300);
    let seed = env_or("REPLAY_TEST_SEED", 20_261_126);
    let generated = generate(clients, seed);
    let mut file = tempfile();
    for line in &generated.lines {
        writeln!(file.1, "{line}").unwrap();
    }
    file.1.flush().unwrap();
    eprintln!(
        "replaying {} lines ({} distinct presence events of {clients} clients, seed {seed})",
        generated.lines.len(),
        generated.history.len()
    );

    let dynamodb = emulator::client();
    let sequential_table = emulator::create_table(&dynamodb, "sequential").await;
    let concurrent_table = emulator::create_table(&dynamodb, "concurrent").await;
    // Deployed with the module's defaults: replay reads the settings from the table.
    for table in [&sequential_table, &concurrent_table] {
        emulator::tag_as_deployed(&dynamodb, table, &Default::default()).await;
    }
    let sequential = replay(&sequential_table, 1, &file.0);
    let concurrent = replay(&concurrent_table, 8, &file.0);

    let total = generated.lines.len() as u64;
    for counts in [&sequential, &concurrent] {
        assert_eq!(counts["failed"], 0, "{counts}");
        assert_eq!(counts["skipped"], generated.skippable, "{counts}");
        let sum: u64 = ["applied", "stale", "skipped"]
            .iter()
            .map(|k| counts[k].as_u64().unwrap())
            .sum();
        assert_eq!(sum, total, "{counts}");
    }

    let sequential_items = scan(&dynamodb, &sequential_table).await;
    let concurrent_items = scan(&dynamodb, &concurrent_table).await;
    assert_eq!(sequential_items.len(), clients);
    assert!(
        sequential_items == concurrent_items,
        "concurrent replay diverged from sequential"
    );

    for (client, (latest, presence)) in truth(&generated.history) {
        let item = &concurrent_items[&format!("device-{client:04}")];
        assert_eq!(
            stored_mark(item, Presence::Connected),
            latest.connect,
            "client {client}"
        );
        assert_eq!(
            stored_mark(item, Presence::Disconnected),
            latest.disconnect,
            "client {client}"
        );
        let expected = match presence {
            Presence::Connected => "Connected",
            Presence::Disconnected => "Disconnected",
        };
        assert_eq!(item["Status"].as_s().unwrap(), expected, "client {client}");
    }
    std::fs::remove_file(&file.0).ok();
}

fn tempfile() -> (std::path::PathBuf, std::fs::File) {
    let path = std::env::temp_dir().join(format!("replay-test-{}.jsonl", std::process::id()));
    let file = std::fs::File::create(&path).expect("temp file");
    (path, file)
}

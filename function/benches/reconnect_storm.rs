//! A reconnect storm on the emulator: STORM_CLIENTS (default 100,000) connected clients
//! all disconnect and reconnect within one minute of event time, every tenth event
//! delivered twice, shuffled, applied by `replay --concurrency STORM_CONCURRENCY`
//! (default 64) on a table with the sharded status index. Reports events per second,
//! the share of one-round-trip events and the index spread, then checks every item.
//! Run: cargo bench --bench reconnect_storm   (needs scripts/setup.sh's emulator venv,
//! or AWS_ENDPOINT_URL pointing at a running emulator)

#[path = "../tests/emulator/mod.rs"]
mod emulator;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Command;
use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use iot_connectivity::presence::fleet::{Fleet, STATUS_INDEX};
use iot_connectivity::presence::store::{status_shard, status_shard_key};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const SHARDS: u32 = 32;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn event(kind: &str, client: &str, version: u64, timestamp: i64) -> String {
    json!({"clientId": client, "eventType": kind, "versionNumber": version, "timestamp": timestamp,
           "sessionIdentifier": format!("{client}-{version}"), "principalIdentifier": "p"})
    .to_string()
}

fn replay(table: &str, lines: &[String], concurrency: usize) -> (Value, f64) {
    let path = std::env::temp_dir().join(format!("storm-{table}.jsonl"));
    let mut file = std::fs::File::create(&path).expect("write events");
    for line in lines {
        writeln!(file, "{line}").expect("write event");
    }
    drop(file);
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_replay"))
        .envs(emulator::child_env())
        .args(["--table", table, "--concurrency", &concurrency.to_string()])
        .arg(&path)
        .output()
        .expect("run replay");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        serde_json::from_slice(&output.stdout).expect("replay prints its counts"),
        seconds,
    )
}

fn main() {
    let clients = env_or("STORM_CLIENTS", 100_000);
    let concurrency = env_or("STORM_CONCURRENCY", 64);
    let mut rng = StdRng::seed_from_u64(11);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let client = emulator::client();
    let table = runtime.block_on(emulator::create_table_with_status_index(&client, "storm"));
    // As the module deploys it: replay reads the index's shard count from the table.
    let settings = iot_connectivity::shared::deployment::Settings {
        status_index_shards: Some(SHARDS),
        ..Default::default()
    };
    runtime.block_on(emulator::tag_as_deployed(&client, &table, &settings));
    let names: Vec<String> = (0..clients)
        .map(|i| format!("fleet/site-{}/dev-{i}", i % 97))
        .collect();

    // Before the outage: every client connected, at its own time within the last day.
    let t0: i64 = 1_764_000_000_000;
    let seed: Vec<String> = names
        .iter()
        .map(|name| {
            event(
                "connected",
                name,
                1,
                t0 - rng.random_range(60_000..86_400_000),
            )
        })
        .collect();
    let (seeded, seed_seconds) = replay(&table, &seed, concurrency);
    println!("seeded {clients} connected clients in {seed_seconds:.1} s: {seeded}");

    // The storm: each client drops (version 1) and returns (version 2) within a minute;
    // every tenth event is delivered twice; all of it shuffled.
    let mut storm = Vec::with_capacity(clients * 22 / 10);
    for name in &names {
        let dropped = t0 + rng.random_range(0..30_000);
        let back = dropped + rng.random_range(1_000..30_000);
        for line in [
            event("disconnected", name, 1, dropped),
            event("connected", name, 2, back),
        ] {
            if rng.random_ratio(1, 10) {
                storm.push(line.clone());
            }
            storm.push(line);
        }
    }
    storm.shuffle(&mut rng);
    let (counts, seconds) = replay(&table, &storm, concurrency);
    let events = storm.len() as f64;
    let one = counts["one_round_trip"].as_f64().unwrap_or(0.0);
    println!(
        "storm: {} events for {clients} clients in {seconds:.1} s = {:.0} events/s (replay --concurrency {concurrency})",
        storm.len(),
        events / seconds
    );
    println!("counts: {counts}");
    println!(
        "one-round-trip events: {:.1}% of all; {:.2} DynamoDB requests per event",
        100.0 * one / events,
        counts["round_trips"].as_f64().unwrap_or(0.0) / events
    );

    // Every item: Connected at version 2, in its shard of the index.
    let mut wrong = 0;
    let mut per_shard = BTreeMap::new();
    runtime.block_on(async {
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(&table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan the table");
            for item in page.items() {
                let name = item["ClientID"].as_s().expect("ClientID");
                let shard = status_shard(name, SHARDS);
                let right = item.get("Status") == Some(&AttributeValue::S("Connected".into()))
                    && item.get("ConnectVersionNum") == Some(&AttributeValue::N("2".into()))
                    && item.get("StatusShard")
                        == Some(&AttributeValue::S(status_shard_key("Connected", shard)));
                if !right {
                    wrong += 1;
                }
                *per_shard.entry(shard).or_insert(0u64) += 1;
            }
            match page.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        let fleet = Fleet::new(
            client.clone(),
            table.clone(),
            STATUS_INDEX.to_owned(),
            SHARDS,
        );
        let counted = fleet.count().await.expect("count through the index")["Connected"];
        println!("the index lists {counted} connected clients over {SHARDS} shards");
        assert_eq!(
            counted as usize, clients,
            "the index counts every client once"
        );
    });
    let (least, most) = (
        per_shard.values().min().unwrap(),
        per_shard.values().max().unwrap(),
    );
    println!(
        "index spread: {least} to {most} clients per shard (ideal {}); at 16,700 reconnects/s a shard takes {:.0} index writes/s",
        clients as u32 / SHARDS,
        2.0 * 16_700.0 * *most as f64 / clients as f64
    );
    assert_eq!(wrong, 0, "{wrong} items are not right after the storm");
    println!("every item is right: {clients} Connected at version 2");
}

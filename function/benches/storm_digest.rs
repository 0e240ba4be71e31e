//! A storm on the emulator: STORM_DEVICES (default 10,000) things of one thing group,
//! announced Connected earlier with their thing's context, all disconnected and past their
//! grace period; reconcile passes as deployed (each stops starting looks 52 s in) until
//! nothing is owed, with `storm_digest = {threshold: STORM_THRESHOLD (default 100),
//! window_seconds: 600, group_by: thing_group}` and thing_context_enabled. Reports the time
//! from the first pass's start (every disconnect already due) to the group's `Fleet
//! Connectivity Degraded` confirmed, the thing registry calls (the emulator's counts), the
//! announcements that named the storm, and the process's peak memory.
//! Run: cargo bench --bench storm_digest   (needs scripts/setup.sh's emulator venv, or
//! AWS_ENDPOINT_URL pointing at a running emulator).

#[path = "../tests/emulator/mod.rs"]
mod emulator;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use iot_connectivity::announcements::fleet_store::FleetStore;
use iot_connectivity::announcements::notifier::{Notifier, NotifierConfig, Outcome};
use iot_connectivity::announcements::store::attr;
use iot_connectivity::announcements::storm::{FleetState, StormConfig};
use iot_connectivity::presence::store::owed_shard_key;
use serde_json::{json, Value};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The process's peak resident memory (VmHWM), in MiB.
fn peak_memory_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The emulator's count of thing registry calls so far.
async fn registry_calls() -> u64 {
    let address = emulator::endpoint()
        .trim_start_matches("http://")
        .to_owned();
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut socket = std::net::TcpStream::connect(&address).expect("emulator reachable");
        write!(
            socket,
            "GET /_emulator/calls HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        socket.read_to_string(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("{}");
    let counts: Value = serde_json::from_str(body).unwrap_or_default();
    counts["iot"]
        .as_object()
        .map_or(0, |ops| ops.values().filter_map(Value::as_u64).sum())
}

/// A device down past its grace, announced Connected earlier with its thing's context.
fn down_item(client_id: &str, group: &str, now_ms: i64) -> HashMap<String, AttributeValue> {
    let n = |value: i64| AttributeValue::N(value.to_string());
    let announced = json!({"eventId": "earlier", "status": "Connected", "sequence": 1,
        "thing": {"name": client_id, "type": "camera", "attributes": {}, "groups": [group]}});
    [
        (attr::CLIENT_ID, AttributeValue::S(client_id.to_owned())),
        (attr::STATUS, AttributeValue::S("Disconnected".into())),
        (attr::CONNECT_TIME, n(now_ms - 600_000)),
        (attr::CONNECT_VERSION, n(1)),
        (attr::DISCONNECT_TIME, n(now_ms - 120_000)),
        (attr::DISCONNECT_VERSION, n(1)),
        (attr::DISCONNECT_RECORDED_AT, n(now_ms - 120_000)),
        (attr::REVISION, n(2)),
        (attr::CREATED_TIME, n(now_ms - 86_400_000)),
        (attr::LAST_UPDATE_TIME, n(now_ms - 120_000)),
        (
            attr::ANNOUNCED_STATUS,
            AttributeValue::S("Connected".into()),
        ),
        (attr::ANNOUNCEMENT_ID, AttributeValue::S("earlier".into())),
        (attr::ANNOUNCEMENT_SEQUENCE, n(1)),
        (
            attr::ANNOUNCEMENT_DETAIL,
            AttributeValue::S(announced.to_string()),
        ),
        (
            attr::OWED_SHARD,
            AttributeValue::S(owed_shard_key(client_id)),
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

#[tokio::main]
async fn main() {
    let devices = env_or("STORM_DEVICES", 10_000);
    let threshold = env_or("STORM_THRESHOLD", 100);
    let dynamodb = emulator::client();
    let table = emulator::create_table_with_owed_index(&dynamodb, "storm").await;
    let fleet_table = emulator::create_fleet_table(&dynamodb, "storm").await;
    let now_ms = iot_connectivity::shared::time::now_ms();
    let group = format!("bench-site-{}", now_ms % 1_000_000);
    let clients: Vec<String> = (0..devices).map(|i| format!("{group}-{i:05}")).collect();

    // The registry: the group and its things (what a lookup finds).
    let iot = aws_sdk_iot::Client::new(&emulator::sdk_config());
    iot.create_thing_group()
        .thing_group_name(&group)
        .send()
        .await
        .unwrap();
    let registered = clients.chunks(50).map(|chunk| {
        let iot = iot.clone();
        let group = group.clone();
        async move {
            for client in chunk {
                iot.create_thing().thing_name(client).send().await.unwrap();
                iot.add_thing_to_thing_group()
                    .thing_group_name(&group)
                    .thing_name(client)
                    .send()
                    .await
                    .unwrap();
            }
        }
    });
    futures::future::join_all(registered).await;
    let writes = clients.chunks(25).map(|chunk| {
        let requests = chunk
            .iter()
            .map(|client| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(down_item(client, &group, now_ms)))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        let (dynamodb, table) = (dynamodb.clone(), table.clone());
        async move {
            dynamodb
                .batch_write_item()
                .request_items(table, requests)
                .send()
                .await
                .expect("fixture written")
        }
    });
    futures::future::join_all(writes).await;
    eprintln!("storm_digest: {devices} devices of {group} down in {table}");

    let memory_before = peak_memory_mib();
    let calls_before = registry_calls().await;
    let storm = format!(
        r#"{{"threshold": {threshold}, "window_seconds": 600, "group_by": "thing_group"}}"#
    );
    let notifier = Notifier::new(
        &emulator::sdk_config(),
        NotifierConfig {
            table_name: table.clone(),
            event_bus_name: "default".into(),
            event_source: "bench.storm".into(),
            grace_period: Duration::from_secs(60),
            grace_queue_url: "unused".into(),
            item_ttl: None,
            max_concurrent_puts: 8,
            claim_put_deadline: Duration::from_secs(45),
            metrics: None,
            thing_context: true,
            grace_overrides: Vec::new(),
            fleet_table: Some(fleet_table.clone()),
            storm: Some(StormConfig::parse(&storm).unwrap()),
        },
    );
    let fleet = FleetStore::new(dynamodb.clone(), fleet_table);
    let key = format!("storm#thing_group#{group}");
    let started = Instant::now();
    // Watches the group's head for the Degraded being confirmed.
    let watcher = {
        let (fleet, key) = (fleet.clone(), key.clone());
        tokio::spawn(async move {
            loop {
                let stored = fleet.head(&key).await.unwrap();
                if stored.head.state == Some(FleetState::Degraded) && !stored.head.pending {
                    return started.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut announced = 0;
    let mut passes = 0;
    loop {
        passes += 1;
        let pass = Instant::now();
        let summary = notifier
            .reconcile(Instant::now() + Duration::from_secs(52))
            .await;
        announced += summary.get(&Outcome::Announced).copied().unwrap_or(0);
        eprintln!(
            "storm_digest: pass {passes}: {summary:?} in {:.1} s",
            pass.elapsed().as_secs_f64()
        );
        if summary.values().sum::<usize>() == 0 || passes == 20 {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let to_degraded = tokio::time::timeout(Duration::from_secs(1), watcher)
        .await
        .ok()
        .and_then(Result::ok);
    let stored = fleet.head(&key).await.unwrap();
    let report = json!({
        "devices": devices,
        "threshold": threshold,
        "secondsToDegraded": to_degraded.map(|d| (d.as_secs_f64() * 10.0).round() / 10.0),
        "secondsToAnnounceAll": (seconds * 10.0).round() / 10.0,
        "passes": passes - 1,
        "announced": announced,
        "registryCalls": registry_calls().await - calls_before,
        "membersDown": fleet.member_count(&key).await.unwrap(),
        "stormState": stored.head.state.map(FleetState::name),
        "peakMemoryMiB": (peak_memory_mib() * 10.0).round() / 10.0,
        "peakMemoryBeforeNotifierMiB": (memory_before * 10.0).round() / 10.0,
    });
    println!("{report}");
    assert_eq!(announced, devices, "every device announced once");
    assert!(to_degraded.is_some(), "the storm was announced Degraded");
}

//! A mass outage's backlog on the emulator: OWED_DEVICES (default 10,000) devices that
//! came back online while EventBridge was down, each owing its `Device Connected`, and
//! reconcile passes as deployed (each stops starting looks 52 s in: a 60 s timeout less
//! the 8 s margin) until nothing is owed. Reports the passes, the time, announcements per
//! second, and the process's peak memory (the notifier runs in this process; the bench's
//! own fixture adds a little), then checks every item was announced once and settled.
//! Run: cargo bench --bench owed_backlog   (needs scripts/setup.sh's emulator venv, or
//! AWS_ENDPOINT_URL pointing at a running emulator). MAX_CONCURRENT_PUTS (default 8) is
//! the module's announcement_max_concurrent_puts.

#[path = "../tests/emulator/mod.rs"]
mod emulator;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use iot_connectivity::announcements::notifier::{Notifier, NotifierConfig, Outcome};
use iot_connectivity::announcements::store::attr;
use iot_connectivity::presence::store::{owed_key, owed_shard_key};
use serde_json::json;

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

/// A device back online, owed its announcement: as a presence write leaves it.
fn owed_item(client_id: &str, now_ms: i64) -> HashMap<String, AttributeValue> {
    let n = |value: i64| AttributeValue::N(value.to_string());
    [
        (attr::CLIENT_ID, AttributeValue::S(client_id.to_owned())),
        (attr::STATUS, AttributeValue::S("Connected".into())),
        (attr::CONNECT_TIME, n(now_ms - 60_000)),
        (attr::CONNECT_VERSION, n(2)),
        (attr::DISCONNECT_TIME, n(now_ms - 600_000)),
        (attr::DISCONNECT_VERSION, n(1)),
        (attr::REVISION, n(3)),
        (attr::CREATED_TIME, n(now_ms - 86_400_000)),
        (attr::LAST_UPDATE_TIME, n(now_ms - 60_000)),
        (
            attr::ANNOUNCED_STATUS,
            AttributeValue::S("Disconnected".into()),
        ),
        (attr::ANNOUNCEMENT_ID, AttributeValue::S("earlier".into())),
        (attr::ANNOUNCEMENT_SEQUENCE, n(now_ms - 500_000)),
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
    let devices = env_or("OWED_DEVICES", 10_000);
    let concurrency = env_or("MAX_CONCURRENT_PUTS", 8);
    let dynamodb = emulator::client();
    let table = emulator::create_table_with_owed_index(&dynamodb, "owed-backlog").await;
    let now_ms = iot_connectivity::shared::time::now_ms();
    let clients: Vec<String> = (0..devices)
        .map(|i| format!("site-{}/dev-{i}", i % 97))
        .collect();
    let writes = clients.chunks(25).map(|chunk| {
        let requests = chunk
            .iter()
            .map(|client| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(owed_item(client, now_ms)))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        let dynamodb = dynamodb.clone();
        let table = table.clone();
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
    eprintln!("owed_backlog: {devices} owed devices in {table}");

    let memory_before = peak_memory_mib();
    let notifier = Notifier::new(
        &emulator::sdk_config(),
        NotifierConfig {
            table_name: table.clone(),
            event_bus_name: "default".into(),
            event_source: "bench.owed-backlog".into(),
            grace_period: Duration::from_secs(60),
            grace_queue_url: "unused".into(),
            item_ttl: None,
            max_concurrent_puts: concurrency,
            claim_put_deadline: Duration::from_secs(45),
            metrics: None,
            thing_context: false,
            grace_overrides: Vec::new(),
            fleet_table: None,
            storm: None,
        },
    );
    let started = Instant::now();
    let mut announced = 0;
    let mut passes = 0;
    loop {
        passes += 1;
        let pass = Instant::now();
        let summary = notifier
            .reconcile(Instant::now() + Duration::from_secs(52))
            .await;
        let this_pass = summary.get(&Outcome::Announced).copied().unwrap_or(0);
        announced += this_pass;
        eprintln!(
            "owed_backlog: pass {passes}: {summary:?} in {:.1} s",
            pass.elapsed().as_secs_f64()
        );
        if summary.values().sum::<usize>() == 0 || passes == 10 {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_memory_mib();

    // Every device announced and settled: nothing left in the owed index.
    let mut left = 0;
    for shard in 0..iot_connectivity::presence::store::OWED_SHARDS {
        left += dynamodb
            .query()
            .table_name(&table)
            .index_name("ByAnnouncementOwed")
            .key_condition_expression("#o = :k")
            .expression_attribute_names("#o", attr::OWED_SHARD)
            .expression_attribute_values(":k", AttributeValue::S(owed_key(shard)))
            .select(aws_sdk_dynamodb::types::Select::Count)
            .send()
            .await
            .unwrap()
            .count;
    }
    let report = json!({
        "devices": devices,
        "maxConcurrentPuts": concurrency,
        "passes": passes - 1,
        "seconds": (seconds * 10.0).round() / 10.0,
        "announcementsPerSecond": (announced as f64 / seconds).round(),
        "announced": announced,
        "leftOwed": left,
        "peakMemoryMiB": (peak * 10.0).round() / 10.0,
        "peakMemoryBeforeNotifierMiB": (memory_before * 10.0).round() / 10.0,
    });
    println!("{report}");
    assert_eq!(announced, devices, "every owed device announced once");
    assert_eq!(left, 0, "nothing owed after the passes");
}

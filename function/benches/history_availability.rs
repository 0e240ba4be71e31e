//! Fleet availability on the emulator: HISTORY_DEVICES devices (default 10,000) with
//! HISTORY_DAYS days (default 30) of sessions, HISTORY_EVENTS_PER_DAY events a day each
//! (default 10: five sessions), written to a history table; then
//! `connectivity availability --all` over the window, as an operator runs it. Reports the
//! time, the requests and the read units per device, and the CLI's peak memory.
//! Run: cargo bench --bench history_availability   (needs scripts/setup.sh's emulator
//! venv, or AWS_ENDPOINT_URL pointing at a running emulator)

#[path = "../tests/emulator/mod.rs"]
mod emulator;

use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::stream::{self, StreamExt};
use iot_connectivity::history::report::rfc3339;
use iot_connectivity::history::sessions::HistoryEvent;
use iot_connectivity::presence::ordering::Presence;
use iot_connectivity::shared::deployment::{HistorySettings, Settings};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DAY: i64 = 86_400_000;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One device's events: sessions spread over the days, versions counting up.
fn device_events(rng: &mut StdRng, start: i64, days: usize, per_day: usize) -> Vec<HistoryEvent> {
    let sessions = days * per_day / 2;
    let span = days as i64 * DAY;
    let mut times: Vec<i64> = (0..sessions * 2)
        .map(|_| start + rng.random_range(0..span))
        .collect();
    times.sort_unstable();
    times
        .chunks(2)
        .enumerate()
        .flat_map(|(version, pair)| {
            [Presence::Connected, Presence::Disconnected]
                .into_iter()
                .zip(pair)
                .map(move |(presence, &timestamp)| HistoryEvent {
                    presence,
                    timestamp,
                    version: version as u64,
                    session_identifier: Some(format!("s-{version}")),
                    disconnect_reason: (presence == Presence::Disconnected)
                        .then(|| "CONNECTION_LOST".to_owned()),
                    client_initiated: (presence == Presence::Disconnected).then_some(false),
                })
        })
        .collect()
}

fn main() {
    let devices = env_or("HISTORY_DEVICES", 10_000);
    let days = env_or("HISTORY_DAYS", 30);
    let per_day = env_or("HISTORY_EVENTS_PER_DAY", 10);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let client = emulator::client();
    let (table, history_table) = runtime.block_on(async {
        let table = emulator::create_table(&client, "bench-avail").await;
        let history_table = emulator::create_history_table(&client, "bench-avail").await;
        let settings = Settings {
            history: Some(HistorySettings {
                table: history_table.clone(),
                retention: Duration::from_secs(90 * 86_400),
            }),
            ..Settings::default()
        };
        emulator::tag_as_deployed(&client, &table, &settings).await;
        (table, history_table)
    });
    let store = iot_connectivity::history::store::HistoryStore::new(
        client.clone(),
        history_table.clone(),
        Duration::from_secs(90 * 86_400),
    );
    let until = 1_800_000_000_000i64;
    let since = until - days as i64 * DAY;

    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(20);
    let mut requests: Vec<(String, WriteRequest)> = Vec::new();
    for device in 0..devices {
        let client_id = format!("site-{}/device-{device:06}", device % 50);
        // The status table's item: `--all` reports the devices the table knows.
        let status = std::collections::HashMap::from([
            ("ClientID".to_owned(), AttributeValue::S(client_id.clone())),
            (
                "Status".to_owned(),
                AttributeValue::S("Disconnected".to_owned()),
            ),
        ]);
        requests.push((
            table.clone(),
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(status))
                        .build()
                        .unwrap(),
                )
                .build(),
        ));
        for event in device_events(&mut rng, since, days, per_day) {
            let item = store.item_of(&client_id, &event);
            requests.push((
                history_table.clone(),
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                    .build(),
            ));
        }
    }
    let events = requests.len() - devices;
    let batches: Vec<Vec<(String, WriteRequest)>> =
        requests.chunks(25).map(<[_]>::to_vec).collect();
    runtime.block_on(stream::iter(batches).for_each_concurrent(16, |batch| {
        let client = &client;
        async move {
            let mut by_table: std::collections::HashMap<String, Vec<WriteRequest>> =
                std::collections::HashMap::new();
            for (table, request) in batch {
                by_table.entry(table).or_default().push(request);
            }
            let mut pending = Some(by_table);
            while let Some(items) = pending.take().filter(|items| !items.is_empty()) {
                let output = client
                    .batch_write_item()
                    .set_request_items(Some(items))
                    .send()
                    .await
                    .expect("batch write");
                pending = output.unprocessed_items;
            }
        }
    }));
    eprintln!(
        "wrote {events} events of {devices} devices in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let output = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("peak-rss-kib=%M")
        .arg(env!("CARGO_BIN_EXE_connectivity"))
        .envs(emulator::child_env())
        .args([
            "--table",
            &table,
            "availability",
            "--all",
            "--format",
            "json",
        ])
        .args(["--since", &rfc3339(since), "--until", &rfc3339(until)])
        .output()
        .expect("run connectivity");
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "connectivity failed: {stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let reported = report["devices"].as_array().map_or(0, Vec::len);
    assert_eq!(reported, devices, "every device is reported");
    let summary = stderr
        .lines()
        .find(|line| line.contains("devices from"))
        .unwrap_or_default();
    let number_before = |marker: &str| -> f64 {
        summary
            .split(marker)
            .next()
            .and_then(|head| head.split_whitespace().last())
            .and_then(|n| n.trim_start_matches('(').parse().ok())
            .unwrap_or(f64::NAN)
    };
    let (requests, read_units) = (number_before(" requests"), number_before(" read units"));
    let peak = stderr
        .lines()
        .find_map(|line| line.strip_prefix("peak-rss-kib="))
        .and_then(|kib| kib.trim().parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    println!("availability of {devices} devices over {days} days ({events} events):");
    println!(
        "  time                {seconds:.1} s ({:.2} ms per device)",
        1000.0 * seconds / devices as f64
    );
    println!(
        "  requests            {requests} ({:.4} per device)",
        requests / devices as f64
    );
    println!(
        "  read units          {read_units:.1} ({:.3} per device)",
        read_units / devices as f64
    );
    println!("  peak memory         {:.0} MiB", peak / 1024.0);
    println!("  fleet               {}", report["fleet"]);
}

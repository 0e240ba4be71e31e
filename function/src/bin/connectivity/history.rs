//! `connectivity history` and `connectivity availability`: sessions and uptime read from
//! the history table (history_enabled), computed by `iot_connectivity::history::sessions`.

use std::io::IsTerminal;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use futures::StreamExt;
use iot_connectivity::history::report::{self, report_of, DeviceReport};
use iot_connectivity::history::sessions::distribution;
use iot_connectivity::history::store::HistoryStore;
use iot_connectivity::presence::store::{attr, StoreError};

use crate::{Failure, Progress};

/// How sessions are written.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SessionFormat {
    Json,
    Table,
}

/// How a listing is written.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Csv,
    Table,
}

/// The window `[since, until)` in ms, from the flags, or a clear error.
pub fn window(since: &str, until: Option<&str>, now_ms: i64) -> Result<(i64, i64), Failure> {
    let since = report::parse_when(since, now_ms).map_err(|err| format!("--since: {err}"))?;
    // Nothing is known of the future: a later --until is read as now.
    let until = match until {
        Some(until) => report::parse_when(until, now_ms)
            .map_err(|err| format!("--until: {err}"))?
            .min(now_ms),
        None => now_ms,
    };
    if since >= until {
        return Err(format!(
            "--since ({}) must be before --until ({})",
            report::rfc3339(since),
            report::rfc3339(until)
        )
        .into());
    }
    Ok((since, until))
}

/// One device's report over the window, and the requests and read units it took.
async fn device(
    store: &HistoryStore,
    client_id: &str,
    since: i64,
    until: i64,
) -> Result<(DeviceReport, u64, f64), StoreError> {
    let read = store.client_events(client_id, since, until).await?;
    Ok((
        report_of(client_id.to_owned(), read.events, since, until),
        read.requests,
        read.read_units,
    ))
}

/// `connectivity history`: whether the device had any history in the window.
pub async fn history(
    store: &HistoryStore,
    client_id: &str,
    since: i64,
    until: i64,
    format: Option<SessionFormat>,
) -> Result<bool, Failure> {
    let (device, _, _) = device(store, client_id, since, until).await?;
    if device.sessions.is_empty() {
        eprintln!(
            "connectivity: {} holds no sessions of {client_id:?} from {} to {}",
            store.table(),
            report::rfc3339(since),
            report::rfc3339(until)
        );
        return Ok(false);
    }
    match format.unwrap_or(if std::io::stdout().is_terminal() {
        SessionFormat::Table
    } else {
        SessionFormat::Json
    }) {
        SessionFormat::Table => print!("{}", report::sessions_table(&device.sessions)),
        SessionFormat::Json => {
            for session in &device.sessions {
                println!("{}", report::session_json(client_id, session));
            }
        }
    }
    Ok(true)
}

pub struct AvailabilityRequest {
    pub since: i64,
    pub until: i64,
    pub clients: Vec<String>,
    pub below: Option<f64>,
    pub format: Format,
    pub html: Option<std::path::PathBuf>,
}

/// Every client ID of the status table: one Scan reading only the key. With `--all`,
/// the devices reported are the fleet the table knows.
async fn all_clients(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Vec<String>, Failure> {
    let mut clients = Vec::new();
    let mut progress = Progress::new("devices listed");
    let mut items = dynamodb
        .scan()
        .table_name(table)
        .projection_expression("#client")
        .expression_attribute_names("#client", attr::CLIENT_ID)
        .into_paginator()
        .items()
        .send();
    while let Some(item) = items.next().await {
        let item = item.map_err(|err| format!("Scan of {table}: {}", DisplayErrorContext(err)))?;
        if let Some(client) = item.get(attr::CLIENT_ID).and_then(|v| v.as_s().ok()) {
            clients.push(client.clone());
            progress.tick();
        }
    }
    progress.done();
    clients.sort();
    Ok(clients)
}

/// Devices read at once: enough to hide the round trips, few enough for any table.
const CONCURRENT_DEVICES: usize = 16;

/// `connectivity availability`: per device, then the fleet's distribution.
pub async fn availability_report(
    dynamodb: &aws_sdk_dynamodb::Client,
    status_table: &str,
    store: &HistoryStore,
    request: AvailabilityRequest,
) -> Result<bool, Failure> {
    let AvailabilityRequest {
        since,
        until,
        clients,
        below,
        format,
        html,
    } = request;
    let started = std::time::Instant::now();
    let clients = if clients.is_empty() {
        all_clients(dynamodb, status_table).await?
    } else {
        clients
    };
    let mut progress = Progress::new("devices read");
    let mut reads = futures::stream::iter(&clients)
        .map(|client| device(store, client, since, until))
        .buffered(CONCURRENT_DEVICES);
    let (mut devices, mut requests, mut read_units) = (Vec::new(), 0, 0.0);
    while let Some(read) = reads.next().await {
        let (device, used, units) = read?;
        devices.push(device);
        requests += used;
        read_units += units;
        progress.tick();
    }
    progress.done();
    let percents: Vec<Option<f64>> = devices.iter().map(|d| d.availability.percent()).collect();
    let fleet = distribution(&percents);
    let listed: Vec<&DeviceReport> = devices
        .iter()
        .filter(|device| {
            below.is_none_or(|threshold| {
                device
                    .availability
                    .percent()
                    .is_some_and(|percent| percent < threshold)
            })
        })
        .collect();
    let below_count = below.map(|threshold| (threshold, listed.len()));
    match format {
        Format::Json => {
            let document = serde_json::json!({
                "since": report::rfc3339(since),
                "until": report::rfc3339(until),
                "devices": listed.iter().map(|d| report::availability_json(d)).collect::<Vec<_>>(),
                "fleet": report::distribution_json(&fleet, below_count),
            });
            println!("{document}");
        }
        Format::Csv => print!("{}", report::availability_csv(&listed)),
        Format::Table => {
            print!("{}", report::availability_table(&listed));
            println!("fleet: {}", report::distribution_json(&fleet, below_count));
        }
    }
    if let Some(path) = html {
        let all: Vec<&DeviceReport> = devices.iter().collect();
        let title = format!("Connectivity availability: {}", store.table());
        std::fs::write(&path, report::html(&title, since, until, &all, &fleet))
            .map_err(|err| format!("writing {}: {err}", path.display()))?;
        eprintln!("connectivity: wrote {}", path.display());
    }
    eprintln!(
        "connectivity: {} devices from {} requests ({read_units:.1} read units) in {:.1} s",
        devices.len(),
        requests,
        started.elapsed().as_secs_f64()
    );
    Ok(true)
}

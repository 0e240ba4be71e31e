//! `connectivity history` and `connectivity availability`: sessions and uptime read from
//! the history table (history_enabled), computed by `iot_connectivity::history`.

use std::io::IsTerminal;

use iot_connectivity::history::{availability, distribution, in_order, sessions, Session};
use iot_connectivity::history_store::HistoryStore;
use iot_connectivity::report::{self, DeviceReport};

use crate::{Failure, Progress};

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
    let until = match until {
        Some(until) => {
            report::parse_when(until, now_ms).map_err(|err| format!("--until: {err}"))?
        }
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

/// The sessions that overlap the window: those ending in it or after, starting before its
/// end. A session without an end (open, or its disconnect missing) counts as ending at
/// the next session's start, or now.
fn overlapping(all: Vec<Session>, since: i64, until: i64) -> Vec<Session> {
    let starts: Vec<Option<i64>> = all
        .iter()
        .map(|s| s.connected_at.or(s.disconnected_at))
        .collect();
    all.into_iter()
        .enumerate()
        .filter(|(i, session)| {
            let start = starts[*i].unwrap_or(i64::MIN);
            let end = session
                .disconnected_at
                .or_else(|| starts.get(i + 1).copied().flatten())
                .unwrap_or(i64::MAX);
            end >= since && start < until
        })
        .map(|(_, session)| session)
        .collect()
}

/// One device's report over the window.
async fn device(
    store: &HistoryStore,
    client_id: &str,
    since: i64,
    until: i64,
) -> Result<(DeviceReport, u64), Failure> {
    let (events, requests) = store.client_events(client_id, since, until).await?;
    Ok((
        report_of(client_id.to_owned(), events, since, until),
        requests,
    ))
}

fn report_of(
    client_id: String,
    events: Vec<iot_connectivity::history::HistoryEvent>,
    since: i64,
    until: i64,
) -> DeviceReport {
    let ordered = in_order(events);
    DeviceReport {
        availability: availability(&ordered, since, until),
        sessions: overlapping(sessions(&ordered), since, until),
        client_id,
    }
}

/// `connectivity history`: whether the device had any history in the window.
pub async fn history(
    store: &HistoryStore,
    client_id: &str,
    since: i64,
    until: i64,
    format: Option<Format>,
) -> Result<bool, Failure> {
    let (device, _) = device(store, client_id, since, until).await?;
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
        Format::Table
    } else {
        Format::Json
    }) {
        Format::Table => print!("{}", report::sessions_table(&device.sessions)),
        Format::Json => {
            for session in &device.sessions {
                println!("{}", report::session_json(client_id, session));
            }
        }
        Format::Csv => return Err("history is written as json or table, not csv".into()),
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

/// `connectivity availability`: per device, then the fleet's distribution.
pub async fn availability_report(
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
    let (devices, requests, read_units) = if clients.is_empty() {
        let progress = std::sync::Mutex::new(Progress::new("history events read"));
        let fleet = store
            .fleet_events(since, until, 4, |read| {
                progress.lock().expect("not poisoned").set(read)
            })
            .await?;
        progress.lock().expect("not poisoned").done();
        let devices: Vec<DeviceReport> = fleet
            .events
            .into_iter()
            .map(|(client, events)| report_of(client, events, since, until))
            .collect();
        (devices, fleet.requests, Some(fleet.read_units))
    } else {
        let mut devices = Vec::new();
        let mut requests = 0;
        for client in &clients {
            let (device, used) = device(store, client, since, until).await?;
            devices.push(device);
            requests += used;
        }
        (devices, requests, None)
    };
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
        "connectivity: {} devices from {} requests{} in {:.1} s",
        devices.len(),
        requests,
        read_units.map_or(String::new(), |units| format!(" ({units:.1} read units)")),
        started.elapsed().as_secs_f64()
    );
    Ok(true)
}

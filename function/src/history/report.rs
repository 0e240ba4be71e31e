//! How the `connectivity` CLI reads times and shows history and availability: durations
//! back from now or RFC 3339 times in; JSON, CSV, aligned tables and one self-contained
//! HTML page out. Pure: no I/O.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::history::sessions::{
    availability, in_order, sessions, Availability, Distribution, HistoryEvent, Session,
};

/// A `--since` or `--until`: a duration back from `now_ms` (`7d`, `6h`, `90m`) or an
/// RFC 3339 time (`2026-11-01T00:00:00Z`).
pub fn parse_when(text: &str, now_ms: i64) -> Result<i64, String> {
    if let Ok(ago) = parse_duration(text) {
        return Ok(now_ms.saturating_sub(i64::try_from(ago.as_millis()).unwrap_or(i64::MAX)));
    }
    humantime::parse_rfc3339_weak(text)
        .map_err(|_| {
            format!("{text:?} is neither a duration back from now (7d, 6h, 30m) nor an RFC 3339 time (2026-11-01T00:00:00Z)")
        })
        .and_then(|time| {
            time.duration_since(UNIX_EPOCH)
                .map(|since| since.as_millis() as i64)
                .map_err(|_| format!("{text:?} is before 1970"))
        })
}

/// A duration such as `6h`, `7d` or `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|err| format!("{text:?} is not a duration such as 6h, 7d or 1h30m: {err}"))
}

/// Milliseconds since the epoch as an RFC 3339 time in UTC, to the second.
pub fn rfc3339(ms: i64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
        .to_string()
}

/// A duration to the second, largest units first: `2days 3h 4m 5s`.
pub fn duration_text(ms: i64) -> String {
    humantime::format_duration(Duration::from_secs((ms.max(0) / 1000) as u64)).to_string()
}

/// One device's sessions and availability over the report's window.
#[derive(Debug, Clone)]
pub struct DeviceReport {
    pub client_id: String,
    pub sessions: Vec<Session>,
    pub availability: Availability,
}

/// The sessions that overlap the window: those ending in it or after, starting before its
/// end. A session without an end (open, or its disconnect missing) counts as ending at
/// the next session's start, or now.
pub fn overlapping(all: Vec<Session>, since: i64, until: i64) -> Vec<Session> {
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

/// A device's report over `[since, until)` from its stored events, in any order.
pub fn report_of(
    client_id: String,
    events: Vec<HistoryEvent>,
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

/// One session as JSON: times in RFC 3339 and ms, the halves that never arrived as null.
pub fn session_json(client_id: &str, session: &Session) -> Value {
    json!({
        "clientId": client_id,
        "connectedAt": session.connected_at.map(rfc3339),
        "disconnectedAt": session.disconnected_at.map(rfc3339),
        "durationMs": session.duration_ms(),
        "disconnectReason": session.disconnect_reason,
        "clientInitiatedDisconnect": session.client_initiated_disconnect,
        "versionNumber": session.version_number,
        "sessionIdentifier": session.session_identifier,
        "state": session_state(session),
    })
}

/// `closed`, `open` (still connected), `disconnect missing` or `connect missing`.
pub fn session_state(session: &Session) -> &'static str {
    match (session.connected_at, session.disconnected_at) {
        (Some(_), Some(_)) => "closed",
        (None, _) => "connect missing",
        (Some(_), None) if session.superseded => "disconnect missing",
        (Some(_), None) => "open",
    }
}

/// Sessions as an aligned table, for a terminal.
pub fn sessions_table(sessions: &[Session]) -> String {
    let rows: Vec<[String; 5]> = sessions
        .iter()
        .map(|session| {
            [
                session.connected_at.map_or("-".into(), rfc3339),
                session.disconnected_at.map_or("-".into(), rfc3339),
                session.duration_ms().map_or("-".into(), duration_text),
                session
                    .disconnect_reason
                    .clone()
                    .unwrap_or_else(|| "-".into()),
                session_state(session).into(),
            ]
        })
        .collect();
    aligned(
        &[
            "CONNECTED AT",
            "DISCONNECTED AT",
            "DURATION",
            "REASON",
            "STATE",
        ],
        &rows,
    )
}

/// A device's availability as JSON.
pub fn availability_json(device: &DeviceReport) -> Value {
    json!({
        "clientId": device.client_id,
        "availabilityPercent": device.availability.percent().map(round3),
        "connectedMs": device.availability.connected_ms,
        "observedMs": device.availability.observed_ms,
        "sessions": device.sessions.len(),
    })
}

/// Devices' availability as CSV (RFC 4180 quoting), a header line first.
pub fn availability_csv(devices: &[&DeviceReport]) -> String {
    // RFC 4180: CRLF line breaks.
    let mut out =
        String::from("client_id,availability_percent,connected_ms,observed_ms,sessions\r\n");
    for device in devices {
        let quoted = format!("\"{}\"", device.client_id.replace('"', "\"\""));
        let _ = write!(
            out,
            "{quoted},{},{},{},{}\r\n",
            device
                .availability
                .percent()
                .map_or(String::new(), |p| format!("{:.3}", p)),
            device.availability.connected_ms,
            device.availability.observed_ms,
            device.sessions.len()
        );
    }
    out
}

/// Devices' availability as an aligned table, for a terminal.
pub fn availability_table(devices: &[&DeviceReport]) -> String {
    let rows: Vec<[String; 4]> = devices
        .iter()
        .map(|device| {
            [
                device.client_id.clone(),
                device
                    .availability
                    .percent()
                    .map_or("-".into(), |p| format!("{p:.3}%")),
                duration_text(device.availability.connected_ms),
                device.sessions.len().to_string(),
            ]
        })
        .collect();
    aligned(
        &["CLIENT ID", "AVAILABILITY", "CONNECTED", "SESSIONS"],
        &rows,
    )
}

/// The fleet's distribution as JSON.
pub fn distribution_json(distribution: &Distribution, below: Option<(f64, usize)>) -> Value {
    let mut value = serde_json::to_value(distribution).expect("plain data");
    for key in ["min", "p1", "p5", "p50", "mean"] {
        if let Some(number) = value[key].as_f64() {
            value[key] = json!(round3(number));
        }
    }
    if let Some((threshold, count)) = below {
        value["belowThreshold"] = json!({ "percent": threshold, "devices": count });
    }
    value
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

fn aligned<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(padded.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// One self-contained page (no network fetches): a timeline of sessions per device and
/// the fleet's availability distribution, drawn by the page's own script from the data
/// embedded in it.
pub fn html(
    title: &str,
    since: i64,
    until: i64,
    devices: &[&DeviceReport],
    distribution: &Distribution,
) -> String {
    let data = json!({
        "title": title,
        "since": since,
        "until": until,
        "sinceText": rfc3339(since),
        "untilText": rfc3339(until),
        "distribution": distribution_json(distribution, None),
        "devices": devices.iter().map(|device| json!({
            "clientId": device.client_id,
            "availabilityPercent": device.availability.percent().map(round3),
            "sessions": device.sessions.iter().map(|session| json!([
                session.connected_at, session.disconnected_at, session_state(session)
            ])).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    // The JSON sits in a script element: '<' escaped, so no text in it can close it.
    let data = data.to_string().replace('<', "\\u003c");
    PAGE.replace("{{TITLE}}", &escape_html(title))
        .replace("{{DATA}}", &data)
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const PAGE: &str = include_str!("report.html");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_durations_back_from_now_or_rfc3339() {
        let now = 1_800_000_000_000;
        assert_eq!(parse_when("6h", now), Ok(now - 6 * 3_600_000));
        assert_eq!(parse_when("7d", now), Ok(now - 7 * 86_400_000));
        assert_eq!(
            parse_when("2026-11-01T00:00:00Z", now),
            Ok(1_793_491_200_000)
        );
        let err = parse_when("yesterday", now).unwrap_err();
        assert!(err.contains("RFC 3339") && err.contains("7d"), "{err}");
        assert_eq!(rfc3339(1_793_491_200_000), "2026-11-01T00:00:00Z");
        assert_eq!(duration_text(3_723_500), "1h 2m 3s");
    }

    #[test]
    fn csv_quotes_client_ids_and_leaves_unknown_availability_empty() {
        let device = DeviceReport {
            client_id: "site-1/\"gw\"".into(),
            sessions: vec![],
            availability: Availability::default(),
        };
        assert_eq!(
            availability_csv(&[&device]).lines().nth(1),
            Some("\"site-1/\"\"gw\"\"\",,0,0,0")
        );
    }

    #[test]
    fn the_page_fetches_nothing_and_its_data_cannot_close_its_script() {
        let device = DeviceReport {
            client_id: "</script><script>alert(1)</script>".into(),
            sessions: vec![],
            availability: Availability::default(),
        };
        let page = html(
            "fleet",
            0,
            1,
            &[&device],
            &crate::history::sessions::distribution(&[None]),
        );
        assert_eq!(page.matches("</script>").count(), 2, "only the page's own");
        for fetch in ["http://", "https://", "src=", "@import", "url("] {
            assert!(!page.contains(fetch), "{fetch}");
        }
    }
}

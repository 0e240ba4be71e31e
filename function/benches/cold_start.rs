//! Cold start: time from exec of the `bootstrap` binary to its first request to the
//! Lambda Runtime API (GET .../invocation/next), against a local stand-in that accepts
//! the connection. Everything the function does at start (config, SDK clients) counts.
//! Also its peak resident memory by then (VmHWM), against the 128 MB default.
//! Run: cargo bench --bench cold_start
//!   COLD_START_RUNS     runs per role (default 50)
//!   COLD_START_ROLES    comma-separated roles (default presence,notifier,counter)
//!   COLD_START_BINARY   another binary to start instead, e.g. an older release's
//!                       per-function binary (scripts/bench-package.sh)

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What each role reads at start, as the module configures it.
fn role_environment(role: &str) -> &'static [(&'static str, &'static str)] {
    match role {
        "presence" => &[("TABLE_NAME", "DeviceConnectivity")],
        "notifier" => &[
            ("TABLE_NAME", "DeviceConnectivity"),
            ("EVENT_BUS_NAME", "default"),
            ("EVENT_SOURCE", "iot.device-connectivity"),
            ("GRACE_PERIOD_SECONDS", "60"),
            (
                "GRACE_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/123456789012/grace",
            ),
        ],
        "counter" => &[
            ("COUNTS_TABLE_NAME", "DeviceConnectivity-counts"),
            ("COUNTER_SHARDS", "64"),
        ],
        other => panic!("unknown role {other:?}: presence, notifier or counter"),
    }
}

fn main() {
    // cargo passes --bench; nothing else to parse.
    let runs: usize = std::env::var("COLD_START_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(50);
    let roles =
        std::env::var("COLD_START_ROLES").unwrap_or_else(|_| "presence,notifier,counter".into());
    let binary = std::env::var("COLD_START_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_bootstrap").to_owned());
    for role in roles.split(',') {
        let mut samples = Vec::with_capacity(runs);
        let mut peak_kib = 0;
        for _ in 0..runs {
            let (elapsed, resident_kib) = time_to_first_request(&binary, role);
            samples.push(elapsed);
            peak_kib = peak_kib.max(resident_kib);
        }
        samples.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{role}: cold start of {binary} ({runs} runs): min {:.2} ms, median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
            ms(samples[0]),
            ms(samples[runs / 2]),
            ms(samples[runs * 9 / 10]),
            ms(samples[runs - 1]),
        );
        println!(
            "{role}: peak resident memory at the first request: {:.1} MiB",
            peak_kib as f64 / 1024.0
        );
    }
}

/// Time to the first request, and the process's peak resident memory (KiB) by then.
fn time_to_first_request(bootstrap: &str, role: &str) -> (Duration, u64) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    let started = Instant::now();
    let mut child = Command::new(bootstrap)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "cold-start")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("_HANDLER", role)
        .envs(role_environment(role).iter().copied())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_SESSION_TOKEN", "testing")
        .stdout(Stdio::null())
        // Killed once it asked for an invocation: what it says about that is noise here.
        .stderr(Stdio::null())
        .spawn()
        .expect("start bootstrap");
    let (stream, _) = listener.accept().expect("bootstrap connects");
    let mut request_line = String::new();
    BufReader::new(stream)
        .read_line(&mut request_line)
        .expect("read request line");
    let elapsed = started.elapsed();
    assert!(
        request_line.starts_with("GET /2018-06-01/runtime/invocation/next"),
        "unexpected first request: {request_line:?}"
    );
    let resident_kib = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0);
    child.kill().ok();
    child.wait().ok();
    (elapsed, resident_kib)
}

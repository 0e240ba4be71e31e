//! The `bootstrap` binary itself under a local Lambda Runtime API (tools/local_lambda.py)
//! against the emulator: what an invocation answers for stored, stale, skipped and
//! unstorable events, that it fails to start without its configuration, and that the one
//! binary runs each role its `_HANDLER` names and refuses any other.

mod emulator;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// Invokes the presence role once per payload; returns each invocation's result object.
fn invoke(env: &[(&str, &str)], payloads: &[Value]) -> (bool, Vec<Value>) {
    let (ok, results, _) = invoke_logged(env, payloads);
    (ok, results)
}

/// Like [`invoke`], also returning the lines the bootstrap wrote.
fn invoke_logged(env: &[(&str, &str)], payloads: &[Value]) -> (bool, Vec<Value>, Vec<String>) {
    invoke_role("presence", env, payloads)
}

/// Invokes the bootstrap with `handler` as its `_HANDLER`: whether the runtime ran to the
/// end, each invocation's result object and the lines it wrote.
fn invoke_role(
    handler: &str,
    env: &[(&str, &str)],
    payloads: &[Value],
) -> (bool, Vec<Value>, Vec<String>) {
    let mut command = Command::new(emulator::python());
    command
        .arg(emulator::tool("local_lambda.py"))
        .args(["--bootstrap", env!("CARGO_BIN_EXE_bootstrap")])
        .args(["--handler", handler])
        .envs(emulator::child_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.args(["--env", &format!("{key}={value}")]);
    }
    let mut child = command.spawn().expect("local_lambda.py runs");
    let mut stdin = child.stdin.take().expect("piped stdin");
    for payload in payloads {
        writeln!(stdin, "{payload}").unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().expect("local_lambda.py finishes");
    let results = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON result per line"))
        .collect();
    let logs = String::from_utf8(output.stderr)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (output.status.success(), results, logs)
}

#[tokio::test]
async fn invocations_answer_with_the_outcome() {
    let client = emulator::client();
    let table = emulator::create_table(&client, "bootstrap").await;
    let connected = json!({"clientId": "dev-1", "timestamp": 1000, "eventType": "connected", "versionNumber": 0});
    let (ok, results) = invoke(
        &[
            ("TABLE_NAME", &table),
            ("IGNORED_CLIENT_ID_PREFIXES", "iotconsole"),
        ],
        &[
            connected.clone(),
            connected,
            json!({"clientId": "iotconsole-1", "timestamp": 1, "eventType": "connected", "versionNumber": 0}),
            json!({"clientId": "dev-1", "eventType": "connected"}),
        ],
    );
    assert!(ok);
    let outcomes: Vec<&Value> = results.iter().map(|r| &r["response"]["outcome"]).collect();
    assert_eq!(
        outcomes,
        [
            &json!("applied"),
            &json!("stale"),
            &json!("skipped"),
            &json!("skipped")
        ]
    );
}

/// A write that cannot be stored is an invocation error, so Lambda retries the event and
/// then sends it to the failure destination; its errorType is stable for alarms.
#[tokio::test]
async fn an_unstorable_event_is_an_invocation_error() {
    let (ok, results) = invoke(
        &[("TABLE_NAME", "no-such-table")],
        &[
            json!({"clientId": "dev-1", "timestamp": 1000, "eventType": "connected", "versionNumber": 0}),
        ],
    );
    assert!(ok, "the runtime keeps running after a failed invocation");
    assert_eq!(results.len(), 1);
    let error = &results[0]["error"];
    assert_eq!(error["errorType"], "StoreError.DynamoDb", "{error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("no-such-table"),
        "{error}"
    );
}

#[test]
fn without_a_table_name_the_function_does_not_start() {
    let (ok, results) = invoke(
        &[("TABLE_NAME", "")],
        &[
            json!({"clientId": "dev-1", "timestamp": 1, "eventType": "connected", "versionNumber": 0}),
        ],
    );
    assert!(!ok, "local_lambda.py reports the failed start");
    assert!(results.is_empty());
}

/// Lambda files a JSON line under its `level` only when it also has a valid RFC 3339
/// `timestamp`; otherwise the line is INFO and `log_level = "WARN"` would drop it.
#[tokio::test]
async fn every_log_line_has_a_level_and_an_rfc3339_timestamp() {
    let client = emulator::client();
    let table = emulator::create_table(&client, "bootstrap-logs").await;
    let (ok, _, logs) = invoke_logged(
        &[("TABLE_NAME", &table), ("AWS_LAMBDA_LOG_LEVEL", "DEBUG")],
        &[
            json!({"clientId": "dev-1", "timestamp": 1000, "eventType": "connected", "versionNumber": 0}),
            json!({"clientId": "dev-1", "eventType": "connected"}),
        ],
    );
    assert!(ok);
    let lines: Vec<Value> = logs
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(lines.len() >= 2, "{logs:?}");
    for line in &lines {
        let level = line["level"].as_str().unwrap_or_default();
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
            "{line}"
        );
        let timestamp = line["timestamp"].as_str().unwrap_or_default();
        assert!(
            is_rfc3339(timestamp),
            "timestamp {timestamp:?} is not RFC 3339: {line}"
        );
    }
    let processed = lines
        .iter()
        .find(|line| line["message"] == "lifecycle event processed")
        .expect("the processed line");
    assert_eq!(
        processed["clientId"], "dev-1",
        "event fields at the top level"
    );
}

/// RFC 3339, as the AWS SDK parses `date-time` timestamps.
fn is_rfc3339(text: &str) -> bool {
    use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
    DateTime::from_str(text, DateTimeFormat::DateTime).is_ok()
}

/// A DynamoDB endpoint that accepts connections and never answers: the SDK's timeouts end
/// the call well inside the invocation's time, with a typed error Lambda retries, instead
/// of the function running into its own timeout (local_lambda.py gives it 30 s).
#[test]
fn a_stalled_dynamodb_call_ends_in_a_typed_error_within_the_sdk_timeouts() {
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", stalled.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for connection in stalled.incoming() {
            held.push(connection); // read nothing, answer nothing
        }
    });
    let (ok, results) = invoke(
        &[("TABLE_NAME", "stalled"), ("AWS_ENDPOINT_URL", &endpoint)],
        &[
            json!({"clientId": "dev-1", "timestamp": 1000, "eventType": "connected", "versionNumber": 0}),
        ],
    );
    assert!(ok, "the runtime answered instead of being timed out");
    assert_eq!(
        results[0]["error"]["errorType"], "StoreError.DynamoDb",
        "{results:?}"
    );
}

/// The notifier role answers a stream batch with `batchItemFailures`; a record it cannot
/// read is logged and skipped, not retried.
#[test]
fn the_notifier_role_answers_stream_batches() {
    let (ok, results, logs) = invoke_role(
        "notifier",
        &[
            ("TABLE_NAME", "unused"),
            ("EVENT_BUS_NAME", "default"),
            ("EVENT_SOURCE", "iot.device-connectivity"),
            ("GRACE_PERIOD_SECONDS", "0"),
            ("GRACE_QUEUE_URL", "http://127.0.0.1:1/queue/unused"),
        ],
        &[json!({"Records": [{"eventSource": "aws:dynamodb", "dynamodb": {}}]})],
    );
    assert!(ok, "{logs:?}");
    assert_eq!(
        results[0]["response"],
        json!({"batchItemFailures": []}),
        "{results:?}"
    );
    assert!(
        logs.iter()
            .any(|line| line.contains("stream record without a ClientID key")),
        "{logs:?}"
    );
}

/// The counter role publishes the count on its schedule's event.
#[tokio::test]
async fn the_counter_role_publishes_the_count_on_its_schedule() {
    let client = emulator::client();
    let counts = emulator::create_counts_table(&client, "bootstrap-counter").await;
    let (ok, results, logs) = invoke_role(
        "counter",
        &[("COUNTS_TABLE_NAME", &counts), ("COUNTER_SHARDS", "4")],
        &[json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})],
    );
    assert!(ok, "{logs:?}");
    assert_eq!(results[0]["response"], json!({"batchItemFailures": []}));
    let published: Value = logs
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["message"] == "connected devices")
        .unwrap_or_else(|| panic!("no count logged: {logs:?}"));
    assert_eq!(published["connected"], 0, "{published}");
}

/// A handler that names no role stops the start, with an error naming the accepted ones
/// (Lambda reports it as Runtime.ExitError on the first invocation).
#[test]
fn an_unknown_handler_refuses_to_start() {
    for handler in ["bootstrap", ""] {
        let (ok, results, logs) = invoke_role(
            handler,
            &[("TABLE_NAME", "unused")],
            &[
                json!({"clientId": "dev-1", "timestamp": 1, "eventType": "connected", "versionNumber": 0}),
            ],
        );
        assert!(!ok, "started with _HANDLER={handler:?}");
        assert!(results.is_empty());
        assert!(
            logs.iter().any(|line| line.contains("cannot start")
                && line.contains("presence, notifier, counter")
                && line.contains(&format!("\\\"{handler}\\\""))),
            "{logs:?}"
        );
    }
}

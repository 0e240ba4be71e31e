//! The `bootstrap` binary itself under a local Lambda Runtime API (tools/local_lambda.py)
//! against the emulator: what an invocation answers for stored, stale, skipped and
//! unstorable events, and that it fails to start without its configuration.

mod emulator;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// Invokes the bootstrap once per payload; returns each invocation's result object.
fn invoke(env: &[(&str, &str)], payloads: &[Value]) -> (bool, Vec<Value>) {
    let (ok, results, _) = invoke_logged(env, payloads);
    (ok, results)
}

/// Like [`invoke`], also returning the lines the bootstrap wrote.
fn invoke_logged(env: &[(&str, &str)], payloads: &[Value]) -> (bool, Vec<Value>, Vec<String>) {
    let mut command = Command::new(emulator::python());
    command
        .arg(emulator::tool("local_lambda.py"))
        .args(["--bootstrap", env!("CARGO_BIN_EXE_bootstrap")])
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

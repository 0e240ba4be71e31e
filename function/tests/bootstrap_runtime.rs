//! The `bootstrap` binary itself under a local Lambda Runtime API (tools/local_lambda.py)
//! against the emulator: what an invocation answers for stored, stale, skipped and
//! unstorable events, and that it fails to start without its configuration.

mod emulator;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// Invokes the bootstrap once per payload; returns each invocation's result object.
fn invoke(env: &[(&str, &str)], payloads: &[Value]) -> (bool, Vec<Value>) {
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
    (output.status.success(), results)
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

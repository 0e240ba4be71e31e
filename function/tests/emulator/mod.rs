//! The AWS API these tests talk to: the endpoint in AWS_ENDPOINT_URL when set (the test
//! command starts one emulator for every suite), otherwise a private emulator process
//! (tools/emulator.py, moto) started on a free loopback port for this test binary. It
//! exits with the test process.

// Each test binary that includes this module uses a different part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("function/ has a parent")
        .to_path_buf()
}

/// The Python with the project's tools (scripts/setup.sh installs it).
pub fn python() -> PathBuf {
    std::env::var_os("EMULATOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository_root().join(".tools/venv/bin/python"))
}

/// A script of tools/.
pub fn tool(name: &str) -> PathBuf {
    repository_root().join("tools").join(name)
}

/// The emulator's address, and the process, kept for the life of the test binary.
fn start_emulator() -> (String, Child) {
    let python = python();
    let mut child = Command::new(&python)
        .arg(tool("emulator.py"))
        .args(["--port", "0", "--exit-with-parent"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "cannot start the emulator with {}: {err}. Run scripts/setup.sh first, or set \
                 AWS_ENDPOINT_URL to a running one.",
                python.display()
            )
        });
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("emulator prints its address");
    let address = line
        .trim()
        .strip_prefix("emulator listening on ")
        .unwrap_or_else(|| panic!("unexpected emulator output: {line:?}"))
        .to_owned();
    (address, child)
}

/// The endpoint of the AWS API under test.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<(String, Option<Child>)> = OnceLock::new();
    let (address, _emulator) = ENDPOINT.get_or_init(|| match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let (address, child) = start_emulator();
            (address, Some(child))
        }
    });
    address
}

/// The environment a child process (replay, bootstrap) needs to reach the same API.
pub fn child_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint().to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
    ]
}

/// A client for this test's runtime (SDK clients must not outlive the runtime they ran in).
pub fn client() -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .http_client(iot_connectivity::shared::aws::http_client())
        .build();
    Client::from_conf(config)
}

/// Creates a table with the module's key schema, named uniquely for this run.
pub async fn create_table(client: &Client, purpose: &str) -> String {
    create_table_with(client, purpose, false).await
}

/// Creates a table with the module's key schema and its status index (`ByStatusShard`
/// on StatusShard and LastUpdateTime, all attributes projected).
pub async fn create_table_with_status_index(client: &Client, purpose: &str) -> String {
    create_table_with(client, purpose, true).await
}

fn attribute(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .expect("valid attribute definition")
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("valid key schema")
}

/// Creates a table with the module's key schema and its owed-announcements index
/// (`ByAnnouncementOwed` on OwedShard and LastUpdateTime, keys only), as events_enabled does.
pub async fn create_table_with_owed_index(client: &Client, purpose: &str) -> String {
    create_table_with_index(
        client,
        purpose,
        Some(("ByAnnouncementOwed", "OwedShard", ProjectionType::KeysOnly)),
    )
    .await
}

async fn create_table_with(client: &Client, purpose: &str, status_index: bool) -> String {
    let index = status_index.then_some(("ByStatusShard", "StatusShard", ProjectionType::All));
    create_table_with_index(client, purpose, index).await
}

/// A table with the module's key schema and, optionally, a global secondary index
/// `(name, hash key)` sorted by LastUpdateTime.
async fn create_table_with_index(
    client: &Client,
    purpose: &str,
    index: Option<(&str, &str, ProjectionType)>,
) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let name = format!("test-{purpose}-{nanos}");
    let mut request = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("ClientID", ScalarAttributeType::S))
        .key_schema(key("ClientID", KeyType::Hash));
    if let Some((index, hash_key, projection)) = index {
        request = request
            .attribute_definitions(attribute(hash_key, ScalarAttributeType::S))
            .attribute_definitions(attribute("LastUpdateTime", ScalarAttributeType::N))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index)
                    .key_schema(key(hash_key, KeyType::Hash))
                    .key_schema(key("LastUpdateTime", KeyType::Range))
                    .projection(Projection::builder().projection_type(projection).build())
                    .build()
                    .expect("valid index"),
            );
    }
    request
        .send()
        .await
        .unwrap_or_else(|err| panic!("create table {name}: {err:?}"));
    name
}

/// Creates a history table (ClientID and EventKey), as history_enabled does.
pub async fn create_history_table(client: &Client, purpose: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let name = format!("test-{purpose}-history-{nanos}");
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("ClientID", ScalarAttributeType::S))
        .attribute_definitions(attribute("EventKey", ScalarAttributeType::S))
        .key_schema(key("ClientID", KeyType::Hash))
        .key_schema(key("EventKey", KeyType::Range))
        .send()
        .await
        .unwrap_or_else(|err| panic!("create table {name}: {err:?}"));
    name
}

/// Creates a counts table (hash key `Key`), as connected_devices_metric_enabled does.
pub async fn create_counts_table(client: &Client, purpose: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let name = format!("test-{purpose}-counts-{nanos}");
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("Key", ScalarAttributeType::S))
        .key_schema(key("Key", KeyType::Hash))
        .send()
        .await
        .unwrap_or_else(|err| panic!("create table {name}: {err:?}"));
    name
}

/// Tags `table` with a deployment's settings, as the module does (main.tf settings_tags).
pub async fn tag_as_deployed(
    client: &Client,
    table: &str,
    settings: &iot_connectivity::shared::deployment::Settings,
) {
    let arn = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("describe table")
        .table
        .and_then(|table| table.table_arn)
        .expect("table ARN");
    let tags = settings.to_tags().into_iter().map(|(key, value)| {
        aws_sdk_dynamodb::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .expect("valid tag")
    });
    client
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags.collect()))
        .send()
        .await
        .unwrap_or_else(|err| panic!("tag {table}: {err:?}"));
}

/// The variables through which an operator states settings: cleared from a child's
/// environment, so that it runs with only what a test gives it.
pub const SETTINGS_VARIABLES: [&str; 9] = [
    "IGNORED_CLIENT_ID_PREFIXES",
    "ITEM_TTL_SECONDS",
    "RECORD_UNKNOWN_CONNECT_FAILURES",
    "STATUS_INDEX_SHARDS",
    "COUNTS_TABLE_NAME",
    "COUNTER_SHARDS",
    "ANNOUNCEMENTS_ENABLED",
    "HISTORY_TABLE_NAME",
    "HISTORY_RETENTION_SECONDS",
];

/// The SDK configuration of a role's clients (what `load_aws_config` gives a Lambda), for
/// this emulator.
pub fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            Credentials::new("testing", "testing", None, None, "tests"),
        ))
        .http_client(iot_connectivity::shared::aws::http_client())
        .build()
}

/// Creates a fleet table (`PK`, `SK`), as maintenance_windows_enabled or storm_digest does.
pub async fn create_fleet_table(client: &Client, purpose: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let name = format!("test-{purpose}-fleet-{nanos}");
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("PK", ScalarAttributeType::S))
        .attribute_definitions(attribute("SK", ScalarAttributeType::S))
        .key_schema(key("PK", KeyType::Hash))
        .key_schema(key("SK", KeyType::Range))
        .send()
        .await
        .unwrap_or_else(|err| panic!("create table {name}: {err:?}"));
    name
}

/// POSTs `body` to the emulator's `/_emulator/chaos/<what>` (fault injection; see
/// tools/emulator/README.md): one HTTP/1.1 request over a plain socket.
#[allow(dead_code)] // Not every test binary injects faults.
pub async fn chaos(what: &str, body: &serde_json::Value) {
    let address = endpoint().trim_start_matches("http://").to_owned();
    let path = format!("/_emulator/chaos/{what}");
    let body = body.to_string();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut socket = std::net::TcpStream::connect(&address).expect("emulator reachable");
        write!(
            socket,
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("request written");
        let mut answer = String::new();
        socket.read_to_string(&mut answer).expect("answer read");
        assert!(answer.starts_with("HTTP/1.1 2") || answer.starts_with("HTTP/1.0 2"), "chaos {path}: {answer}");
    })
    .await
    .expect("chaos request");
}

/// A bus rule sending this test's announcements to a queue; the queue's URL.
#[allow(dead_code)] // Only the notifier's tests read announcements.
pub async fn announcements_queue(source: &str) -> String {
    let name = source.replace('.', "-");
    let config = sdk_config();
    let sqs = aws_sdk_sqs::Client::new(&config);
    let events = aws_sdk_eventbridge::Client::new(&config);
    let queue = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    events
        .put_rule()
        .name(&name)
        .event_pattern(serde_json::json!({"source": [source]}).to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    queue
}

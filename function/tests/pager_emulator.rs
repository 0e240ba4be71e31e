//! The pager against a real AWS API process (see `emulator`: DynamoDB, SQS, Secrets
//! Manager) and the PagerDuty contract receiver (tools/pagerduty_receiver.py), handed SQS
//! batches as Lambda hands them: the rate per routing key, one page per storm, a refused
//! event to the dead-letter queue and back, and a late trigger that pages nobody.

mod emulator;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use iot_connectivity::paging::page::{Destination, PagingConfig};
use iot_connectivity::paging::pager::{Pager, PagerConfig};
use iot_connectivity::shared::time::now_ms;
use serde_json::{json, Value};

const ROUTING_KEY: &str = "R0UT1NGKEY0123456789abcdefABCDEF";

struct Receiver {
    url: String,
    child: Child,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    fn start(rate_per_minute: u32) -> Receiver {
        use std::io::BufRead;
        let mut child = Command::new(emulator::python())
            .arg(emulator::tool("pagerduty_receiver.py"))
            .args(["--port", "0", "--quiet", "--seed", "3"])
            .args(["--rate-per-minute", &rate_per_minute.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("the receiver starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("pagerduty receiver listening on ")
            .unwrap_or_else(|| panic!("receiver said {line:?}"))
            .to_owned();
        Receiver { url, child }
    }

    async fn state(&self) -> Value {
        reqwest::get(format!("{}/_receiver/state", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn faults(&self, rules: Value) {
        let answer = reqwest::Client::new()
            .post(format!("{}/_receiver/faults", self.url))
            .json(&rules)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }
}

struct Setup {
    pager: Pager,
    receiver: Receiver,
    dead_letters: String,
}

async fn setup(purpose: &str, rate_per_minute: u32, storm_wait: Duration) -> Setup {
    let config = emulator::sdk_config();
    let nanos = now_ms();
    let table = format!("test-{purpose}-pages-{nanos}");
    let s = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let hash = |name: &str| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(KeyType::Hash)
            .build()
            .unwrap()
    };
    aws_sdk_dynamodb::Client::new(&config)
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(s("key"))
        .attribute_definitions(s("owed"))
        .key_schema(hash("key"))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("ByOwed")
                .key_schema(hash("owed"))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue = |name: String| {
        let sqs = sqs.clone();
        async move {
            sqs.create_queue()
                .queue_name(name)
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap()
        }
    };
    let pages = queue(format!("test-{purpose}-pages-{nanos}")).await;
    let dead_letters = queue(format!("test-{purpose}-pages-dlq-{nanos}")).await;
    let secret = aws_sdk_secretsmanager::Client::new(&config)
        .create_secret()
        .name(format!("test-{purpose}-{nanos}"))
        .secret_string(ROUTING_KEY)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let receiver = Receiver::start(rate_per_minute);
    let pager = Pager::new(
        &config,
        PagerConfig {
            table,
            queue_url: pages,
            dead_letter_queue_url: dead_letters.clone(),
            events_url: format!("{}/v2/enqueue", receiver.url),
            rate_per_minute,
            paging: PagingConfig {
                deployment: purpose.to_owned(),
                routes: vec![],
                default: Destination {
                    routing_key_secret_arn: secret,
                    severity: "critical".into(),
                },
                page_maintenance: false,
                storm_wait,
            },
        },
    );
    Setup {
        pager,
        receiver,
        dead_letters,
    }
}

fn disconnected(client_id: &str, sequence: u64, storm: Option<&str>) -> Value {
    let mut detail = json!({"clientId": client_id, "sequence": sequence, "status": "Disconnected",
        "disconnect": {"timestamp": 1_700_000_000_000u64}});
    if let Some(storm) = storm {
        detail["stormId"] = json!(storm);
    }
    json!({"detail-type": "Device Disconnected", "detail": detail})
}

fn connected(client_id: &str, sequence: u64) -> Value {
    json!({"detail-type": "Device Connected", "detail": {"clientId": client_id, "sequence": sequence, "status": "Connected"}})
}

/// One SQS batch as Lambda hands it to the function.
async fn deliver(pager: &Pager, messages: &[Value]) {
    let records: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, body)| json!({"messageId": format!("m{i}"), "body": body.to_string()}))
        .collect();
    for chunk in records.chunks(10) {
        let response = pager
            .handle(
                &json!({ "Records": chunk }),
                Instant::now() + Duration::from_secs(30),
            )
            .await;
        assert!(
            response.batch_item_failures.is_empty(),
            "{:?}",
            response.batch_item_failures
        );
    }
}

fn alerts(state: &Value) -> Vec<(String, String)> {
    state["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|alert| {
            (
                alert["dedup_key"].as_str().unwrap().to_owned(),
                alert["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn no_more_than_the_rate_per_routing_key_reaches_pagerduty() {
    // The receiver throttles above 3 a minute, as PagerDuty above its rate: every 429 would
    // be the pager's budget failing.
    let setup = setup("rate", 3, Duration::ZERO).await;
    let devices: Vec<Value> = (0..8)
        .map(|i| disconnected(&format!("cam-{i}"), 1, None))
        .collect();
    deliver(&setup.pager, &devices).await;
    // The pass, as the schedule runs it, finds the rest still waiting for the window.
    setup
        .pager
        .handle(
            &json!({"pagerPass": true}),
            Instant::now() + Duration::from_secs(30),
        )
        .await;
    let state = setup.receiver.state().await;
    assert_eq!(
        state["accepted"], 3,
        "three pages in the first minute: {state}"
    );
    assert_eq!(
        state["refused"].as_array().unwrap().len(),
        0,
        "none throttled: {state}"
    );
    assert_eq!(state["max_per_minute"][ROUTING_KEY], 3);
}

#[tokio::test]
async fn a_storm_pages_once_for_its_devices() {
    let setup = setup("storm", 100, Duration::from_secs(2)).await;
    // Devices announced before the storm opened carry no stormId; later ones do.
    let mut messages: Vec<Value> = (0..5)
        .map(|i| disconnected(&format!("site-{i}"), 1, None))
        .collect();
    messages.extend((5..10).map(|i| disconnected(&format!("site-{i}"), 1, Some("st-1"))));
    messages.push(json!({"detail-type": "Fleet Connectivity Degraded", "detail": {
        "stormId": "st-1", "groupBy": "thing_group", "group": "site", "sequence": 1,
        "disconnectedCount": 10, "clientIds": (0..10).map(|i| format!("site-{i}")).collect::<Vec<_>>(),
        "since": 1_700_000_000_000u64}}));
    // A device of no storm.
    messages.push(disconnected("solo", 1, None));
    deliver(&setup.pager, &messages).await;
    // Past the hold: the pass looks at the held triggers.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    for _ in 0..2 {
        setup
            .pager
            .handle(
                &json!({"pagerPass": true}),
                Instant::now() + Duration::from_secs(30),
            )
            .await;
    }
    let mut paged = alerts(&setup.receiver.state().await);
    paged.sort();
    assert_eq!(
        paged,
        vec![
            ("storm/solo".into(), "triggered".into()),
            ("storm/storm/st-1".into(), "triggered".into()),
        ]
    );

    // The storm ends before its devices' returns reach the pager: they are given the hold
    // to arrive, and page nobody.
    let restored = json!({"detail-type": "Fleet Connectivity Restored", "detail": {
        "stormId": "st-1", "groupBy": "thing_group", "group": "site", "sequence": 2,
        "disconnectedCount": 0, "clientIds": [], "since": 1_700_000_000_000u64}});
    deliver(&setup.pager, &[restored]).await;
    pass(&setup.pager).await;
    let returns: Vec<Value> = (0..10)
        .map(|i| connected(&format!("site-{i}"), 2))
        .collect();
    deliver(&setup.pager, &returns).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    pass(&setup.pager).await;
    let mut paged = alerts(&setup.receiver.state().await);
    paged.sort();
    assert_eq!(
        paged,
        vec![
            ("storm/solo".into(), "triggered".into()),
            ("storm/storm/st-1".into(), "resolved".into()),
        ]
    );
}

async fn pass(pager: &Pager) {
    pager
        .handle(
            &json!({"pagerPass": true}),
            Instant::now() + Duration::from_secs(30),
        )
        .await;
}

#[tokio::test]
async fn a_refused_event_goes_to_the_dead_letter_queue_and_back() {
    let setup = setup("refused", 100, Duration::ZERO).await;
    setup
        .receiver
        .faults(json!([{"status": 400, "count": 1}]))
        .await;
    deliver(&setup.pager, &[disconnected("cam", 1, None)]).await;
    let sqs = aws_sdk_sqs::Client::new(&emulator::sdk_config());
    let received = sqs
        .receive_message()
        .queue_url(&setup.dead_letters)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    let messages = received.messages();
    assert_eq!(messages.len(), 1, "the refused event is kept");
    let body: Value = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(body["pagerRefused"]["key"], "refused/cam");
    assert!(
        body["answer"].as_str().unwrap().starts_with("400"),
        "{body}"
    );
    assert!(
        body["event"].get("routing_key").is_none(),
        "the key stays in its secret"
    );
    assert_eq!(setup.receiver.state().await["accepted"], 0);
    // Re-driven (the fault is spent), it is posted.
    deliver(&setup.pager, &[body]).await;
    assert_eq!(
        alerts(&setup.receiver.state().await),
        vec![("refused/cam".into(), "triggered".into())]
    );
}

#[tokio::test]
async fn a_trigger_later_than_its_resolve_pages_nobody_and_a_resolve_follows_its_trigger() {
    let setup = setup("order", 100, Duration::ZERO).await;
    // EventBridge delivered the return before the drop.
    deliver(&setup.pager, &[connected("late", 2)]).await;
    deliver(&setup.pager, &[disconnected("late", 1, None)]).await;
    // A resolve throttled once is retried after its trigger, never before.
    deliver(&setup.pager, &[disconnected("cam", 1, None)]).await;
    setup
        .receiver
        .faults(json!([{"status": 429, "count": 1, "event_action": "resolve"}]))
        .await;
    deliver(&setup.pager, &[connected("cam", 2)]).await;
    let state = setup.receiver.state().await;
    assert_eq!(
        alerts(&state),
        vec![("order/cam".into(), "triggered".into())],
        "the throttled resolve waits: {state}"
    );
    let started = now_ms();
    while now_ms() - started < 10_000 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        setup
            .pager
            .handle(
                &json!({"pagerPass": true}),
                Instant::now() + Duration::from_secs(30),
            )
            .await;
        if alerts(&setup.receiver.state().await)[0].1 == "resolved" {
            break;
        }
    }
    let state = setup.receiver.state().await;
    assert_eq!(
        alerts(&state),
        vec![("order/cam".into(), "resolved".into())],
        "{state}"
    );
    assert!(state["dropped"].as_array().unwrap().is_empty(), "{state}");
}

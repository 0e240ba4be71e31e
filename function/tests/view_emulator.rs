//! The example consumer ([`iot_connectivity::announcements::view`]) against a real AWS API
//! process (see `emulator`): announcements delivered shuffled and repeated, as EventBridge
//! may, leave each device on its newest.

mod emulator;

use aws_sdk_dynamodb::types::AttributeValue;
use iot_connectivity::announcements::view::{apply, parse, Applied};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::json;

#[tokio::test]
async fn shuffled_repeated_deliveries_leave_each_device_on_its_newest_announcement() {
    let client = emulator::client();
    let table = emulator::create_table(&client, "view").await;
    let mut deliveries = Vec::new();
    for device in 0..5 {
        for sequence in 1..=6u64 {
            let status = if sequence % 2 == 1 {
                "Connected"
            } else {
                "Disconnected"
            };
            let body = json!({"detail-type": format!("Device {status}"), "detail": {
                "clientId": format!("dev-{device}"), "status": status,
                "sequence": 1_000 + sequence, "eventId": format!("{device}-{sequence}")}})
            .to_string();
            deliveries.push(body.clone());
            deliveries.push(body);
        }
    }
    deliveries.shuffle(&mut StdRng::seed_from_u64(3));
    let mut stale = 0;
    for body in &deliveries {
        if apply(&client, &table, &parse(body).unwrap()).await.unwrap() == Applied::Stale {
            stale += 1;
        }
    }
    assert!(
        stale >= 30,
        "every repeat and every overtaken one is stale: {stale}"
    );
    for device in 0..5 {
        let item = client
            .get_item()
            .table_name(&table)
            .key("ClientID", AttributeValue::S(format!("dev-{device}")))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        assert_eq!(item["Sequence"], AttributeValue::N("1006".into()));
        assert_eq!(item["Status"], AttributeValue::S("Disconnected".into()));
    }
}

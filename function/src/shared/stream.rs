//! Lambda's DynamoDB stream batches, as the notifier and the counter read them: a record's
//! image as an item, and the answer naming the records to retry
//! (`ReportBatchItemFailures`).

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::shared::Item;

/// The answer Lambda reads with `ReportBatchItemFailures`.
#[derive(Debug, Default, serde::Serialize, PartialEq, Eq)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, serde::Serialize, PartialEq, Eq)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// A stream image (DynamoDB JSON) as an item; attribute types other than S, N and BOOL
/// are left out (the item has none).
pub fn item_of(image: &Value) -> Item {
    let mut item = Item::new();
    if let Some(attributes) = image.as_object() {
        for (name, value) in attributes {
            let attribute = if let Some(text) = value["S"].as_str() {
                AttributeValue::S(text.to_owned())
            } else if let Some(number) = value["N"].as_str() {
                AttributeValue::N(number.to_owned())
            } else if let Some(flag) = value["BOOL"].as_bool() {
                AttributeValue::Bool(flag)
            } else {
                continue;
            };
            item.insert(name.clone(), attribute);
        }
    }
    item
}

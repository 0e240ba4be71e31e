//! Reading the fleet through the status index: every shard of a status queried at once,
//! so a listing or a count costs what the items cost, whatever the shard count.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use aws_sdk_dynamodb::Client;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use serde_json::{Map, Number, Value};

use crate::presence::ordering::Presence;
use crate::presence::store::{attr, status_shard_key, Item};

/// The index the module creates when `status_index_enabled`.
pub const STATUS_INDEX: &str = "ByStatusShard";

#[derive(Debug, thiserror::Error)]
#[error("Query of {index} on {table} ({key}): {message}")]
pub struct FleetError {
    table: String,
    index: String,
    key: String,
    message: String,
}

pub struct Fleet {
    client: Client,
    table: String,
    index: String,
    shards: u32,
}

/// Which page of one shard's query comes next.
enum Page {
    First,
    After(Item),
    Done,
}

impl Fleet {
    pub fn new(client: Client, table: String, index: String, shards: u32) -> Self {
        Self {
            client,
            table,
            index,
            shards,
        }
    }

    /// Every item with one of `statuses`, streamed as the shards' pages arrive (no order
    /// across shards; within a shard, least recently changed first). With
    /// `unchanged_since`, only items whose `LastUpdateTime` (the index's sort key) is at or
    /// before it: a range of each shard, so the items read are the items returned.
    pub fn list(
        &self,
        statuses: &[Presence],
        unchanged_since: Option<i64>,
    ) -> BoxStream<'_, Result<Item, FleetError>> {
        let shards = statuses.iter().flat_map(|status| {
            (0..self.shards).map(move |shard| status_shard_key(status.status(), shard))
        });
        stream::select_all(shards.map(|key| self.shard_items(key, unchanged_since).boxed())).boxed()
    }

    /// How many items each status has.
    pub async fn count(&self) -> Result<BTreeMap<&'static str, u64>, FleetError> {
        let mut counts = BTreeMap::new();
        for status in [Presence::Connected, Presence::Disconnected] {
            let per_shard = stream::iter(0..self.shards)
                .map(|shard| self.shard_count(status_shard_key(status.status(), shard)))
                .buffer_unordered(self.shards as usize)
                .try_fold(0, |total, count| async move { Ok(total + count) })
                .await?;
            counts.insert(status.status(), per_shard);
        }
        Ok(counts)
    }

    fn shard_items(
        &self,
        key: String,
        unchanged_since: Option<i64>,
    ) -> impl futures::Stream<Item = Result<Item, FleetError>> + '_ {
        stream::try_unfold(Page::First, move |page| {
            let key = key.clone();
            async move {
                let start = match page {
                    Page::Done => return Ok(None),
                    Page::First => None,
                    Page::After(start) => Some(start),
                };
                let output = self
                    .query(&key, unchanged_since)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|err| self.error(&key, err))?;
                let next = output.last_evaluated_key.map_or(Page::Done, Page::After);
                Ok(Some((
                    stream::iter(output.items.unwrap_or_default().into_iter().map(Ok)),
                    next,
                )))
            }
        })
        .try_flatten()
    }

    async fn shard_count(&self, key: String) -> Result<u64, FleetError> {
        let mut total = 0;
        let mut start = None;
        loop {
            let output = self
                .query(&key, None)
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|err| self.error(&key, err))?;
            total += output.count as u64;
            match output.last_evaluated_key {
                Some(last) => start = Some(last),
                None => return Ok(total),
            }
        }
    }

    fn query(
        &self,
        key: &str,
        unchanged_since: Option<i64>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(&self.index)
            .expression_attribute_names("#shard", attr::STATUS_SHARD)
            .expression_attribute_values(":shard", AttributeValue::S(key.to_owned()));
        match unchanged_since {
            None => query.key_condition_expression("#shard = :shard"),
            Some(cutoff) => query
                .key_condition_expression("#shard = :shard AND #updated <= :cutoff")
                .expression_attribute_names("#updated", attr::LAST_UPDATE_TIME)
                .expression_attribute_values(":cutoff", AttributeValue::N(cutoff.to_string())),
        }
    }

    fn error<E: std::error::Error + 'static, R: std::fmt::Debug>(
        &self,
        key: &str,
        err: aws_sdk_dynamodb::error::SdkError<E, R>,
    ) -> FleetError {
        FleetError {
            table: self.table.clone(),
            index: self.index.clone(),
            key: key.to_owned(),
            message: DisplayErrorContext(err).to_string(),
        }
    }
}

/// An item as plain JSON: strings, numbers, booleans, lists and maps as themselves,
/// sets as lists, binary as base64-free byte lists (the table holds none).
pub fn item_to_json(item: &Item) -> Value {
    Value::Object(
        item.iter()
            .map(|(name, value)| (name.clone(), attribute_to_json(value)))
            .collect::<Map<_, _>>(),
    )
}

fn attribute_to_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(text) => Value::String(text.clone()),
        AttributeValue::N(number) => number
            .parse::<Number>()
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(number.clone())),
        AttributeValue::Bool(flag) => Value::Bool(*flag),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(list) => Value::Array(list.iter().map(attribute_to_json).collect()),
        AttributeValue::M(map) => item_to_json(map),
        AttributeValue::Ss(set) => set.iter().cloned().map(Value::String).collect(),
        AttributeValue::Ns(set) => set
            .iter()
            .map(|n| attribute_to_json(&AttributeValue::N(n.clone())))
            .collect(),
        AttributeValue::B(blob) => blob.as_ref().iter().map(|&b| Value::from(b)).collect(),
        AttributeValue::Bs(set) => set
            .iter()
            .map(|blob| attribute_to_json(&AttributeValue::B(blob.clone())))
            .collect(),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_read_as_plain_json() {
        let item: Item = [
            ("ClientID", AttributeValue::S("gw-1".into())),
            ("ConnectTime", AttributeValue::N("1671506794644".into())),
            ("ClientInitiatedDisconnect", AttributeValue::Bool(false)),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        assert_eq!(
            item_to_json(&item),
            serde_json::json!({"ClientID": "gw-1", "ConnectTime": 1671506794644_i64, "ClientInitiatedDisconnect": false})
        );
    }
}

//! What every pipeline uses: the AWS configuration and HTTP client ([`aws`]), retry delays
//! ([`backoff`]), the DynamoDB
//! kit ([`dynamodb`]: errors, numbers, expiry), JSON logs ([`logging`]), EMF metrics
//! ([`metrics`]), the deployment's settings kept as table tags ([`deployment`]), stream
//! batches ([`stream`]), the dead-letter messages' events ([`dead_letter`]) and the wall
//! clock ([`time`]). It uses no pipeline (tools/layers.py checks it).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

pub mod aws;
pub mod backoff;
pub mod dead_letter;
pub mod deployment;
pub mod dynamodb;
pub mod logging;
pub mod metrics;
pub mod stream;
pub mod time;

/// A DynamoDB item, as the SDK reads and writes it.
pub type Item = HashMap<String, AttributeValue>;

//! AWS IoT Core lifecycle events to one DynamoDB item per MQTT client, right under
//! out-of-order, duplicated delivery and concurrent invocations.
//!
//! Layers, each usable on its own:
//! - [`event`]: the lifecycle event model (parsing, validation);
//! - [`ordering`]: the pure decision of which event is newer, no I/O;
//! - [`announce`]: the pure decisions of when a status change is announced, no I/O;
//! - [`store`]: DynamoDB conditional writes built on that decision;
//! - [`counting`]: the pure decision of what a status change does to the Connected count;
//! - [`counts`]: the counts table (tallies and counter shards), conditional writes;
//! - [`history`]: the pure sessions and availability of a client's history, no I/O;
//! - [`history_store`]: the history table, one item per connect or disconnect;
//! - [`fleet`]: the fleet read through the sharded status index (list, count);
//! - [`deployment`]: a deployment's settings, as tags on its table, for the CLIs;
//! - [`dead_letter`]: which dead-letter messages hold events to re-drive;
//! - `report` (feature `cli`): the CLI's times and its history and availability output;
//! - [`processor`]: the glue shared by the presence role and the `replay` tool;
//! - [`notifier`]: the glue of the notifier role (stream and grace queue to EventBridge);
//! - [`counter`]: the glue of the counter role (stream to counts, counts to a metric);
//! - [`roles`]: the Lambda roles of the one `bootstrap` binary, chosen by `_HANDLER`;
//! - [`logging`]: JSON log lines Lambda can filter by level;
//! - [`metrics`]: CloudWatch metrics as Embedded Metric Format log lines.

pub mod announce;
pub mod counter;
pub mod counting;
pub mod counts;
pub mod dead_letter;
pub mod deployment;
pub mod event;
pub mod fleet;
pub mod history;
pub mod history_store;
pub mod logging;
pub mod metrics;
pub mod notifier;
pub mod ordering;
pub mod processor;
#[cfg(feature = "cli")]
pub mod report;
pub mod roles;
pub mod store;

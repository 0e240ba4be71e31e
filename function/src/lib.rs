//! AWS IoT Core lifecycle events to one DynamoDB item per MQTT client, right under
//! out-of-order, duplicated delivery and concurrent invocations; and what follows from
//! that item. One folder per pipeline, each with its pure decisions, its DynamoDB store and
//! its glue, in that order:
//!
//! - [`presence`]: lifecycle event → the device's item (event model, ordering, store,
//!   fleet reads through the status index);
//! - [`announcements`]: the item's status → `Device Connected` / `Device Disconnected` on
//!   EventBridge (decision, store, notifier);
//! - [`count`]: the item's status → the exact ConnectedDevices count (decision, counts
//!   table, counter);
//! - [`history`]: lifecycle event → every session kept, and availability computed
//!   (sessions, store, report);
//! - [`ingest`]: the glue every lifecycle event goes through (the presence role, `replay`),
//!   applying it to [`presence`] and keeping it in [`history`];
//! - [`paging`]: announcements → PagerDuty incidents, in order per incident key, one per
//!   storm, inside the rate per routing key (decision, pages table, pager);
//! - [`shared`]: AWS configuration, logging, metrics, deployment settings, stream batches,
//!   dead letters;
//! - [`roles`]: the Lambda roles of the one `bootstrap` binary, chosen by `_HANDLER`.
//!
//! Layers: a pure decision does no I/O; a store uses decisions, never glue; glue (the
//! processor, notifier, counter, roles) uses any store; `shared` uses no pipeline; and a
//! pipeline's decisions and stores use no other pipeline's, except the presence event,
//! ordering rule and item that announcements, count and history follow.

pub mod announcements;
pub mod count;
pub mod history;
pub mod ingest;
pub mod paging;
pub mod presence;
pub mod roles;
pub mod shared;

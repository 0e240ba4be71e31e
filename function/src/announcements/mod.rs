//! Status → announcements: whether a device owes a `Device Connected` or
//! `Device Disconnected` ([`decision`], pure), the item's announcement writes ([`store`]),
//! the notifier that looks, claims, puts and settles ([`notifier`]), and a consumer that
//! keeps each device's latest announcement by sequence ([`view`]); and what routes them:
//! the thing registry's data ([`thing`], pure; [`registry`]), maintenance windows
//! ([`maintenance`]) and storm digests ([`storm`], pure), kept in the fleet table
//! ([`fleet_store`]). Uses
//! [`crate::presence`] (the item) and [`crate::shared`]; nothing below uses it.

pub mod decision;
pub mod detail;
pub mod fleet_store;
pub mod maintenance;
pub mod notifier;
pub mod registry;
pub mod store;
pub mod storm;
pub mod thing;
pub mod view;

//! Status → announcements: whether a device owes a `Device Connected` or
//! `Device Disconnected` ([`decision`], pure), the item's announcement writes ([`store`]),
//! the notifier that looks, claims, puts and settles ([`notifier`]), and a consumer that
//! keeps each device's latest announcement by sequence ([`view`]). Uses
//! [`crate::presence`] (the item) and [`crate::shared`]; nothing below uses it.

pub mod decision;
pub mod detail;
pub mod notifier;
pub mod store;
pub mod view;

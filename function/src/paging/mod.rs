//! Announcements to PagerDuty incidents (modules/pagerduty): what each announcement asks
//! ([`page`]), what to send for an incident key now ([`decision`], pure), the pages table
//! ([`store`]), PagerDuty's Events API and routing keys ([`pagerduty`]), and the glue
//! ([`pager`]). A pipeline of its own: it reads the announcements' JSON, nothing of
//! [`crate::announcements`].

pub mod decision;
pub mod page;
pub mod pager;
pub mod pagerduty;
pub mod store;

//! DynamoDB expressions built with placeholders for every name and value.

use super::{attr, number, presence_attrs, RESET_WINDOW_MS};
use crate::presence::ordering::{Mark, Presence};

pub(crate) use crate::shared::dynamodb::Expression;

/// The presence pipeline's conditions, built on the shared placeholders.
impl Expression {
    /// [`crate::presence::ordering::happened_after`]`(event, stored)` for the stored event of kind
    /// `stored`, as a condition on the item (true when there is none).
    pub(crate) fn newer_than_stored(&mut self, event: &Mark, stored: Presence) -> String {
        let (version_attr, time_attr) = presence_attrs(stored);
        let version = self.name(version_attr);
        let time = self.name(time_attr);
        let lo = self.value(
            "windowStart",
            number(event.timestamp.saturating_sub(RESET_WINDOW_MS)),
        );
        let hi = self.value(
            "windowEnd",
            number(event.timestamp.saturating_add(RESET_WINDOW_MS)),
        );
        let event_version = self.value("eventVersion", number(event.version));
        // Inside the window the higher version wins; equal versions follow rules 3 and 4
        // of `happened_after`.
        let version_wins = match (event.presence, stored) {
            (Presence::Disconnected, Presence::Connected) => {
                format!("{version} <= {event_version}")
            }
            (Presence::Connected, Presence::Disconnected) => format!("{version} < {event_version}"),
            _ => {
                let event_time = self.value("eventTime", number(event.timestamp));
                format!("({version} < {event_version} OR ({version} = {event_version} AND {time} < {event_time}))")
            }
        };
        format!("(attribute_not_exists({time}) OR {time} < {lo} OR ({time} <= {hi} AND {version_wins}))")
    }

    pub(crate) fn unchanged(&mut self, revision: Option<u64>) -> String {
        let client = self.name(attr::CLIENT_ID);
        let name = self.name(attr::REVISION);
        match revision {
            Some(revision) => {
                let expected = self.value("expectedRevision", number(revision));
                format!("attribute_exists({client}) AND {name} = {expected}")
            }
            None => format!("attribute_exists({client}) AND attribute_not_exists({name})"),
        }
    }
}

pub(crate) fn update_expression(sets: &[String], removes: &[String]) -> String {
    let mut clauses = Vec::new();
    if !sets.is_empty() {
        clauses.push(format!("SET {}", sets.join(", ")));
    }
    if !removes.is_empty() {
        clauses.push(format!("REMOVE {}", removes.join(", ")));
    }
    clauses.join(" ")
}

//! Connect failures: kept on a known client's item (on any with
//! `record_unknown_connect_failures`), never changing its status.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{
    attr, expiry, number, number_attr, update_expression, Attempt, Expression, Item, Recorded,
    Store, StoreError, Written, MAX_CONDITIONAL_WRITES,
};
use crate::presence::event::ConnectFailed;
use crate::presence::ordering::Presence;

impl Store {
    /// Keeps the newest connect_failed of a known client (of any client when recording
    /// unknown ones). Never changes Status, except that a client seen only failing to
    /// connect reads as Disconnected rather than having no Status. With an item TTL, the
    /// first write assumes the client is not connected (so the failure renews its
    /// expiry); a connected client is written again without one.
    pub async fn record_connect_failed(
        &self,
        event: &ConnectFailed,
    ) -> Result<Recorded, StoreError> {
        let mut round_trips = 0;
        let mut expire = self.item_ttl.is_some();
        for _ in 0..MAX_CONDITIONAL_WRITES {
            let attempt = self
                .write_connect_failed(event, expire, &mut round_trips)
                .await?;
            let written = match attempt {
                Attempt::Written => Written::Applied,
                Attempt::ConditionFailed(item) => match decide_connect_failed(
                    item.as_ref(),
                    event.timestamp,
                    self.record_unknown_connect_failures,
                ) {
                    ConnectFailedDecision::Stale => Written::Stale,
                    ConnectFailedDecision::UnknownClient => Written::UnknownClient,
                    ConnectFailedDecision::Write { connected } => {
                        expire = self.item_ttl.is_some() && !connected;
                        continue;
                    }
                },
            };
            return Ok(Recorded {
                written,
                round_trips,
            });
        }
        Err(StoreError::Contention {
            client_id: event.client_id.clone(),
            attempts: MAX_CONDITIONAL_WRITES,
        })
    }

    async fn write_connect_failed(
        &self,
        event: &ConnectFailed,
        expire: bool,
        round_trips: &mut u32,
    ) -> Result<Attempt, StoreError> {
        let mut expr = Expression::default();
        let mut sets = self.common_sets(&mut expr);
        let status = expr.name(attr::STATUS);
        let disconnected = expr.value(
            "Disconnected",
            AttributeValue::S(Presence::Disconnected.status().into()),
        );
        sets.push(format!(
            "{status} = if_not_exists({status}, {disconnected})"
        ));
        let time = expr.name(attr::CONNECT_FAILED_TIME);
        let event_time = expr.value(attr::CONNECT_FAILED_TIME, number(event.timestamp));
        sets.push(format!("{time} = {event_time}"));
        let mut removes = Vec::new();
        match &event.connect_failure_reason {
            Some(reason) => sets.push(expr.assign(
                attr::CONNECT_FAILURE_REASON,
                AttributeValue::S(reason.clone()),
            )),
            None => removes.push(expr.name(attr::CONNECT_FAILURE_REASON)),
        }
        let mut conditions = vec![format!(
            "(attribute_not_exists({time}) OR {time} < {event_time})"
        )];
        if !self.record_unknown_connect_failures {
            let client = expr.name(attr::CLIENT_ID);
            conditions.push(format!("attribute_exists({client})"));
        }
        // With announcements, only the notifier's settlement sets the expiry: an item that
        // owes an announcement must not expire.
        if let Some(ttl) = self.item_ttl.filter(|_| !self.announcements) {
            if expire {
                sets.push(expr.assign(attr::EXPIRES_AT, number(expiry(ttl))));
                conditions.push(format!(
                    "(attribute_not_exists({status}) OR {status} = {disconnected})"
                ));
            } else {
                let connected = expr.value(
                    "Connected",
                    AttributeValue::S(Presence::Connected.status().into()),
                );
                conditions.push(format!("{status} = {connected}"));
            }
        }
        let update = update_expression(&sets, &removes);
        self.conditional_update(
            &event.client_id,
            update,
            conditions.join(" AND "),
            expr,
            round_trips,
        )
        .await
    }
}

/// What to do with a connect failure whose conditional write failed, given the item as
/// it is now.
#[derive(Debug, PartialEq, Eq)]
enum ConnectFailedDecision {
    /// A failure as new or newer is stored.
    Stale,
    UnknownClient,
    /// Write again, for a client that is (or is not) connected.
    Write {
        connected: bool,
    },
}

fn decide_connect_failed(
    item: Option<&Item>,
    timestamp: i64,
    record_unknown: bool,
) -> ConnectFailedDecision {
    let Some(item) = item else {
        return if record_unknown {
            ConnectFailedDecision::Write { connected: false }
        } else {
            ConnectFailedDecision::UnknownClient
        };
    };
    if number_attr::<i64>(item, attr::CONNECT_FAILED_TIME).is_some_and(|stored| stored >= timestamp)
    {
        return ConnectFailedDecision::Stale;
    }
    let connected = item
        .get(attr::STATUS)
        .and_then(|status| status.as_s().ok())
        .is_some_and(|status| status == Presence::Connected.status());
    ConnectFailedDecision::Write { connected }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(status: &str, failed_at: Option<i64>) -> Item {
        let mut item = Item::new();
        item.insert(attr::STATUS.into(), AttributeValue::S(status.into()));
        if let Some(at) = failed_at {
            item.insert(attr::CONNECT_FAILED_TIME.into(), number(at));
        }
        item
    }

    #[test]
    fn connect_failure_decisions() {
        use ConnectFailedDecision::*;
        assert_eq!(decide_connect_failed(None, 5, false), UnknownClient);
        assert_eq!(
            decide_connect_failed(None, 5, true),
            Write { connected: false }
        );
        let connected = item("Connected", Some(3));
        assert_eq!(
            decide_connect_failed(Some(&connected), 5, false),
            Write { connected: true }
        );
        assert_eq!(decide_connect_failed(Some(&connected), 3, false), Stale);
        let disconnected = item("Disconnected", None);
        assert_eq!(
            decide_connect_failed(Some(&disconnected), 5, false),
            Write { connected: false }
        );
    }
}

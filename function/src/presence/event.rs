//! The AWS IoT Core lifecycle events, as the topic rule forwards them (`SELECT *`).
//!
//! Shapes follow the AWS IoT developer guide, "Lifecycle events". Unknown fields are
//! ignored so that new fields AWS adds never break delivery.

use serde::Deserialize;

use crate::presence::ordering::{Mark, Presence};

/// One lifecycle event. `eventType` selects the variant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "eventType", rename_all = "snake_case")]
pub enum LifecycleEvent {
    Connected(Connected),
    Disconnected(Disconnected),
    ConnectFailed(ConnectFailed),
    Subscribed(SubscriptionChange),
    Unsubscribed(SubscriptionChange),
}

/// `$aws/events/presence/connected/<clientId>`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connected {
    pub client_id: String,
    /// Milliseconds since the epoch, accurate to about ±2 minutes.
    pub timestamp: i64,
    pub version_number: u64,
    #[serde(default)]
    pub session_identifier: Option<String>,
    #[serde(default)]
    pub principal_identifier: Option<String>,
    #[serde(default)]
    pub ip_address: Option<String>,
    /// Sent only when the client connected with the exclusive-thing feature.
    #[serde(default)]
    pub thing_name: Option<String>,
}

/// `$aws/events/presence/disconnected/<clientId>`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disconnected {
    pub client_id: String,
    pub timestamp: i64,
    pub version_number: u64,
    #[serde(default)]
    pub session_identifier: Option<String>,
    #[serde(default)]
    pub principal_identifier: Option<String>,
    #[serde(default)]
    pub client_initiated_disconnect: Option<bool>,
    #[serde(default)]
    pub disconnect_reason: Option<String>,
    #[serde(default)]
    pub thing_name: Option<String>,
}

/// `$aws/events/presence/connect_failed/<clientId>`: carries no versionNumber.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectFailed {
    pub client_id: String,
    pub timestamp: i64,
    #[serde(default)]
    pub connect_failure_reason: Option<String>,
    #[serde(default)]
    pub principal_identifier: Option<String>,
    #[serde(default)]
    pub ip_address: Option<String>,
}

/// `$aws/events/subscriptions/{subscribed,unsubscribed}/<clientId>`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionChange {
    pub client_id: String,
    pub timestamp: i64,
    #[serde(default)]
    pub session_identifier: Option<String>,
    #[serde(default)]
    pub principal_identifier: Option<String>,
    #[serde(default)]
    pub topics: Vec<String>,
}

/// Why a payload is not a lifecycle event. Permanent: retrying cannot help.
#[derive(Debug, thiserror::Error)]
pub enum InvalidEvent {
    #[error("payload is not a lifecycle event: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("clientId is empty")]
    EmptyClientId,
}

impl LifecycleEvent {
    /// Parses and validates one event payload.
    pub fn parse(payload: &serde_json::Value) -> Result<Self, InvalidEvent> {
        let event = Self::deserialize(payload)?;
        if event.client_id().is_empty() {
            return Err(InvalidEvent::EmptyClientId);
        }
        Ok(event)
    }

    /// Parses one event from raw JSON text (one line of a replay file).
    pub fn from_json(text: &str) -> Result<Self, InvalidEvent> {
        Self::parse(&serde_json::from_str(text)?)
    }

    pub fn client_id(&self) -> &str {
        match self {
            Self::Connected(e) => &e.client_id,
            Self::Disconnected(e) => &e.client_id,
            Self::ConnectFailed(e) => &e.client_id,
            Self::Subscribed(e) | Self::Unsubscribed(e) => &e.client_id,
        }
    }

    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Connected(_) => "connected",
            Self::Disconnected(_) => "disconnected",
            Self::ConnectFailed(_) => "connect_failed",
            Self::Subscribed(_) => "subscribed",
            Self::Unsubscribed(_) => "unsubscribed",
        }
    }

    pub fn timestamp(&self) -> i64 {
        match self {
            Self::Connected(e) => e.timestamp,
            Self::Disconnected(e) => e.timestamp,
            Self::ConnectFailed(e) => e.timestamp,
            Self::Subscribed(e) | Self::Unsubscribed(e) => e.timestamp,
        }
    }

    pub fn version_number(&self) -> Option<u64> {
        self.presence_mark().map(|mark| mark.version)
    }

    /// The ordering key of a presence event; `None` for events that never change Status.
    pub fn presence_mark(&self) -> Option<Mark> {
        match self {
            Self::Connected(e) => Some(e.mark()),
            Self::Disconnected(e) => Some(e.mark()),
            _ => None,
        }
    }
}

impl Connected {
    pub fn mark(&self) -> Mark {
        Mark {
            presence: Presence::Connected,
            version: self.version_number,
            timestamp: self.timestamp,
        }
    }
}

impl Disconnected {
    pub fn mark(&self) -> Mark {
        Mark {
            presence: Presence::Disconnected,
            version: self.version_number,
            timestamp: self.timestamp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The examples of the AWS IoT developer guide, "Lifecycle events".
    const DOC_CONNECTED: &str = include_str!("../../tests/fixtures/connected.json");
    const DOC_DISCONNECTED: &str = include_str!("../../tests/fixtures/disconnected.json");
    const DOC_CONNECT_FAILED: &str = include_str!("../../tests/fixtures/connect_failed.json");
    const DOC_SUBSCRIBED: &str = include_str!("../../tests/fixtures/subscribed.json");
    const DOC_UNSUBSCRIBED: &str = include_str!("../../tests/fixtures/unsubscribed.json");

    #[test]
    fn parses_documented_connected() {
        let event = LifecycleEvent::from_json(DOC_CONNECTED).unwrap();
        assert_eq!(
            event,
            LifecycleEvent::Connected(Connected {
                client_id: "186b5".into(),
                timestamp: 1573002230757,
                version_number: 0,
                session_identifier: Some("a4666d2a7d844ae4ac5d7b38c9cb7967".into()),
                principal_identifier: Some("12345678901234567890123456789012".into()),
                ip_address: Some("192.0.2.0".into()),
                thing_name: None,
            })
        );
        assert_eq!(event.version_number(), Some(0));
    }

    #[test]
    fn parses_documented_disconnected() {
        let event = LifecycleEvent::from_json(DOC_DISCONNECTED).unwrap();
        assert_eq!(
            event,
            LifecycleEvent::Disconnected(Disconnected {
                client_id: "186b5".into(),
                timestamp: 1573002340451,
                version_number: 0,
                session_identifier: Some("a4666d2a7d844ae4ac5d7b38c9cb7967".into()),
                principal_identifier: Some("12345678901234567890123456789012".into()),
                client_initiated_disconnect: Some(true),
                disconnect_reason: Some("CLIENT_INITIATED_DISCONNECT".into()),
                thing_name: None,
            })
        );
    }

    #[test]
    fn parses_documented_connect_failed_without_version() {
        let event = LifecycleEvent::from_json(DOC_CONNECT_FAILED).unwrap();
        assert_eq!(
            event,
            LifecycleEvent::ConnectFailed(ConnectFailed {
                client_id: "186b5".into(),
                timestamp: 1460065214626,
                connect_failure_reason: Some("AUTHORIZATION_FAILED".into()),
                principal_identifier: Some("12345678901234567890123456789012".into()),
                ip_address: Some("192.0.2.0".into()),
            })
        );
        assert_eq!(event.presence_mark(), None);
    }

    #[test]
    fn parses_documented_subscription_events() {
        for (text, event_type) in [
            (DOC_SUBSCRIBED, "subscribed"),
            (DOC_UNSUBSCRIBED, "unsubscribed"),
        ] {
            let event = LifecycleEvent::from_json(text).unwrap();
            assert_eq!(event.event_type(), event_type);
            assert_eq!(event.presence_mark(), None);
            let (LifecycleEvent::Subscribed(change) | LifecycleEvent::Unsubscribed(change)) = event
            else {
                panic!("not a subscription event: {event:?}");
            };
            assert_eq!(change.topics, ["foo/bar", "device/data", "dog/cat"]);
        }
    }

    #[test]
    fn reads_thing_name_and_ignores_unknown_fields() {
        let event = LifecycleEvent::parse(&json!({
            "clientId": "sensor-1", "timestamp": 5, "eventType": "connected",
            "versionNumber": 3, "thingName": "sensor-1-thing", "someFutureField": {"x": 1}
        }))
        .unwrap();
        let LifecycleEvent::Connected(connected) = event else {
            panic!("not a connect");
        };
        assert_eq!(connected.thing_name.as_deref(), Some("sensor-1-thing"));
        assert_eq!(connected.session_identifier, None);
    }

    #[test]
    fn rejects_what_is_not_a_lifecycle_event() {
        let cases = [
            json!({"clientId": "a", "timestamp": 1, "eventType": "rebooted", "versionNumber": 0}),
            json!({"clientId": "a", "timestamp": 1, "versionNumber": 0}),
            json!({"clientId": "a", "eventType": "connected", "versionNumber": 0}),
            json!({"clientId": "a", "timestamp": 1, "eventType": "connected"}),
            json!({"clientId": "a", "timestamp": "soon", "eventType": "connected", "versionNumber": 0}),
            json!({"clientId": "a", "timestamp": 1, "eventType": "disconnected", "versionNumber": -1}),
            json!({"timestamp": 1, "eventType": "connect_failed"}),
            json!(["not", "an", "object"]),
            json!("connected"),
        ];
        for payload in cases {
            assert!(
                matches!(
                    LifecycleEvent::parse(&payload),
                    Err(InvalidEvent::Malformed(_))
                ),
                "accepted {payload}"
            );
        }
        assert!(matches!(
            LifecycleEvent::parse(
                &json!({"clientId": "", "timestamp": 1, "eventType": "connected", "versionNumber": 0})
            ),
            Err(InvalidEvent::EmptyClientId)
        ));
        assert!(LifecycleEvent::from_json("{not json").is_err());
    }
}

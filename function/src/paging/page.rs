//! What an announcement asks of PagerDuty: its incident key, trigger or resolve, its
//! sequence, its route, and the Events API payload. Pure: the announcement is the
//! EventBridge event the pager's queue received, read as JSON.
//!
//! - `Device Disconnected` triggers `<deployment>/<clientId>`, held `storm_wait` so a storm
//!   that lists the device pages instead; one in a storm (`detail.stormId`) or in maintenance
//!   (unless `page_maintenance`) asks for no open incident instead (a resolve if one is open).
//! - `Device Connected` resolves it.
//! - `Fleet Connectivity Degraded` triggers `<deployment>/storm/<stormId>` and lists its
//!   devices (their own triggers then wait for the storm's end); `Restored` resolves it.

use std::time::{Duration, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{json, Value};

use super::decision::Action;

/// PagerDuty's limits (Events API v2): `summary` 1,024 characters, `dedup_key` 255.
pub const SUMMARY_LIMIT: usize = 1024;
pub const DEDUP_KEY_LIMIT: usize = 255;

/// PagerDuty's severities.
pub const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

/// Where a page goes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Route {
    #[serde(default)]
    pub thing_group: Option<String>,
    #[serde(default)]
    pub thing_type: Option<String>,
    #[serde(default)]
    pub attribute: Option<AttributeMatch>,
    pub routing_key_secret_arn: String,
    pub severity: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AttributeMatch {
    pub name: String,
    pub value: String,
}

/// The routing key (as its secret's ARN) and severity a page is sent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub routing_key_secret_arn: String,
    pub severity: String,
}

/// The pager's settings (modules/pagerduty's inputs).
#[derive(Debug, Clone)]
pub struct PagingConfig {
    pub deployment: String,
    pub routes: Vec<Route>,
    pub default: Destination,
    pub page_maintenance: bool,
    pub storm_wait: Duration,
}

/// What an announcement asks for one incident key.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    pub key: String,
    pub action: Action,
    pub sequence: u64,
    /// How long a trigger is held before it is posted (device triggers only).
    pub hold: Duration,
    pub destination: Destination,
    /// The Events API `payload` of a trigger (Null for a resolve).
    pub payload: Value,
    /// A Degraded's devices, each marked as listed in this storm.
    pub storm_devices: Vec<String>,
    pub storm_id: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not an announcement the pager reads: {0}")]
pub struct Malformed(pub String);

/// The thing context a route matches on: `detail.thing` of a device, or the storm's group.
struct Subject<'a> {
    groups: Vec<&'a str>,
    type_name: Option<&'a str>,
    attributes: Vec<(&'a str, &'a str)>,
}

impl Route {
    fn matches(&self, subject: &Subject<'_>) -> bool {
        if let Some(group) = &self.thing_group {
            return subject.groups.contains(&group.as_str());
        }
        if let Some(type_name) = &self.thing_type {
            return subject.type_name == Some(type_name.as_str());
        }
        if let Some(attribute) = &self.attribute {
            return subject
                .attributes
                .iter()
                .any(|(name, value)| *name == attribute.name && *value == attribute.value);
        }
        false
    }
}

impl PagingConfig {
    fn destination(&self, subject: &Subject<'_>) -> Destination {
        self.routes
            .iter()
            .find(|route| route.matches(subject))
            .map(|route| Destination {
                routing_key_secret_arn: route.routing_key_secret_arn.clone(),
                severity: route.severity.clone(),
            })
            .unwrap_or_else(|| self.default.clone())
    }

    /// `<deployment>/<clientId>`, cut to PagerDuty's 255 characters.
    pub fn device_key(&self, client_id: &str) -> String {
        cut(&format!("{}/{client_id}", self.deployment), DEDUP_KEY_LIMIT)
    }

    /// `<deployment>/storm/<stormId>`.
    pub fn storm_key(&self, storm_id: &str) -> String {
        cut(
            &format!("{}/storm/{storm_id}", self.deployment),
            DEDUP_KEY_LIMIT,
        )
    }
}

/// What `event` (an EventBridge event) asks of PagerDuty.
pub fn intent_of(event: &Value, config: &PagingConfig) -> Result<Intent, Malformed> {
    let detail_type = event["detail-type"]
        .as_str()
        .ok_or_else(|| Malformed("no detail-type".into()))?;
    let detail = &event["detail"];
    let sequence = detail["sequence"]
        .as_u64()
        .ok_or_else(|| Malformed(format!("{detail_type} without a detail.sequence")))?;
    match detail_type {
        "Device Connected" | "Device Disconnected" => {
            device_intent(detail_type, detail, sequence, config)
        }
        "Fleet Connectivity Degraded" | "Fleet Connectivity Restored" => {
            storm_intent(detail_type, detail, sequence, config)
        }
        other => Err(Malformed(format!("detail-type {other:?}"))),
    }
}

fn device_intent(
    detail_type: &str,
    detail: &Value,
    sequence: u64,
    config: &PagingConfig,
) -> Result<Intent, Malformed> {
    let client_id = detail["clientId"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Malformed(format!("{detail_type} without a detail.clientId")))?;
    let thing = &detail["thing"];
    let subject = Subject {
        groups: strings(&thing["groups"]),
        type_name: thing["type"].as_str(),
        attributes: thing["attributes"]
            .as_object()
            .map(|map| {
                map.iter()
                    .filter_map(|(name, value)| Some((name.as_str(), value.as_str()?)))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let destination = config.destination(&subject);
    let quiet = detail.get("stormId").is_some()
        || (detail.get("maintenance").is_some() && !config.page_maintenance);
    let trigger = detail_type == "Device Disconnected" && !quiet;
    let payload = if trigger {
        device_payload(client_id, detail, &subject, &destination)
    } else {
        Value::Null
    };
    Ok(Intent {
        key: config.device_key(client_id),
        action: if trigger {
            Action::Trigger
        } else {
            Action::Resolve
        },
        sequence,
        hold: if trigger {
            config.storm_wait
        } else {
            Duration::ZERO
        },
        destination,
        payload,
        storm_devices: Vec::new(),
        storm_id: None,
    })
}

fn storm_intent(
    detail_type: &str,
    detail: &Value,
    sequence: u64,
    config: &PagingConfig,
) -> Result<Intent, Malformed> {
    let storm_id = detail["stormId"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| Malformed(format!("{detail_type} without a detail.stormId")))?;
    let group = detail["group"].as_str().unwrap_or_default();
    let group_by = detail["groupBy"].as_str().unwrap_or_default();
    let subject = match group_by {
        "thing_group" => Subject {
            groups: vec![group],
            type_name: None,
            attributes: vec![],
        },
        "thing_type" => Subject {
            groups: vec![],
            type_name: Some(group),
            attributes: vec![],
        },
        other => Subject {
            groups: vec![],
            type_name: None,
            attributes: other
                .strip_prefix("attribute:")
                .map(|name| vec![(name, group)])
                .unwrap_or_default(),
        },
    };
    let destination = config.destination(&subject);
    let degraded = detail_type == "Fleet Connectivity Degraded";
    let devices: Vec<String> = strings(&detail["clientIds"])
        .into_iter()
        .map(str::to_owned)
        .collect();
    let payload = if degraded {
        storm_payload(storm_id, detail, group_by, group, &destination)
    } else {
        Value::Null
    };
    Ok(Intent {
        key: config.storm_key(storm_id),
        action: if degraded {
            Action::Trigger
        } else {
            Action::Resolve
        },
        sequence,
        hold: Duration::ZERO,
        destination,
        payload,
        storm_devices: if degraded { devices } else { Vec::new() },
        storm_id: Some(storm_id.to_owned()),
    })
}

fn device_payload(
    client_id: &str,
    detail: &Value,
    subject: &Subject<'_>,
    destination: &Destination,
) -> Value {
    let name = detail["thing"]["name"].as_str().unwrap_or(client_id);
    let since = detail["disconnect"]["timestamp"].as_u64();
    let reason = detail["reason"]
        .as_str()
        .or_else(|| detail["disconnect"]["disconnectReason"].as_str());
    let mut summary = format!("{name} is disconnected");
    if let Some(since) = since {
        summary.push_str(&format!(" since {}", rfc3339(since)));
    }
    if let Some(reason) = reason {
        summary.push_str(&format!(" ({reason})"));
    }
    let mut payload = json!({
        "summary": cut(&summary, SUMMARY_LIMIT),
        "source": name,
        "severity": destination.severity,
        "class": "Device Disconnected",
        "custom_details": detail,
    });
    if let Some(type_name) = subject.type_name {
        payload["component"] = json!(type_name);
    }
    if let Some(group) = subject.groups.first() {
        payload["group"] = json!(group);
    }
    if let Some(since) = since {
        payload["timestamp"] = json!(rfc3339(since));
    }
    payload
}

fn storm_payload(
    storm_id: &str,
    detail: &Value,
    group_by: &str,
    group: &str,
    destination: &Destination,
) -> Value {
    let count = detail["disconnectedCount"].as_u64().unwrap_or_default();
    let mut summary = format!("{count} devices of {group} ({group_by}) are disconnected");
    if let Some(since) = detail["since"].as_u64() {
        summary.push_str(&format!(" since {}", rfc3339(since)));
    }
    summary.push_str(&format!(", storm {storm_id}"));
    json!({
        "summary": cut(&summary, SUMMARY_LIMIT),
        "source": group,
        "severity": destination.severity,
        "class": "Fleet Connectivity Degraded",
        "component": group_by,
        "group": group,
        "custom_details": detail,
    })
}

/// The Events API v2 body for `action` on `key`.
pub fn event_body(routing_key: &str, key: &str, action: Action, payload: &Value) -> Value {
    let mut body = json!({
        "routing_key": routing_key,
        "event_action": action.event_action(),
        "dedup_key": key,
    });
    if action == Action::Trigger {
        body["payload"] = payload.clone();
    }
    body
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// `text` cut to at most `limit` characters.
fn cut(text: &str, limit: usize) -> String {
    text.chars().take(limit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PagingConfig {
        PagingConfig {
            deployment: "prod".into(),
            routes: vec![
                Route {
                    thing_group: Some("site-a".into()),
                    thing_type: None,
                    attribute: None,
                    routing_key_secret_arn: "arn:site-a".into(),
                    severity: "error".into(),
                },
                Route {
                    thing_group: None,
                    thing_type: None,
                    attribute: Some(AttributeMatch {
                        name: "owner".into(),
                        value: "ops".into(),
                    }),
                    routing_key_secret_arn: "arn:ops".into(),
                    severity: "warning".into(),
                },
            ],
            default: Destination {
                routing_key_secret_arn: "arn:default".into(),
                severity: "critical".into(),
            },
            page_maintenance: false,
            storm_wait: Duration::from_secs(30),
        }
    }

    fn device(detail_type: &str, extra: Value) -> Value {
        let mut detail = json!({
            "clientId": "sensor-1", "sequence": 7,
            "disconnect": {"timestamp": 1_700_000_000_000u64, "disconnectReason": "MQTT_KEEP_ALIVE_TIMEOUT"},
            "thing": {"name": "sensor-1", "type": "battery-sensor", "attributes": {"owner": "ops"}, "groups": ["site-b"]},
        });
        for (name, value) in extra.as_object().unwrap() {
            detail[name] = value.clone();
        }
        json!({"detail-type": detail_type, "detail": detail})
    }

    #[test]
    fn a_disconnect_triggers_the_device_key_held_for_storms() {
        let intent = intent_of(&device("Device Disconnected", json!({})), &config()).unwrap();
        assert_eq!(intent.key, "prod/sensor-1");
        assert_eq!(intent.action, Action::Trigger);
        assert_eq!(intent.sequence, 7);
        assert_eq!(intent.hold, Duration::from_secs(30));
        assert_eq!(intent.destination.routing_key_secret_arn, "arn:ops");
        let payload = &intent.payload;
        assert_eq!(
            payload["summary"],
            "sensor-1 is disconnected since 2023-11-14T22:13:20Z (MQTT_KEEP_ALIVE_TIMEOUT)"
        );
        assert_eq!(payload["severity"], "warning");
        assert_eq!(payload["component"], "battery-sensor");
        assert_eq!(payload["group"], "site-b");
        assert_eq!(payload["custom_details"]["clientId"], "sensor-1");
    }

    #[test]
    fn a_connect_resolves_and_a_quiet_disconnect_asks_for_nothing_open() {
        let connected = intent_of(&device("Device Connected", json!({})), &config()).unwrap();
        assert_eq!(connected.action, Action::Resolve);
        let stormed = intent_of(
            &device("Device Disconnected", json!({"stormId": "s1"})),
            &config(),
        )
        .unwrap();
        assert_eq!(stormed.action, Action::Resolve);
        let maintained = json!({"maintenance": {"until": "x", "reason": "r"}});
        let in_maintenance = intent_of(
            &device("Device Disconnected", maintained.clone()),
            &config(),
        )
        .unwrap();
        assert_eq!(in_maintenance.action, Action::Resolve);
        let paging_maintenance = PagingConfig {
            page_maintenance: true,
            ..config()
        };
        let paged = intent_of(
            &device("Device Disconnected", maintained),
            &paging_maintenance,
        )
        .unwrap();
        assert_eq!(paged.action, Action::Trigger);
    }

    #[test]
    fn a_storm_triggers_its_own_key_routed_by_its_group_and_lists_its_devices() {
        let event = json!({"detail-type": "Fleet Connectivity Degraded", "detail": {
            "stormId": "st-1", "groupBy": "thing_group", "group": "site-a", "sequence": 3,
            "disconnectedCount": 60, "clientIds": ["a", "b"], "since": 1_700_000_000_000u64}});
        let intent = intent_of(&event, &config()).unwrap();
        assert_eq!(intent.key, "prod/storm/st-1");
        assert_eq!(intent.action, Action::Trigger);
        assert_eq!(intent.hold, Duration::ZERO);
        assert_eq!(intent.destination.routing_key_secret_arn, "arn:site-a");
        assert_eq!(intent.storm_devices, vec!["a", "b"]);
        assert!(intent.payload["summary"]
            .as_str()
            .unwrap()
            .starts_with("60 devices of site-a"));
        let restored = json!({"detail-type": "Fleet Connectivity Restored", "detail": {
            "stormId": "st-1", "groupBy": "thing_group", "group": "site-a", "sequence": 4}});
        let intent = intent_of(&restored, &config()).unwrap();
        assert_eq!(
            (intent.key.as_str(), intent.action),
            ("prod/storm/st-1", Action::Resolve)
        );
        assert!(intent.storm_devices.is_empty());
    }

    #[test]
    fn limits_are_kept() {
        let long = "x".repeat(300);
        assert_eq!(config().device_key(&long).chars().count(), DEDUP_KEY_LIMIT);
        let event = device("Device Disconnected", json!({"reason": "y".repeat(2000)}));
        let intent = intent_of(&event, &config()).unwrap();
        assert_eq!(
            intent.payload["summary"].as_str().unwrap().chars().count(),
            SUMMARY_LIMIT
        );
    }

    #[test]
    fn what_is_not_an_announcement_is_named() {
        for (event, needle) in [
            (json!({}), "detail-type"),
            (
                json!({"detail-type": "Device Connected", "detail": {}}),
                "sequence",
            ),
            (
                json!({"detail-type": "Device Connected", "detail": {"sequence": 1}}),
                "clientId",
            ),
            (
                json!({"detail-type": "Other", "detail": {"sequence": 1}}),
                "Other",
            ),
        ] {
            let err = intent_of(&event, &config()).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    #[test]
    fn a_resolve_carries_no_payload() {
        let body = event_body("k", "prod/x", Action::Resolve, &json!({"summary": "s"}));
        assert_eq!(
            body,
            json!({"routing_key": "k", "event_action": "resolve", "dedup_key": "prod/x"})
        );
    }
}

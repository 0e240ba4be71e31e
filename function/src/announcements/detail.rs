//! What an announcement says: its detail-type and its `detail` (the newest connect and
//! disconnect as stored, and how long the device was offline), read from the item or from
//! a stream image. Pure: no I/O.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Map, Value};

use crate::announcements::decision::{Farewell, Removal, Transition};
use crate::announcements::store::attr;
use crate::presence::ordering::Presence;
use crate::presence::store::Item;

/// The schema version of an announcement's `detail`.
pub const DETAIL_VERSION: &str = "1";

pub fn detail_type(connected: bool) -> &'static str {
    if connected {
        "Device Connected"
    } else {
        "Device Disconnected"
    }
}

/// The announcement's `detail`: its `sequence`, and the newest connect and disconnect as
/// stored.
pub fn detail_of(item: &Item, transition: &Transition, sequence: u64) -> Value {
    let connect = fields(
        item,
        &[
            ("versionNumber", attr::CONNECT_VERSION),
            ("timestamp", attr::CONNECT_TIME),
            ("sessionIdentifier", attr::SESSION_IDENTIFIER),
            ("principalIdentifier", attr::PRINCIPAL_IDENTIFIER),
            ("ipAddress", attr::IP_ADDRESS),
            ("thingName", attr::THING_NAME),
        ],
    );
    let disconnect = fields(
        item,
        &[
            ("versionNumber", attr::DISCONNECT_VERSION),
            ("timestamp", attr::DISCONNECT_TIME),
            ("disconnectReason", attr::DISCONNECT_REASON),
            (
                "clientInitiatedDisconnect",
                attr::CLIENT_INITIATED_DISCONNECT,
            ),
        ],
    );
    let mut detail = json!({
        "version": DETAIL_VERSION,
        "eventId": transition.event_id(),
        "clientId": transition.client_id,
        "status": transition.status.status(),
        "sequence": sequence,
        "connect": connect,
        "disconnect": disconnect,
    });
    if transition.status == Presence::Connected {
        // A return: the last announcement said Disconnected (null for a first sighting).
        let returning = text(item, attr::ANNOUNCED_STATUS).as_deref() == Some("Disconnected");
        let offline = disconnect["timestamp"]
            .as_i64()
            .filter(|&at| returning && at < transition.at)
            .map(|at| transition.at - at);
        detail["offlineDurationMs"] = json!(offline);
    }
    detail
}

/// The `detail` of an item's final `Device Disconnected`, from its last image `old`.
pub fn farewell_detail(
    old: &Item,
    client_id: &str,
    farewell: &Farewell,
    removal: Removal,
) -> Value {
    let transition = Transition {
        client_id: client_id.to_owned(),
        status: Presence::Disconnected,
        at: crate::presence::store::number_attr(old, attr::DISCONNECT_TIME).unwrap_or(0),
        created: crate::presence::store::number_attr(old, attr::CREATED_TIME).unwrap_or(0),
    };
    let mut detail = detail_of(old, &transition, farewell.sequence);
    detail["eventId"] = json!(farewell.event_id);
    detail["reason"] = json!(removal.reason());
    detail
}

/// The `sequence` of a stored detail (JSON); None for one claimed before sequences.
pub fn sequence_of(detail: &str) -> Option<u64> {
    serde_json::from_str::<Value>(detail).ok()?["sequence"].as_u64()
}

/// The stored detail with its `sequence` set.
pub fn with_sequence(detail: &str, sequence: u64) -> String {
    let mut fields: Value = serde_json::from_str(detail).unwrap_or_else(|_| json!({}));
    fields["sequence"] = json!(sequence);
    fields.to_string()
}

fn fields(item: &Item, names: &[(&str, &str)]) -> Value {
    let mut map = Map::new();
    for (key, attribute) in names {
        let value = match item.get(*attribute) {
            Some(AttributeValue::S(text)) => json!(text),
            Some(AttributeValue::N(number)) => number
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| json!(number)),
            Some(AttributeValue::Bool(flag)) => json!(flag),
            _ => continue,
        };
        map.insert((*key).to_owned(), value);
    }
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}

pub(crate) fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name)?.as_s().ok().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::stream::item_of;

    #[test]
    fn stream_images_read_as_items() {
        let image = json!({"ClientID": {"S": "a"}, "ConnectTime": {"N": "5"},
                           "ClientInitiatedDisconnect": {"BOOL": false}, "Tags": {"SS": ["x"]}});
        let item = item_of(&image);
        assert_eq!(item.len(), 3);
        assert_eq!(item["ConnectTime"], AttributeValue::N("5".into()));
    }

    #[test]
    fn a_return_says_how_long_the_device_was_offline() {
        let item = item_of(&json!({
            "ClientID": {"S": "a"}, "Status": {"S": "Connected"},
            "ConnectVersionNum": {"N": "3"}, "ConnectTime": {"N": "9000"},
            "DisconnectVersionNum": {"N": "2"}, "DisconnectTime": {"N": "4000"},
            "DisconnectReason": {"S": "CONNECTION_LOST"}, "AnnouncedStatus": {"S": "Disconnected"}
        }));
        let transition = Transition {
            client_id: "a".into(),
            status: Presence::Connected,
            at: 9000,
            created: 0,
        };
        let detail = detail_of(&item, &transition, 12);
        assert_eq!(detail["sequence"], 12);
        assert_eq!(detail["offlineDurationMs"], 5000);
        assert_eq!(detail["connect"]["versionNumber"], 3);
        assert_eq!(detail["disconnect"]["disconnectReason"], "CONNECTION_LOST");
        assert_eq!(detail["eventId"], transition.event_id());
        assert_eq!(detail["version"], DETAIL_VERSION);

        let mut first_sighting = item.clone();
        first_sighting.remove("AnnouncedStatus");
        let detail = detail_of(&first_sighting, &transition, 12);
        assert_eq!(detail["offlineDurationMs"], Value::Null);
    }

    #[test]
    fn a_detail_stored_without_a_sequence_is_stamped_with_one() {
        let old = r#"{"eventId": "e", "status": "Connected"}"#;
        assert_eq!(sequence_of(old), None);
        let stamped = with_sequence(old, 42);
        assert_eq!(sequence_of(&stamped), Some(42));
        assert!(stamped.contains(r#""eventId":"e""#));
    }

    #[test]
    fn a_farewell_says_why_and_what_the_item_last_held() {
        let old = item_of(&json!({
            "ClientID": {"S": "a"}, "Status": {"S": "Connected"}, "ConnectTime": {"N": "9000"},
            "AnnouncedStatus": {"S": "Connected"}
        }));
        let farewell = Farewell {
            event_id: "e".into(),
            sequence: 8,
        };
        let detail = farewell_detail(&old, "a", &farewell, Removal::Expired);
        assert_eq!(detail["status"], "Disconnected");
        assert_eq!(detail["reason"], "ITEM_EXPIRED");
        assert_eq!(detail["sequence"], 8);
        assert_eq!(detail["eventId"], "e");
        assert_eq!(detail["connect"]["timestamp"], 9000);
    }
}

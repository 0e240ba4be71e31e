//! What the dead-letter queue holds, and which of it is a lifecycle event to re-drive.

use base64::Engine;
use serde_json::Value;

/// The lifecycle event a dead-letter message carries: the `requestPayload` of the record
/// Lambda's on-failure destination sends, or the `base64OriginalPayload` of the rule's
/// error action. Anything else (a notifier's stream batch description, a grace-period
/// message) is not an event and stays in the queue.
pub fn event_of(body: &str) -> Result<Value, &'static str> {
    let message: Value = serde_json::from_str(body).map_err(|_| "the message is not JSON")?;
    if let Some(payload) = message.get("requestPayload") {
        return Ok(payload.clone());
    }
    if let Some(encoded) = message.get("base64OriginalPayload").and_then(Value::as_str) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| "base64OriginalPayload is not base64")?;
        return serde_json::from_slice(&raw).map_err(|_| "base64OriginalPayload is not JSON");
    }
    Err("neither a Lambda destination record nor an IoT rule error action message")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_come_out_of_both_kinds_of_message() {
        let event = json!({"clientId": "gw-1", "eventType": "connected"});
        let destination =
            json!({"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": event});
        assert_eq!(event_of(&destination.to_string()), Ok(event.clone()));
        let encoded = base64::engine::general_purpose::STANDARD.encode(event.to_string());
        let error_action = json!({"ruleName": "r", "base64OriginalPayload": encoded});
        assert_eq!(event_of(&error_action.to_string()), Ok(event));
        assert!(event_of(r#"{"DDBStreamBatchInfo": {}}"#).is_err());
        assert!(event_of("not json").is_err());
    }
}

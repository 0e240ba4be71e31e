//! PagerDuty's side: the Events API v2 (one POST per event) and the routing keys, read
//! from Secrets Manager and kept a few minutes (the key is never in the function's
//! environment or Terraform's state).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use super::decision::Answer;

/// A post that has no answer by then is retried later (the key's claim outlives it).
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a routing key read from its secret is used before it is read again (a rotated
/// key is picked up within this).
const KEY_CACHE: Duration = Duration::from_secs(300);

pub struct EventsApi {
    http: reqwest::Client,
    url: String,
}

impl EventsApi {
    pub fn new(url: String) -> Self {
        let http = reqwest::Client::builder()
            .timeout(POST_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .build()
            .expect("an HTTP client with rustls and the bundled roots builds");
        EventsApi { http, url }
    }

    /// Posts one event; any failure to get an answer is one to retry later.
    pub async fn post(&self, body: &Value) -> Answer {
        match self.http.post(&self.url).json(body).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                Answer::of_status(status, &text)
            }
            Err(err) => Answer::Unknown(format!("no answer from {}: {err}", self.url)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the routing key secret {arn}: {message}")]
    Unreadable { arn: String, message: String },
    #[error("the routing key secret {arn} holds neither a key nor JSON with routing_key")]
    Empty { arn: String },
}

/// Routing keys by their secret's ARN.
pub struct RoutingKeys {
    client: aws_sdk_secretsmanager::Client,
    cache: Mutex<HashMap<String, (String, Instant)>>,
}

impl RoutingKeys {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        RoutingKeys {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub async fn get(&self, arn: &str) -> Result<String, KeyError> {
        if let Some((key, read_at)) = self.cache.lock().await.get(arn) {
            if read_at.elapsed() < KEY_CACHE {
                return Ok(key.clone());
            }
        }
        let secret = self
            .client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|err| KeyError::Unreadable {
                arn: arn.to_owned(),
                message: aws_sdk_secretsmanager::error::DisplayErrorContext(err).to_string(),
            })?;
        let key = routing_key_of(secret.secret_string().unwrap_or_default()).ok_or_else(|| {
            KeyError::Empty {
                arn: arn.to_owned(),
            }
        })?;
        self.cache
            .lock()
            .await
            .insert(arn.to_owned(), (key.clone(), Instant::now()));
        Ok(key)
    }
}

impl RoutingKeys {
    /// Forgets a key PagerDuty refused an event with, so a re-drive after the secret was
    /// fixed reads it again.
    pub async fn forget(&self, arn: &str) {
        self.cache.lock().await.remove(arn);
    }
}

/// The key a secret string holds: the key itself, or JSON `{"routing_key": "..."}`.
pub fn routing_key_of(secret: &str) -> Option<String> {
    let secret = secret.trim();
    let key = match serde_json::from_str::<Value>(secret) {
        Ok(Value::Object(map)) => map.get("routing_key")?.as_str()?.trim().to_owned(),
        _ => secret.to_owned(),
    };
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_holds_the_key_or_json_naming_it() {
        assert_eq!(routing_key_of(" abc \n").as_deref(), Some("abc"));
        assert_eq!(
            routing_key_of(r#"{"routing_key": "abc"}"#).as_deref(),
            Some("abc")
        );
        assert_eq!(routing_key_of(r#"{"other": "abc"}"#), None);
        assert_eq!(routing_key_of(""), None);
    }
}

//! A deployment's settings, kept as tags on its table by the module, so that every writer
//! of the table writes what the functions write knowing only the table's name.
//!
//! The functions read their settings from their environment; the operators' CLIs
//! (`replay`, `connectivity`) read them from the table ([`read`]), and refuse what the
//! operator states if it disagrees ([`Settings::agreeing_with`]). Tags rather than an item:
//! an item would be one more row in every scan, stream and count, under a key some client
//! ID could take; tags are metadata that no reader of items ever sees.
//!
//! Its unit tests (parsing, encoding and the agreement check) are in deployment/tests.rs.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use base64::Engine;

/// The tags, as `main.tf` writes them (`local.settings_tags`).
pub mod tag {
    /// Present on every table the module deploys from this release on.
    pub const VERSION: &str = "iot-connectivity:settings-version";
    /// The status index's shard count, or `off`.
    pub const STATUS_INDEX_SHARDS: &str = "iot-connectivity:status-index-shards";
    /// Seconds a disconnected item lives (DynamoDB TTL), or `off`.
    pub const ITEM_TTL_SECONDS: &str = "iot-connectivity:item-ttl-seconds";
    /// `true` or `false`.
    pub const RECORD_UNKNOWN_CONNECT_FAILURES: &str =
        "iot-connectivity:record-unknown-connect-failures";
    /// Base64 of a JSON list of strings: tag values allow only letters, digits, spaces and
    /// `+ - = . _ : /`.
    pub const IGNORED_CLIENT_ID_PREFIXES: &str = "iot-connectivity:ignored-client-id-prefixes";
    /// The ConnectedDevices counts table, or `off`.
    pub const COUNTS_TABLE: &str = "iot-connectivity:counts-table";
    /// The counter shards, with a counts table.
    pub const COUNTER_SHARDS: &str = "iot-connectivity:counter-shards";
    /// `true` when connectivity events are on: presence writes mark what is owed.
    pub const ANNOUNCEMENTS: &str = "iot-connectivity:announcements";
    /// The connectivity history table, or `off` (absent on tables tagged before history
    /// existed: off).
    pub const HISTORY_TABLE: &str = "iot-connectivity:history-table";
    /// Seconds a history event is kept, with a history table.
    pub const HISTORY_RETENTION_SECONDS: &str = "iot-connectivity:history-retention-seconds";
    /// The fleet table (maintenance windows, storm digests), or `off` (absent on tables
    /// tagged before it existed: off).
    pub const FLEET_TABLE: &str = "iot-connectivity:fleet-table";
}

/// The only version of the tags' layout so far.
pub const VERSION: &str = "1";
const OFF: &str = "off";

/// What changes what a write to the table looks like.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    pub ignored_client_id_prefixes: Vec<String>,
    pub item_ttl: Option<Duration>,
    pub record_unknown_connect_failures: bool,
    pub status_index_shards: Option<u32>,
    pub counts: Option<CountsSettings>,
    /// Connectivity events are on: presence writes mark the item as owing an announcement.
    pub announcements: bool,
    pub history: Option<HistorySettings>,
    /// The fleet table (maintenance windows, storm digests).
    pub fleet_table: Option<String>,
}

/// Where every connect and disconnect is kept, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistorySettings {
    pub table: String,
    pub retention: Duration,
}

/// Where the ConnectedDevices count is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountsSettings {
    pub table: String,
    pub shards: u32,
}

/// The settings an operator states in the environment or in flags; `None`: not stated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stated {
    pub ignored_client_id_prefixes: Option<Vec<String>>,
    pub item_ttl: Option<Duration>,
    pub record_unknown_connect_failures: Option<bool>,
    pub status_index_shards: Option<u32>,
    pub counts_table: Option<String>,
    pub counter_shards: Option<u32>,
    pub announcements: Option<bool>,
    pub history_table: Option<String>,
    pub history_retention: Option<Duration>,
}

/// A history kept for 90 days unless stated otherwise (the module's default).
pub const DEFAULT_HISTORY_RETENTION: Duration = Duration::from_secs(90 * 86_400);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("{variable} must be {expected}, got {got:?}")]
    InvalidVariable {
        variable: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("table tag {tag} is {got:?}, which this release cannot read")]
    InvalidTag { tag: &'static str, got: String },
    #[error("table tag {0} is missing")]
    MissingTag(&'static str),
    #[error(
        "the table's settings are version {0:?}; this release reads version {VERSION}: use the release that deployed the table"
    )]
    UnknownVersion(String),
    #[error(
        "{setting} is {stated}, but table {table} was deployed with {table_value} (tag {tag}): unset it, or pass --override-table-settings to write with {stated} anyway"
    )]
    Disagreement {
        table: String,
        setting: &'static str,
        tag: &'static str,
        stated: String,
        table_value: String,
    },
    #[error(
        "table {0} carries no deployment settings (tags iot-connectivity:*): it was deployed by a version of the module from before the settings were tagged, or not by the module. Upgrade the module and apply, or pass --override-table-settings with the settings in the environment (the module's output operator_environment)"
    )]
    NotTagged(String),
    #[error("reading the settings of table {table}: {message}")]
    Read { table: String, message: String },
}

impl Stated {
    /// Reads `IGNORED_CLIENT_ID_PREFIXES` (comma-separated), `ITEM_TTL_SECONDS`,
    /// `RECORD_UNKNOWN_CONNECT_FAILURES`, `STATUS_INDEX_SHARDS`, `COUNTS_TABLE_NAME`,
    /// `COUNTER_SHARDS`, `ANNOUNCEMENTS_ENABLED`, `HISTORY_TABLE_NAME` and
    /// `HISTORY_RETENTION_SECONDS`; an empty variable is not stated.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let invalid = |variable, expected, got: String| SettingsError::InvalidVariable {
            variable,
            expected,
            got,
        };
        let flag = |name: &'static str| {
            var(name)
                .map(|text| match text.trim() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err(invalid(name, "true or false", text)),
                })
                .transpose()
        };
        let number = |name: &'static str, range: std::ops::RangeInclusive<u64>, expected| {
            var(name)
                .map(|text| {
                    text.trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|value| range.contains(value))
                        .ok_or_else(|| invalid(name, expected, text))
                })
                .transpose()
        };
        Ok(Self {
            ignored_client_id_prefixes: var("IGNORED_CLIENT_ID_PREFIXES")
                .map(|list| parse_prefixes(&list)),
            item_ttl: number(
                "ITEM_TTL_SECONDS",
                1..=u64::MAX,
                "a whole number of seconds",
            )?
            .map(Duration::from_secs),
            record_unknown_connect_failures: flag("RECORD_UNKNOWN_CONNECT_FAILURES")?,
            status_index_shards: number(
                "STATUS_INDEX_SHARDS",
                1..=1024,
                "a whole number from 1 to 1024",
            )?
            .map(|shards| shards as u32),
            counts_table: var("COUNTS_TABLE_NAME"),
            counter_shards: number("COUNTER_SHARDS", 1..=100, "a whole number from 1 to 100")?
                .map(|shards| shards as u32),
            announcements: flag("ANNOUNCEMENTS_ENABLED")?,
            history_table: var("HISTORY_TABLE_NAME"),
            history_retention: number(
                "HISTORY_RETENTION_SECONDS",
                1..=u64::MAX,
                "a whole number of seconds",
            )?
            .map(Duration::from_secs),
        })
    }

    /// The settings as stated, with the module's defaults for what is not: how the
    /// functions read their environment, and what `--override-table-settings` writes with.
    pub fn into_settings(self) -> Settings {
        Settings {
            ignored_client_id_prefixes: self.ignored_client_id_prefixes.unwrap_or_default(),
            item_ttl: self.item_ttl,
            record_unknown_connect_failures: self.record_unknown_connect_failures.unwrap_or(false),
            status_index_shards: self.status_index_shards,
            counts: self.counts_table.map(|table| CountsSettings {
                table,
                shards: self.counter_shards.unwrap_or(64),
            }),
            announcements: self.announcements.unwrap_or(false),
            history: self.history_table.map(|table| HistorySettings {
                table,
                retention: self.history_retention.unwrap_or(DEFAULT_HISTORY_RETENTION),
            }),
            fleet_table: None,
        }
    }
}

impl Settings {
    /// The settings in `tags`; `None` when the table carries none (an older release).
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Result<Option<Self>, SettingsError> {
        let Some(version) = tags.get(tag::VERSION) else {
            return Ok(None);
        };
        if version != VERSION {
            return Err(SettingsError::UnknownVersion(version.clone()));
        }
        let get = |name: &'static str| {
            tags.get(name)
                .map(String::as_str)
                .ok_or(SettingsError::MissingTag(name))
        };
        let invalid = |name: &'static str, got: &str| SettingsError::InvalidTag {
            tag: name,
            got: got.to_owned(),
        };
        let number_or_off = |name: &'static str| -> Result<Option<u64>, SettingsError> {
            match get(name)? {
                OFF => Ok(None),
                text => text.parse().map(Some).map_err(|_| invalid(name, text)),
            }
        };
        let prefixes = get(tag::IGNORED_CLIENT_ID_PREFIXES)?;
        let flag = |name: &'static str| match get(name)? {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(invalid(name, other)),
        };
        let counts = match get(tag::COUNTS_TABLE)? {
            OFF => None,
            table => Some(CountsSettings {
                table: table.to_owned(),
                shards: {
                    let text = get(tag::COUNTER_SHARDS)?;
                    text.parse()
                        .map_err(|_| invalid(tag::COUNTER_SHARDS, text))?
                },
            }),
        };
        let history = match tags.get(tag::HISTORY_TABLE).map(String::as_str) {
            None | Some(OFF) => None,
            Some(table) => Some(HistorySettings {
                table: table.to_owned(),
                retention: Duration::from_secs(
                    number_or_off(tag::HISTORY_RETENTION_SECONDS)?
                        .ok_or_else(|| invalid(tag::HISTORY_RETENTION_SECONDS, OFF))?,
                ),
            }),
        };
        Ok(Some(Self {
            ignored_client_id_prefixes: base64::engine::general_purpose::STANDARD
                .decode(prefixes)
                .ok()
                .and_then(|json| serde_json::from_slice(&json).ok())
                .ok_or_else(|| invalid(tag::IGNORED_CLIENT_ID_PREFIXES, prefixes))?,
            item_ttl: number_or_off(tag::ITEM_TTL_SECONDS)?.map(Duration::from_secs),
            record_unknown_connect_failures: flag(tag::RECORD_UNKNOWN_CONNECT_FAILURES)?,
            status_index_shards: number_or_off(tag::STATUS_INDEX_SHARDS)?
                .map(|shards| {
                    u32::try_from(shards).map_err(|_| invalid(tag::STATUS_INDEX_SHARDS, "large"))
                })
                .transpose()?,
            counts,
            announcements: flag(tag::ANNOUNCEMENTS)?,
            history,
            fleet_table: tags
                .get(tag::FLEET_TABLE)
                .filter(|table| table.as_str() != OFF)
                .cloned(),
        }))
    }

    /// The tags that say these settings, as the module writes them.
    pub fn to_tags(&self) -> BTreeMap<String, String> {
        let or_off = |value: Option<String>| value.unwrap_or_else(|| OFF.to_owned());
        let prefixes = serde_json::to_vec(&self.ignored_client_id_prefixes).expect("strings");
        let mut tags = BTreeMap::from([
            (tag::VERSION, VERSION.to_owned()),
            (
                tag::STATUS_INDEX_SHARDS,
                or_off(self.status_index_shards.map(|n| n.to_string())),
            ),
            (
                tag::ITEM_TTL_SECONDS,
                or_off(self.item_ttl.map(|ttl| ttl.as_secs().to_string())),
            ),
            (
                tag::RECORD_UNKNOWN_CONNECT_FAILURES,
                self.record_unknown_connect_failures.to_string(),
            ),
            (
                tag::IGNORED_CLIENT_ID_PREFIXES,
                base64::engine::general_purpose::STANDARD.encode(prefixes),
            ),
            (
                tag::COUNTS_TABLE,
                or_off(self.counts.as_ref().map(|counts| counts.table.clone())),
            ),
            (tag::ANNOUNCEMENTS, self.announcements.to_string()),
            (
                tag::HISTORY_TABLE,
                or_off(self.history.as_ref().map(|history| history.table.clone())),
            ),
        ]);
        // Written only when on: tables deployed without one keep the tags they had.
        if let Some(fleet_table) = &self.fleet_table {
            tags.insert(tag::FLEET_TABLE, fleet_table.clone());
        }
        if let Some(counts) = &self.counts {
            tags.insert(tag::COUNTER_SHARDS, counts.shards.to_string());
        }
        if let Some(history) = &self.history {
            tags.insert(
                tag::HISTORY_RETENTION_SECONDS,
                history.retention.as_secs().to_string(),
            );
        }
        tags.into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect()
    }

    /// These settings, unless the operator stated one otherwise: then an error naming
    /// both values, never a silent choice.
    pub fn agreeing_with(self, stated: &Stated, table: &str) -> Result<Self, SettingsError> {
        let disagreement = |setting, tag, stated: String, table_value: String| {
            Err(SettingsError::Disagreement {
                table: table.to_owned(),
                setting,
                tag,
                stated,
                table_value,
            })
        };
        let counts = self.counts.as_ref();
        let history = self.history.as_ref();
        let seconds = |duration: Duration| duration.as_secs().to_string();
        // (setting, tag, what the environment states, what the table says), each as shown
        // in the error; a setting the environment does not state is not compared.
        let settings: [(&'static str, &'static str, Option<String>, Option<String>); 9] = [
            (
                "IGNORED_CLIENT_ID_PREFIXES",
                tag::IGNORED_CLIENT_ID_PREFIXES,
                stated
                    .ignored_client_id_prefixes
                    .as_ref()
                    .map(|p| format!("{p:?}")),
                Some(format!("{:?}", self.ignored_client_id_prefixes)),
            ),
            (
                "ITEM_TTL_SECONDS",
                tag::ITEM_TTL_SECONDS,
                stated.item_ttl.map(seconds),
                self.item_ttl.map(seconds),
            ),
            (
                "RECORD_UNKNOWN_CONNECT_FAILURES",
                tag::RECORD_UNKNOWN_CONNECT_FAILURES,
                stated
                    .record_unknown_connect_failures
                    .map(|r| r.to_string()),
                Some(self.record_unknown_connect_failures.to_string()),
            ),
            (
                "STATUS_INDEX_SHARDS",
                tag::STATUS_INDEX_SHARDS,
                stated.status_index_shards.map(|n| n.to_string()),
                self.status_index_shards.map(|n| n.to_string()),
            ),
            (
                "COUNTS_TABLE_NAME",
                tag::COUNTS_TABLE,
                stated.counts_table.clone(),
                counts.map(|counts| counts.table.clone()),
            ),
            (
                "ANNOUNCEMENTS_ENABLED",
                tag::ANNOUNCEMENTS,
                stated.announcements.map(|a| a.to_string()),
                Some(self.announcements.to_string()),
            ),
            (
                "COUNTER_SHARDS",
                tag::COUNTER_SHARDS,
                stated.counter_shards.map(|n| n.to_string()),
                counts.map(|counts| counts.shards.to_string()),
            ),
            (
                "HISTORY_TABLE_NAME",
                tag::HISTORY_TABLE,
                stated.history_table.clone(),
                history.map(|history| history.table.clone()),
            ),
            (
                "HISTORY_RETENTION_SECONDS",
                tag::HISTORY_RETENTION_SECONDS,
                stated.history_retention.map(seconds),
                history.map(|history| seconds(history.retention)),
            ),
        ];
        for (setting, tag, stated, table_value) in settings {
            if let Some(stated) = stated {
                if Some(&stated) != table_value.as_ref() {
                    return disagreement(
                        setting,
                        tag,
                        stated,
                        table_value.unwrap_or_else(|| OFF.to_owned()),
                    );
                }
            }
        }
        Ok(self)
    }
}

/// The table's tags: `DescribeTable` for its ARN, then `ListTagsOfResource`, the two read
/// actions an operator needs beyond the items.
pub async fn table_tags(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<BTreeMap<String, String>, SettingsError> {
    let read_error = |message: String| SettingsError::Read {
        table: table.to_owned(),
        message,
    };
    let described = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|err| read_error(format!("DescribeTable: {}", DisplayErrorContext(err))))?;
    let arn = described
        .table
        .and_then(|description| description.table_arn)
        .ok_or_else(|| read_error("DescribeTable returned no TableArn".to_owned()))?;
    let mut tags = BTreeMap::new();
    let mut next_token = None;
    loop {
        let page = dynamodb
            .list_tags_of_resource()
            .resource_arn(&arn)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|err| {
                read_error(format!("ListTagsOfResource: {}", DisplayErrorContext(err)))
            })?;
        for tag in page.tags.unwrap_or_default() {
            tags.insert(tag.key, tag.value);
        }
        next_token = page.next_token;
        if next_token.is_none() {
            return Ok(tags);
        }
    }
}

/// The settings an operator's command writes with: the table's, checked against what the
/// operator stated; or, with `override_table`, what the operator stated.
pub async fn resolve(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    stated: Stated,
    override_table: bool,
) -> Result<Settings, SettingsError> {
    if override_table {
        return Ok(stated.into_settings());
    }
    Settings::from_tags(&table_tags(dynamodb, table).await?)?
        .ok_or_else(|| SettingsError::NotTagged(table.to_owned()))?
        .agreeing_with(&stated, table)
}

pub(crate) fn parse_prefixes(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|prefix| !prefix.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests;

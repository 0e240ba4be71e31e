//! Unit tests of [`super`].
use super::*;

fn deployed() -> Settings {
    Settings {
        ignored_client_id_prefixes: vec!["iotconsole".into(), "test/".into()],
        item_ttl: Some(Duration::from_secs(7_776_000)),
        record_unknown_connect_failures: true,
        status_index_shards: Some(64),
        counts: Some(CountsSettings {
            table: "fleet-counts".into(),
            shards: 32,
        }),
        announcements: true,
        history: Some(HistorySettings {
            table: "fleet-history".into(),
            retention: Duration::from_secs(7_776_000),
        }),
        fleet_table: Some("fleet-fleet".into()),
    }
}

fn stated(vars: &[(&str, &str)]) -> Result<Stated, SettingsError> {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Stated::from_lookup(|name| vars.get(name).cloned())
}

#[test]
fn prefixes_are_trimmed_and_empty_entries_dropped() {
    assert_eq!(parse_prefixes(""), Vec::<String>::new());
    assert_eq!(
        parse_prefixes(" iotconsole, ,test-,"),
        ["iotconsole", "test-"]
    );
}

#[test]
fn tags_read_back_as_the_settings_they_say() {
    for settings in [deployed(), Settings::default()] {
        assert_eq!(
            Settings::from_tags(&settings.to_tags()).unwrap(),
            Some(settings)
        );
    }
}

/// What `main.tf` writes for examples/complete's settings (base64encode(jsonencode(...)),
/// "off" for what is off), read as this code reads it.
#[test]
fn the_modules_encoding_of_prefixes_reads_back() {
    let mut tags = Settings::default().to_tags();
    tags.insert(
        tag::IGNORED_CLIENT_ID_PREFIXES.into(),
        "WyJpb3Rjb25zb2xlIl0=".into(),
    );
    let settings = Settings::from_tags(&tags).unwrap().unwrap();
    assert_eq!(settings.ignored_client_id_prefixes, ["iotconsole"]);
    assert_eq!(settings.status_index_shards, None);
    assert_eq!(settings.counts, None);
}

/// Tables tagged before history existed carry no history tag: history is off.
#[test]
fn a_table_tagged_before_history_has_none() {
    let mut tags = deployed().to_tags();
    tags.remove(tag::HISTORY_TABLE);
    tags.remove(tag::HISTORY_RETENTION_SECONDS);
    assert_eq!(Settings::from_tags(&tags).unwrap().unwrap().history, None);
}

#[test]
fn a_table_without_the_version_tag_has_no_settings() {
    let mut tags = deployed().to_tags();
    tags.remove(tag::VERSION);
    assert_eq!(Settings::from_tags(&tags).unwrap(), None);
}

#[test]
fn unreadable_tags_are_errors_not_defaults() {
    let mut tags = deployed().to_tags();
    tags.insert(tag::STATUS_INDEX_SHARDS.into(), "many".into());
    assert!(matches!(
        Settings::from_tags(&tags),
        Err(SettingsError::InvalidTag { .. })
    ));
    let mut tags = deployed().to_tags();
    tags.insert(tag::VERSION.into(), "2".into());
    assert!(matches!(
        Settings::from_tags(&tags),
        Err(SettingsError::UnknownVersion(_))
    ));
    let mut tags = deployed().to_tags();
    tags.remove(tag::ITEM_TTL_SECONDS);
    assert_eq!(
        Settings::from_tags(&tags),
        Err(SettingsError::MissingTag(tag::ITEM_TTL_SECONDS))
    );
}

#[test]
fn unstated_settings_come_from_the_table_and_agreeing_ones_pass() {
    let nothing = stated(&[]).unwrap();
    assert_eq!(deployed().agreeing_with(&nothing, "t").unwrap(), deployed());
    let agreeing = stated(&[
        ("STATUS_INDEX_SHARDS", "64"),
        ("ITEM_TTL_SECONDS", "7776000"),
        ("IGNORED_CLIENT_ID_PREFIXES", "iotconsole,test/"),
        ("RECORD_UNKNOWN_CONNECT_FAILURES", "true"),
        ("COUNTS_TABLE_NAME", "fleet-counts"),
        ("COUNTER_SHARDS", "32"),
        ("ANNOUNCEMENTS_ENABLED", "true"),
        ("HISTORY_TABLE_NAME", "fleet-history"),
        ("HISTORY_RETENTION_SECONDS", "7776000"),
    ])
    .unwrap();
    assert_eq!(
        deployed().agreeing_with(&agreeing, "t").unwrap(),
        deployed()
    );
}

#[test]
fn every_disagreeing_setting_is_refused_naming_both_values() {
    let cases = [
        ("STATUS_INDEX_SHARDS", "8", "64"),
        ("ITEM_TTL_SECONDS", "60", "7776000"),
        ("IGNORED_CLIENT_ID_PREFIXES", "iotconsole", "test/"),
        ("RECORD_UNKNOWN_CONNECT_FAILURES", "false", "true"),
        ("COUNTS_TABLE_NAME", "other-counts", "fleet-counts"),
        ("COUNTER_SHARDS", "64", "32"),
        ("ANNOUNCEMENTS_ENABLED", "false", "true"),
        ("HISTORY_TABLE_NAME", "other-history", "fleet-history"),
        ("HISTORY_RETENTION_SECONDS", "86400", "7776000"),
    ];
    for (variable, value, table_value) in cases {
        let message = deployed()
            .agreeing_with(&stated(&[(variable, value)]).unwrap(), "fleet")
            .unwrap_err()
            .to_string();
        for part in [
            variable,
            value,
            table_value,
            "fleet",
            "--override-table-settings",
        ] {
            assert!(message.contains(part), "{part} not in: {message}");
        }
    }
    let off = Settings::default()
        .agreeing_with(&stated(&[("STATUS_INDEX_SHARDS", "64")]).unwrap(), "t")
        .unwrap_err()
        .to_string();
    assert!(off.contains("with off"), "{off}");
}

#[test]
fn stated_values_are_validated() {
    for (variable, value) in [
        ("STATUS_INDEX_SHARDS", "0"),
        ("STATUS_INDEX_SHARDS", "1025"),
        ("ITEM_TTL_SECONDS", "soon"),
        ("RECORD_UNKNOWN_CONNECT_FAILURES", "yes"),
        ("COUNTER_SHARDS", "101"),
    ] {
        let err = stated(&[(variable, value)]).unwrap_err();
        assert!(err.to_string().contains(variable), "{err}");
    }
    assert_eq!(
        stated(&[("ITEM_TTL_SECONDS", " "), ("STATUS_INDEX_SHARDS", "")]).unwrap(),
        Stated::default(),
        "empty is not stated"
    );
}

//! What the thing registry says of a device, and what follows from it: the announcement's
//! `detail.thing`, its grace period ([`grace_for`]) and its storm group ([`GroupBy::key`]).
//! Pure: the registry is read in [`crate::announcements::registry`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

/// The registry's answer for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// The thing, as the registry describes it.
    Known(Thing),
    /// The registry has no such thing: the announcement carries no `thing`.
    NoThing,
    /// The registry did not answer in time (throttled, failing): the announcement is put
    /// without the context rather than held, saying so.
    Unavailable { name: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Thing {
    pub name: String,
    pub type_name: Option<String>,
    pub attributes: BTreeMap<String, String>,
    /// The thing's groups, sorted by name.
    pub groups: Vec<String>,
}

impl Context {
    /// `detail.thing`, or None when the announcement carries none.
    pub fn detail(&self) -> Option<Value> {
        match self {
            Context::Known(thing) => Some(json!({
                "name": thing.name,
                "type": thing.type_name,
                "attributes": thing.attributes,
                "groups": thing.groups,
            })),
            Context::NoThing => None,
            Context::Unavailable { name } => Some(json!({"name": name, "unavailable": true})),
        }
    }

    /// The context an earlier announcement carried (`detail.thing`), if it was known then:
    /// what a look falls back on when the registry cannot answer in time.
    pub fn from_detail(thing: &Value) -> Option<Context> {
        if thing.get("unavailable").is_some() {
            return None;
        }
        let text = |v: &Value| v.as_str().map(str::to_owned);
        Some(Context::Known(Thing {
            name: text(&thing["name"])?,
            type_name: text(&thing["type"]),
            attributes: thing["attributes"]
                .as_object()
                .map(|map| {
                    map.iter()
                        .filter_map(|(k, v)| Some((k.clone(), text(v)?)))
                        .collect()
                })
                .unwrap_or_default(),
            groups: thing["groups"]
                .as_array()
                .map(|groups| groups.iter().filter_map(text).collect())
                .unwrap_or_default(),
        }))
    }

    pub fn thing(&self) -> Option<&Thing> {
        match self {
            Context::Known(thing) => Some(thing),
            _ => None,
        }
    }
}

/// The thing a client's announcements describe: the thing it connected as (the lifecycle
/// event's `thingName`, exclusive-thing connections only), else the one named like it.
pub fn thing_name<'a>(client_id: &'a str, connected_as: Option<&'a str>) -> &'a str {
    connected_as
        .filter(|name| !name.is_empty())
        .unwrap_or(client_id)
}

/// One entry of `disconnect_grace_period_overrides`, as the module passes it (JSON of the
/// Terraform value): exactly one matcher, checked at plan.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GraceOverride {
    #[serde(default)]
    pub thing_group: Option<String>,
    #[serde(default)]
    pub thing_type: Option<String>,
    #[serde(default)]
    pub attribute: Option<AttributeMatch>,
    pub seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AttributeMatch {
    pub name: String,
    pub value: String,
}

impl GraceOverride {
    fn matches(&self, thing: &Thing) -> bool {
        if let Some(group) = &self.thing_group {
            return thing.groups.contains(group);
        }
        if let Some(type_name) = &self.thing_type {
            return thing.type_name.as_ref() == Some(type_name);
        }
        if let Some(attribute) = &self.attribute {
            return thing.attributes.get(&attribute.name) == Some(&attribute.value);
        }
        false
    }
}

/// The grace period of a device: the first override its thing matches, else `default`.
/// A device whose context is unavailable gets `default` too: a registry outage must not
/// hold announcements back (nor, for sleepy classes, page sooner than a known class would).
pub fn grace_for(overrides: &[GraceOverride], context: &Context, default: Duration) -> Duration {
    context
        .thing()
        .and_then(|thing| overrides.iter().find(|o| o.matches(thing)))
        .map_or(default, |o| Duration::from_secs(o.seconds))
}

/// What a storm digest groups devices by (`storm_digest.group_by`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    ThingGroup,
    ThingType,
    Attribute(String),
    Fleet,
}

impl GroupBy {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "thing_group" => Some(GroupBy::ThingGroup),
            "thing_type" => Some(GroupBy::ThingType),
            "fleet" => Some(GroupBy::Fleet),
            _ => text
                .strip_prefix("attribute:")
                .filter(|name| !name.is_empty())
                .map(|name| GroupBy::Attribute(name.to_owned())),
        }
    }

    /// As `detail.groupBy` says it.
    pub fn label(&self) -> String {
        match self {
            GroupBy::ThingGroup => "thing_group".into(),
            GroupBy::ThingType => "thing_type".into(),
            GroupBy::Attribute(name) => format!("attribute:{name}"),
            GroupBy::Fleet => "fleet".into(),
        }
    }

    /// The group a device's disconnect counts in: for `thing_group`, its first group by
    /// name (a device counts in one storm); None when the device has no such group (no
    /// thing, no type, no such attribute, or its context unavailable), so it is in no
    /// storm and is announced on its own.
    pub fn key(&self, context: &Context) -> Option<String> {
        if *self == GroupBy::Fleet {
            return Some("fleet".into());
        }
        let thing = context.thing()?;
        match self {
            GroupBy::ThingGroup => thing.groups.first().cloned(),
            GroupBy::ThingType => thing.type_name.clone(),
            GroupBy::Attribute(name) => thing.attributes.get(name).cloned(),
            GroupBy::Fleet => unreachable!("handled above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera() -> Context {
        Context::Known(Thing {
            name: "cam-1".into(),
            type_name: Some("camera".into()),
            attributes: BTreeMap::from([("site".into(), "north".into())]),
            groups: vec!["lobby".into(), "site-north".into()],
        })
    }

    fn overrides() -> Vec<GraceOverride> {
        serde_json::from_str(
            r#"[{"thing_group": "battery", "thing_type": null, "attribute": null, "seconds": 900},
                {"thing_type": "camera", "seconds": 30},
                {"attribute": {"name": "site", "value": "north"}, "seconds": 5}]"#,
        )
        .unwrap()
    }

    #[test]
    fn the_first_matching_override_sets_the_grace() {
        let default = Duration::from_secs(60);
        assert_eq!(
            grace_for(&overrides(), &camera(), default),
            Duration::from_secs(30)
        );
        let gateway = Context::Known(Thing {
            name: "gw".into(),
            ..Thing::default()
        });
        assert_eq!(grace_for(&overrides(), &gateway, default), default);
        let unavailable = Context::Unavailable { name: "x".into() };
        assert_eq!(grace_for(&overrides(), &unavailable, default), default);
    }

    #[test]
    fn groups_are_keyed_as_configured() {
        assert_eq!(GroupBy::ThingGroup.key(&camera()).as_deref(), Some("lobby"));
        assert_eq!(GroupBy::ThingType.key(&camera()).as_deref(), Some("camera"));
        let site = GroupBy::parse("attribute:site").unwrap();
        assert_eq!(site.key(&camera()).as_deref(), Some("north"));
        assert_eq!(site.label(), "attribute:site");
        assert_eq!(
            GroupBy::Fleet.key(&Context::NoThing).as_deref(),
            Some("fleet")
        );
        assert_eq!(GroupBy::ThingGroup.key(&Context::NoThing), None);
        assert_eq!(GroupBy::parse("attribute:"), None);
    }

    #[test]
    fn the_detail_says_what_is_known() {
        let detail = camera().detail().unwrap();
        assert_eq!(detail["type"], "camera");
        assert_eq!(detail["groups"][1], "site-north");
        assert_eq!(detail["attributes"]["site"], "north");
        assert_eq!(Context::NoThing.detail(), None);
        let unavailable = Context::Unavailable { name: "c".into() }.detail().unwrap();
        assert_eq!(unavailable, json!({"name": "c", "unavailable": true}));
        assert_eq!(Context::from_detail(&detail), Some(camera()));
        assert_eq!(Context::from_detail(&unavailable), None);
        assert_eq!(thing_name("c", Some("t")), "t");
        assert_eq!(thing_name("c", None), "c");
    }
}

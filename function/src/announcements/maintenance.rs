//! Maintenance windows: while one applies to a device, its announcements are still put,
//! marked `detail.maintenance`, and its disconnects count in no storm. Pure: windows are
//! kept in the fleet table ([`crate::announcements::fleet_store`]).

use serde_json::{json, Value};

use crate::announcements::thing::Context;

/// What a window covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Clients(Vec<String>),
    /// Every thing of this thing group (needs the thing's context).
    Group(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub id: String,
    pub scope: Scope,
    pub started_at: i64,
    /// Wall-clock ms at which it ends by itself.
    pub until: i64,
    pub reason: Option<String>,
    pub started_by: String,
    /// Set when an operator ended it early.
    pub ended_at: Option<i64>,
    pub ended_by: Option<String>,
    /// Why it was ended early.
    pub end_reason: Option<String>,
}

impl Window {
    /// Whether it is in force at `now_ms`.
    pub fn active(&self, now_ms: i64) -> bool {
        self.started_at <= now_ms && now_ms < self.effective_end()
    }

    /// When it ends: ended early, or at `until`.
    pub fn effective_end(&self) -> i64 {
        self.ended_at
            .map_or(self.until, |ended| ended.min(self.until))
    }

    fn covers(&self, client_id: &str, context: &Context) -> bool {
        match &self.scope {
            Scope::Clients(clients) => clients.iter().any(|c| c == client_id),
            Scope::Group(group) => context
                .thing()
                .is_some_and(|thing| thing.groups.contains(group)),
        }
    }

    /// `detail.maintenance`.
    pub fn detail(&self) -> Value {
        json!({"windowId": self.id, "until": self.effective_end(), "reason": self.reason})
    }
}

/// The window in force for a device at `now_ms`: of several, the one ending last.
pub fn applying<'a>(
    windows: &'a [Window],
    client_id: &str,
    context: &Context,
    now_ms: i64,
) -> Option<&'a Window> {
    windows
        .iter()
        .filter(|w| w.active(now_ms) && w.covers(client_id, context))
        .max_by_key(|w| w.effective_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::announcements::thing::Thing;

    fn window(id: &str, scope: Scope, until: i64) -> Window {
        Window {
            id: id.into(),
            scope,
            started_at: 100,
            until,
            reason: Some("firmware".into()),
            started_by: "arn:aws:iam::1:user/ops".into(),
            ended_at: None,
            ended_by: None,
            end_reason: None,
        }
    }

    #[test]
    fn a_window_applies_to_its_clients_or_group_until_it_ends() {
        let in_lobby = Context::Known(Thing {
            name: "cam".into(),
            groups: vec!["lobby".into()],
            ..Thing::default()
        });
        let windows = vec![
            window("a", Scope::Clients(vec!["cam".into()]), 1_000),
            window("b", Scope::Group("lobby".into()), 2_000),
        ];
        assert_eq!(applying(&windows, "cam", &in_lobby, 500).unwrap().id, "b");
        assert_eq!(
            applying(&windows, "cam", &Context::NoThing, 500)
                .unwrap()
                .id,
            "a"
        );
        assert!(applying(&windows, "other", &Context::NoThing, 500).is_none());
        assert!(applying(&windows, "cam", &in_lobby, 2_000).is_none());
        assert!(applying(&windows, "cam", &in_lobby, 50).is_none());

        let mut ended = windows[1].clone();
        ended.ended_at = Some(700);
        assert!(ended.active(600));
        assert!(!ended.active(700));
        assert_eq!(ended.detail()["until"], 700);
    }
}

//! The Lambda roles of the one `bootstrap` binary. A custom runtime is told its handler:
//! the function's `handler` setting reaches the process as `_HANDLER`, and names the role
//! it runs. Each role builds only its own clients and reads only its own configuration.

use std::fmt;
use std::str::FromStr;

pub mod counter;
pub mod notifier;
pub mod pager;
pub mod presence;
pub mod view;

/// What one function of the module does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Lifecycle events from the IoT rule to one item per client.
    Presence,
    /// The table's stream and the grace queue to announcements on EventBridge.
    Notifier,
    /// The table's stream to the `ConnectedDevices` count, and the count to a metric.
    Counter,
    /// Announcements to PagerDuty incidents (modules/pagerduty).
    Pager,
    /// An example consumer: announcements to each device's latest status, by sequence.
    View,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Presence,
        Role::Notifier,
        Role::Counter,
        Role::View,
        Role::Pager,
    ];

    /// The value of the function's `handler` setting that selects this role.
    pub fn handler(self) -> &'static str {
        match self {
            Role::Presence => "presence",
            Role::Notifier => "notifier",
            Role::Counter => "counter",
            Role::View => "view",
            Role::Pager => "pager",
        }
    }

    /// The role `_HANDLER` names.
    pub fn from_env() -> Result<Self, UnknownRole> {
        std::env::var("_HANDLER").unwrap_or_default().parse()
    }

    /// Runs the role's Lambda runtime loop until the sandbox ends.
    pub async fn run(self) -> Result<(), lambda_runtime::Error> {
        match self {
            Role::Presence => presence::run().await,
            Role::Notifier => notifier::run().await,
            Role::Counter => counter::run().await,
            Role::View => view::run().await,
            Role::Pager => pager::run().await,
        }
    }
}

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(handler: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.handler() == handler)
            .ok_or_else(|| UnknownRole(handler.to_owned()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.handler())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the function's handler (_HANDLER) is {0:?}; set it to one of presence, notifier, counter, view, pager")]
pub struct UnknownRole(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_is_named_by_its_handler() {
        for role in Role::ALL {
            assert_eq!(role.handler().parse::<Role>().unwrap(), role);
        }
    }

    #[test]
    fn an_unknown_handler_names_the_accepted_values() {
        for handler in ["", "bootstrap", "Presence", "presence "] {
            let message = handler.parse::<Role>().unwrap_err().to_string();
            assert!(message.contains("presence, notifier, counter"), "{message}");
            assert!(message.contains(&format!("{handler:?}")), "{message}");
        }
    }
}

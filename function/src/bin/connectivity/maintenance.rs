//! `connectivity maintenance start|list|end`: maintenance windows in the fleet table. While
//! one applies, the notifier still puts a device's announcements, marked
//! `detail.maintenance`, and leaves its disconnects out of storms. Every start and end is
//! kept with who asked (the caller's AWS identity) and why, and logged as a JSON line on
//! stderr.

use clap::Subcommand;
use iot_connectivity::announcements::fleet_store::FleetStore;
use iot_connectivity::announcements::maintenance::{Scope, Window};
use iot_connectivity::shared::time::now_ms;
use serde_json::json;

use super::{Deployment, Failure};

#[derive(Subcommand)]
pub enum MaintenanceCommand {
    /// Starts a window: for the clients named, or for every thing of a thing group (which
    /// needs the module's thing_context_enabled)
    Start {
        /// A client ID to cover (repeat for more)
        #[arg(long = "client", value_name = "ID", required_unless_present = "group")]
        clients: Vec<String>,
        /// A thing group to cover
        #[arg(long, conflicts_with = "clients")]
        group: Option<String>,
        /// How long it lasts (30m, 2h, 1d); it ends by itself then
        #[arg(long = "for", value_name = "DURATION")]
        duration: String,
        /// Why, kept with the window and carried by announcements
        #[arg(long)]
        reason: Option<String>,
    },
    /// The windows in force, as JSON Lines (--all: also those ended, kept 90 days)
    List {
        #[arg(long)]
        all: bool,
    },
    /// Ends a window now
    End {
        window_id: String,
        /// Why, kept with the window
        #[arg(long)]
        reason: Option<String>,
    },
}

/// A window lasts at most this long: one left open by mistake ends within a week.
const LONGEST: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

impl Deployment {
    fn fleet_store(&self) -> Result<FleetStore, Failure> {
        let table = self.settings.fleet_table.clone().ok_or_else(|| {
            format!(
                "table {} has no fleet table (the module's maintenance_windows_enabled and storm_digest are off)",
                self.config.table_name
            )
        })?;
        Ok(FleetStore::new(self.dynamodb.clone(), table))
    }

    /// Who is asking: the caller's AWS identity.
    async fn caller(&self) -> Result<String, Failure> {
        let identity = aws_sdk_sts::Client::new(&self.aws)
            .get_caller_identity()
            .send()
            .await
            .map_err(|err| {
                format!(
                    "who is asking (STS GetCallerIdentity): {}",
                    aws_sdk_sts::error::DisplayErrorContext(err)
                )
            })?;
        Ok(identity.arn().unwrap_or("unknown").to_owned())
    }

    pub async fn maintenance(&self, command: MaintenanceCommand) -> Result<bool, Failure> {
        let store = self.fleet_store()?;
        match command {
            MaintenanceCommand::Start {
                clients,
                group,
                duration,
                reason,
            } => {
                let length = humantime::parse_duration(&duration)
                    .map_err(|err| format!("--for {duration:?}: {err}"))?;
                if length.is_zero() || length > LONGEST {
                    return Err(format!(
                        "--for must be more than 0 and at most 7 days, got {duration}"
                    )
                    .into());
                }
                let scope = match group {
                    Some(group) => Scope::Group(group),
                    None => Scope::Clients(clients),
                };
                let now = now_ms();
                let window = Window {
                    id: format!("mw-{now}-{:04x}", std::process::id() & 0xffff),
                    scope,
                    started_at: now,
                    until: now + length.as_millis() as i64,
                    reason,
                    started_by: self.caller().await?,
                    ended_at: None,
                    ended_by: None,
                    end_reason: None,
                };
                if !store.start_window(&window).await? {
                    return Err(format!("window {} exists already: try again", window.id).into());
                }
                audit("maintenance window started", &window);
                println!("{}", window_json(&window));
                Ok(true)
            }
            MaintenanceCommand::List { all } => {
                let now = now_ms();
                for window in store.windows().await? {
                    if all || window.active(now) {
                        println!("{}", window_json(&window));
                    }
                }
                Ok(true)
            }
            MaintenanceCommand::End { window_id, reason } => {
                let who = self.caller().await?;
                let now = now_ms();
                if !store
                    .end_window(&window_id, &who, reason.as_deref(), now)
                    .await?
                {
                    return Err(format!("no window {window_id} in force (list shows them)").into());
                }
                let window = store
                    .windows()
                    .await?
                    .into_iter()
                    .find(|w| w.id == window_id)
                    .ok_or("the window ended, and is gone")?;
                audit("maintenance window ended", &window);
                println!("{}", window_json(&window));
                Ok(true)
            }
        }
    }
}

fn window_json(window: &Window) -> serde_json::Value {
    let (clients, group) = match &window.scope {
        Scope::Clients(clients) => (Some(clients), None),
        Scope::Group(group) => (None, Some(group)),
    };
    json!({
        "windowId": window.id,
        "clients": clients,
        "group": group,
        "startedAt": window.started_at,
        "until": window.until,
        "reason": window.reason,
        "startedBy": window.started_by,
        "endedAt": window.ended_at,
        "endedBy": window.ended_by,
        "endReason": window.end_reason,
    })
}

/// The audit line: who, why, what, on stderr (stdout stays the command's answer).
fn audit(message: &str, window: &Window) {
    let mut line = window_json(window);
    line["message"] = json!(message);
    eprintln!("{line}");
}

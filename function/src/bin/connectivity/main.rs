//! The fleet operator's CLI: one device's item, the devices in a status (and for how
//! long), the counts, a device's sessions and the fleet's availability (history_enabled),
//! the ConnectedDevices count recounted, and the dead-letter queue re-driven through the
//! handler's code path.
//!
//! Exit codes: 0 done; 1 done, but something failed (a re-drive left messages, a device
//! is unknown); 2 usage, configuration or AWS errors that stopped the command.

mod history;
mod maintenance;
mod repair;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use futures::StreamExt;
use iot_connectivity::count::table::Counts;
use iot_connectivity::history::store::HistoryStore;
use iot_connectivity::ingest::processor::{operator_config, Config, Processor};
use iot_connectivity::presence::fleet::{item_to_json, Fleet, STATUS_INDEX};
use iot_connectivity::presence::ordering::Presence;
use iot_connectivity::presence::store::Store;
use iot_connectivity::shared::aws::load_cli_aws_config;
use iot_connectivity::shared::deployment::{Settings, Stated};
use iot_connectivity::shared::time::now_ms;
use tokio::io::AsyncWriteExt;

#[derive(Parser)]
#[command(
    version,
    about = "Which devices of the fleet are online, and the dead-letter queue re-driven"
)]
struct Args {
    /// DynamoDB table [default: $TABLE_NAME]. Its deployment settings (status index and
    /// shards, item TTL, counts table, ...) are read from the table's tags; a setting given
    /// in a flag or the environment that disagrees with them is refused
    #[arg(long, global = true)]
    table: Option<String>,
    /// Status index shards [default: the table's; env: STATUS_INDEX_SHARDS]
    #[arg(long, global = true, value_parser = clap::value_parser!(u32).range(1..=1024))]
    shards: Option<u32>,
    /// Use the settings given in flags and the environment instead of the table's: for
    /// tables deployed before the settings were tagged
    #[arg(long, global = true)]
    override_table_settings: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One client's item, as JSON
    Get { client_id: String },
    /// Every item, or those of one status, as JSON Lines across all index shards
    List {
        #[arg(long, value_enum)]
        status: Option<Status>,
        /// Only items unchanged for longer than this (6h, 2d): their LastUpdateTime, the
        /// status index's sort key, is that far back, so each shard is read as one range
        #[arg(long, value_name = "DURATION")]
        for_longer_than: Option<String>,
    },
    /// One device's sessions (history_enabled): connected at, disconnected at, duration,
    /// disconnect reason. JSON Lines when piped, an aligned table on a terminal
    History {
        client_id: String,
        /// Start of the window: a duration back from now (7d, 6h) or an RFC 3339 time
        #[arg(long, default_value = "7d")]
        since: String,
        /// End of the window, as --since [default: now]
        #[arg(long)]
        until: Option<String>,
        #[arg(long, value_enum)]
        format: Option<history::SessionFormat>,
    },
    /// Uptime per device over a window (connected time over the time whose status is
    /// known) and the fleet's distribution (history_enabled)
    Availability {
        /// Start of the window: a duration back from now (30d, 6h) or an RFC 3339 time
        #[arg(long, default_value = "30d")]
        since: String,
        /// End of the window, as --since [default: now]
        #[arg(long)]
        until: Option<String>,
        /// A device to report on (repeat for more)
        #[arg(long = "client", value_name = "ID", required_unless_present = "all")]
        clients: Vec<String>,
        /// Every device of the status table (one Scan of its keys, then two Queries per
        /// device; progress on stderr)
        #[arg(long, conflicts_with = "clients")]
        all: bool,
        /// List only the devices below this availability, in percent (e.g. 99.5)
        #[arg(long, value_name = "PERCENT", value_parser = percent)]
        below: Option<f64>,
        #[arg(long, value_enum, default_value = "table")]
        format: history::Format,
        /// Also write a self-contained HTML report (sessions per device, distribution)
        #[arg(long, value_name = "FILE")]
        html: Option<std::path::PathBuf>,
    },
    /// How many clients are Connected and Disconnected: {"Connected": n, "Disconnected": m}
    Count,
    /// Marks every item whose last announcement disagrees with its status (or is pending)
    /// as owing one, so the notifier's reconciler settles it. Run once after turning
    /// connectivity events on for an existing fleet, or after upgrading from a release
    /// without the owed mark: {"items": n, "marked": m}
    MarkOwed,
    /// Brings the ConnectedDevices count in line with the table: counts every item as it
    /// is, then drops the tallies of items that no longer exist. Safe while the counter
    /// runs; for a count enabled on an existing fleet, or after stream records were lost
    Recount {
        /// The counts table [default: the table's; env: COUNTS_TABLE_NAME]
        #[arg(long)]
        counts_table: Option<String>,
        /// Counter shards [default: the table's; env: COUNTER_SHARDS]
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
        counter_shards: Option<u32>,
    },
    /// Maintenance windows (maintenance_windows_enabled): while one applies to a device its
    /// announcements say so (detail.maintenance) and its disconnects count in no storm
    Maintenance {
        #[command(subcommand)]
        command: maintenance::MaintenanceCommand,
    },
    /// Applies what the dead-letter queue holds through the handler's code path and
    /// deletes each message once applied; messages that are not events stay
    Redrive {
        #[arg(long)]
        queue_url: String,
        /// Seconds a message stays hidden after a failed attempt
        #[arg(long, default_value_t = 60)]
        visibility_timeout: i32,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Status {
    #[value(name = "Connected")]
    Connected,
    #[value(name = "Disconnected")]
    Disconnected,
}

type Failure = Box<dyn std::error::Error>;

fn percent(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|value| (0.0..=100.0).contains(value))
        .ok_or_else(|| format!("{text:?} is not a percentage from 0 to 100"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    iot_connectivity::shared::logging::init_for_cli();
    match run(args).await {
        Ok(complete) if complete => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("connectivity: {err}");
            ExitCode::from(2)
        }
    }
}

/// Whether the command did all it was asked to.
async fn run(args: Args) -> Result<bool, Failure> {
    let aws = load_cli_aws_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let mut stated = Stated::from_env()?;
    // A flag states a setting as its environment variable does, and wins over it.
    stated.status_index_shards = args.shards.or(stated.status_index_shards);
    if let Command::Recount {
        counts_table,
        counter_shards,
    } = &args.command
    {
        stated.counts_table = counts_table.clone().or(stated.counts_table);
        stated.counter_shards = counter_shards.or(stated.counter_shards);
    }
    let (config, settings) =
        operator_config(&dynamodb, args.table, stated, args.override_table_settings).await?;
    let deployment = Deployment {
        aws,
        dynamodb,
        config,
        settings,
    };
    match args.command {
        Command::Get { client_id } => deployment.get(&client_id).await,
        Command::List {
            status,
            for_longer_than,
        } => deployment.list(status, for_longer_than).await,
        Command::History {
            client_id,
            since,
            until,
            format,
        } => {
            let (since, until) = history::window(&since, until.as_deref(), now_ms())?;
            history::history(
                &deployment.history_store()?,
                &client_id,
                since,
                until,
                format,
            )
            .await
        }
        Command::Availability {
            since,
            until,
            clients,
            all: _,
            below,
            format,
            html,
        } => {
            let (since, until) = history::window(&since, until.as_deref(), now_ms())?;
            let request = history::AvailabilityRequest {
                since,
                until,
                clients,
                below,
                format,
                html,
            };
            deployment.availability(request).await
        }
        Command::Count => deployment.count().await,
        Command::MarkOwed => deployment.mark_owed().await,
        Command::Recount { .. } => deployment.recount().await,
        Command::Maintenance { command } => deployment.maintenance(command).await,
        Command::Redrive {
            queue_url,
            visibility_timeout,
        } => deployment.redrive(&queue_url, visibility_timeout).await,
    }
}

/// The table the command works on, its settings, and the clients to reach it: one method
/// per subcommand.
struct Deployment {
    aws: aws_config::SdkConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    config: Config,
    settings: Settings,
}

impl Deployment {
    fn fleet(&self) -> Result<Fleet, Failure> {
        let shards = self.settings.status_index_shards.ok_or_else(|| {
            format!(
                "table {} has no status index (the module's status_index_enabled is off): list and count read it",
                self.config.table_name
            )
        })?;
        Ok(Fleet::new(
            self.dynamodb.clone(),
            self.config.table_name.clone(),
            STATUS_INDEX.to_owned(),
            shards,
        ))
    }

    fn history_store(&self) -> Result<HistoryStore, Failure> {
        let deployed = self.settings.history.clone().ok_or_else(|| {
            format!(
                "table {} keeps no history (the module's history_enabled is off)",
                self.config.table_name
            )
        })?;
        Ok(HistoryStore::new(
            self.dynamodb.clone(),
            deployed.table,
            deployed.retention,
        ))
    }

    async fn get(&self, client_id: &str) -> Result<bool, Failure> {
        let store = Store::new(self.dynamodb.clone(), self.config.table_name.clone(), None);
        match store.get(client_id).await? {
            Some(item) => {
                println!("{}", item_to_json(&item));
                Ok(true)
            }
            None => {
                eprintln!(
                    "connectivity: {} has no item for {client_id:?}",
                    self.config.table_name
                );
                Ok(false)
            }
        }
    }

    async fn list(
        &self,
        status: Option<Status>,
        for_longer_than: Option<String>,
    ) -> Result<bool, Failure> {
        let statuses = match status {
            Some(Status::Connected) => vec![Presence::Connected],
            Some(Status::Disconnected) => vec![Presence::Disconnected],
            None => vec![Presence::Connected, Presence::Disconnected],
        };
        let unchanged_since = for_longer_than
            .map(|text| {
                iot_connectivity::history::report::parse_duration(&text)
                    .map(|ago| {
                        now_ms().saturating_sub(i64::try_from(ago.as_millis()).unwrap_or(i64::MAX))
                    })
                    .map_err(|err| format!("--for-longer-than: {err}"))
            })
            .transpose()?;
        let fleet = self.fleet()?;
        let mut items = fleet.list(&statuses, unchanged_since);
        let mut out = tokio::io::BufWriter::new(tokio::io::stdout());
        let mut progress = Progress::new("listed");
        while let Some(item) = items.next().await {
            let mut line = item_to_json(&item?).to_string();
            line.push('\n');
            out.write_all(line.as_bytes()).await?;
            progress.tick();
        }
        out.flush().await?;
        progress.done();
        Ok(true)
    }

    async fn availability(&self, request: history::AvailabilityRequest) -> Result<bool, Failure> {
        // --all lists the status table's clients: a device offline for longer than the
        // item TTL has no item any more, and only its history would know it.
        if let Some(ttl) = self
            .settings
            .item_ttl
            .filter(|_| request.clients.is_empty())
        {
            if (ttl.as_millis() as i64) < request.until - request.since {
                eprintln!(
                    "connectivity: warning: the window is longer than the table's item TTL ({} s): devices offline for longer than that have no item and are not reported; name them with --client",
                    ttl.as_secs()
                );
            }
        }
        history::availability_report(
            &self.dynamodb,
            &self.config.table_name,
            &self.history_store()?,
            request,
        )
        .await
    }

    async fn count(&self) -> Result<bool, Failure> {
        println!("{}", serde_json::to_string(&self.fleet()?.count().await?)?);
        Ok(true)
    }

    async fn mark_owed(&self) -> Result<bool, Failure> {
        if !self.settings.announcements {
            return Err(format!(
                "table {} has no connectivity events (the module's events_enabled is off): nothing is announced",
                self.config.table_name
            )
            .into());
        }
        let summary = repair::mark_owed(&self.dynamodb, &self.config.table_name).await?;
        println!("{}", serde_json::to_string(&summary)?);
        Ok(true)
    }

    async fn recount(&self) -> Result<bool, Failure> {
        let deployed = self.settings.counts.clone().ok_or_else(|| {
            format!(
                "table {} has no ConnectedDevices count (the module's connected_devices_metric_enabled is off)",
                self.config.table_name
            )
        })?;
        let counts = Counts::new(self.dynamodb.clone(), deployed.table, deployed.shards);
        let summary = repair::recount(&self.dynamodb, &self.config.table_name, &counts).await?;
        println!("{}", serde_json::to_string(&summary)?);
        Ok(true)
    }

    async fn redrive(self, queue_url: &str, visibility_timeout: i32) -> Result<bool, Failure> {
        let sqs = aws_sdk_sqs::Client::new(&self.aws);
        let processor = Processor::new(self.dynamodb.clone(), self.config);
        let counts = repair::redrive(&sqs, &processor, queue_url, visibility_timeout).await?;
        println!("{}", serde_json::to_string(&counts)?);
        Ok(counts.failed == 0 && counts.kept == 0)
    }
}

/// A count on stderr every few seconds, for long runs.
struct Progress {
    what: &'static str,
    count: u64,
    started: Instant,
    last: Instant,
}

impl Progress {
    fn new(what: &'static str) -> Self {
        let now = Instant::now();
        Self {
            what,
            count: 0,
            started: now,
            last: now,
        }
    }

    fn tick(&mut self) {
        self.count += 1;
        if self.last.elapsed() >= Duration::from_secs(5) {
            self.last = Instant::now();
            eprintln!("connectivity: {} {} so far", self.count, self.what);
        }
    }

    fn done(&self) {
        if self.started.elapsed() >= Duration::from_secs(5) {
            eprintln!(
                "connectivity: {} {} in {:.1} s",
                self.count,
                self.what,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

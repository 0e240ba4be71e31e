//! Applies archived lifecycle events (JSON Lines) through the Lambda's own code path:
//! backfill a new table, re-drive a dead-letter queue, or load-test a DynamoDB API.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use futures::StreamExt;
use iot_connectivity::ingest::processor::{operator_config, Outcome, Processor};
use iot_connectivity::shared::aws::load_cli_aws_config;
use iot_connectivity::shared::deployment::Stated;
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};

#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// DynamoDB table [default: $TABLE_NAME]. Its deployment settings (status index,
    /// item TTL, ignored prefixes, ...) are read from the table's tags
    #[arg(long)]
    table: Option<String>,
    /// Write with the settings in the environment (STATUS_INDEX_SHARDS, ITEM_TTL_SECONDS,
    /// IGNORED_CLIENT_ID_PREFIXES, RECORD_UNKNOWN_CONNECT_FAILURES) instead of the table's:
    /// for tables deployed before the settings were tagged
    #[arg(long)]
    override_table_settings: bool,
    /// Events applied at once; events of one client may run concurrently.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// JSON Lines file of lifecycle events [default: standard input]
    file: Option<PathBuf>,
}

#[derive(Debug, Default, serde::Serialize)]
struct Counts {
    applied: u64,
    stale: u64,
    skipped: u64,
    failed: u64,
    /// Applied or stale events that took one DynamoDB request (the in-order common case).
    one_round_trip: u64,
    /// DynamoDB requests of all events.
    round_trips: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Logs to stderr as JSON; stdout carries only the final counts.
    iot_connectivity::shared::logging::init_for_cli();
    match run(args).await {
        Ok(counts) => {
            println!(
                "{}",
                serde_json::to_string(&counts).expect("counts serialize")
            );
            if counts.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("replay: {err}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<Counts, Box<dyn std::error::Error>> {
    let aws = load_cli_aws_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let (config, _) = operator_config(
        &dynamodb,
        args.table,
        Stated::from_env()?,
        args.override_table_settings,
    )
    .await?;
    let processor = Processor::new(dynamodb, config);
    let input: Box<dyn AsyncBufRead + Unpin> = match &args.file {
        Some(path) => {
            Box::new(BufReader::new(tokio::fs::File::open(path).await.map_err(
                |err| format!("cannot open {}: {err}", path.display()),
            )?))
        }
        None => Box::new(BufReader::new(tokio::io::stdin())),
    };
    let lines = futures::stream::unfold(input.lines(), |mut lines| async move {
        lines
            .next_line()
            .await
            .transpose()
            .map(|line| (line, lines))
    });
    let mut outcomes = std::pin::pin!(lines
        .map(|line| {
            let processor = &processor;
            async move {
                let line = line?;
                if line.trim().is_empty() {
                    return Ok(None);
                }
                // A line that is not JSON goes the way of any malformed payload.
                let payload = serde_json::from_str(&line).unwrap_or(Value::String(line));
                Ok::<_, std::io::Error>(Some(processor.process_counted(&payload).await))
            }
        })
        .buffer_unordered(usize::from(args.concurrency)));
    let mut counts = Counts::default();
    while let Some(outcome) = outcomes.next().await {
        match outcome? {
            None => {}
            Some(Ok((outcome, round_trips))) => {
                counts.round_trips += u64::from(round_trips);
                if round_trips == 1 {
                    counts.one_round_trip += 1;
                }
                match outcome {
                    Outcome::Applied => counts.applied += 1,
                    Outcome::Stale => counts.stale += 1,
                    Outcome::Skipped => counts.skipped += 1,
                }
            }
            Some(Err(_)) => counts.failed += 1,
        }
    }
    Ok(counts)
}

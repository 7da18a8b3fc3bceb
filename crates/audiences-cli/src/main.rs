//! `audiences`: list and export the prospects of an audience.
//!
//! ```text
//! audiences prospects list --account-group G --audience A [--limit N] [--cursor C]
//!                          [--all] [--format table|json|jsonl|csv] [--output FILE]
//! ```
//!
//! Exit codes: 0 done; 2 usage (bad flags, ids or configuration); 3 the API
//! key was refused (401, 403); 4 not found or not ready (404, 409); 5 the
//! server or the network failed (429 after retries, 5xx, unreachable); 1
//! anything else (such as an output file that cannot be written).

mod output;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use audiences_client::{AudiencesClient, Certificate, Error, RetryPolicy};
use clap::{Parser, Subcommand, ValueEnum};
use futures_util::TryStreamExt;

use crate::output::{Format, Sink};

/// The service's allocator: an export parses and serializes a small
/// allocation per field, and spent about a fifth less CPU on it than on
/// glibc's malloc (300,000 prospects, three runs each).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The audiences API from the command line.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The API's base URL.
    #[arg(
        long,
        env = "AUDIENCES_BASE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    base_url: String,
    /// The API key (prefer the environment variable: flags show in `ps`).
    #[arg(long, env = "AUDIENCES_API_KEY", hide_env_values = true, global = true)]
    api_key: Option<String>,
    /// Seconds one request may take.
    #[arg(long, default_value_t = 30, global = true)]
    timeout: u64,
    /// Retries of a transient failure (429, 502, 503, 504, network).
    #[arg(long, default_value_t = 4, global = true)]
    retries: usize,
    /// Wait up to this many seconds for an audience being populated (409).
    #[arg(long, global = true)]
    wait_until_ready: Option<u64>,
    /// Also trust the CA certificates of this PEM file for HTTPS (a private CA);
    /// `SSL_CERT_FILE` replaces the system's roots instead, as for curl.
    #[arg(long, env = "AUDIENCES_CA_CERT", global = true)]
    ca_cert: Option<PathBuf>,
    /// Ask for gzip: `auto` does except for a loopback URL (a page of 100 is
    /// about 8x smaller gzipped, which wins on any real network).
    #[arg(long, value_enum, default_value_t = CompressionArg::Auto, global = true)]
    compression: CompressionArg,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prospects of an audience.
    Prospects {
        #[command(subcommand)]
        command: ProspectsCommand,
    },
}

#[derive(Subcommand)]
enum ProspectsCommand {
    /// List one page of prospects, or all of them with --all.
    List(ListArgs),
}

#[derive(clap::Args)]
struct ListArgs {
    /// The account group id (24 hexadecimal digits).
    #[arg(long)]
    account_group: String,
    /// The audience id (24 hexadecimal digits).
    #[arg(long)]
    audience: String,
    /// Prospects per page (the API checks it: 1 to 100; one page defaults to
    /// the API's 25, --all to the largest page, 100).
    #[arg(long)]
    limit: Option<u32>,
    /// Start after this cursor (printed by an earlier page).
    #[arg(long)]
    cursor: Option<String>,
    /// Every page, streamed to the output as it arrives.
    #[arg(long)]
    all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    format: FormatArg,
    /// Write to this file instead of standard output (written whole or not at all).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum CompressionArg {
    Auto,
    On,
    Off,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Table,
    Json,
    Jsonl,
    Csv,
}

/// A failure and the exit code it maps to.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    fn io(context: &str, error: std::io::Error) -> Self {
        Self {
            code: 1,
            message: format!("{context}: {error}"),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let code = match error.status() {
            _ if matches!(error, Error::InvalidRequest(_)) => 2,
            Some(400) => 2,
            Some(401 | 403) => 3,
            Some(404 | 409) => 4,
            _ => 5,
        };
        Self {
            code,
            message: error.to_string(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Two workers: the walk reads the page fetched ahead on one while this
    // page is parsed and written on the other (on one thread, an export ran
    // at one core's pace: read, parse, serialize and write in turn).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let Some(key) = cli.api_key.clone() else {
        return Err(Failure::usage(
            "no API key: set AUDIENCES_API_KEY (or pass --api-key)",
        ));
    };
    let mut policy = RetryPolicy {
        max_retries: cli.retries,
        ..RetryPolicy::default()
    };
    if let Some(seconds) = cli.wait_until_ready {
        policy = policy.wait_until_ready(Duration::from_secs(seconds));
    }
    let mut builder = AudiencesClient::builder(&cli.base_url)
        .api_key(key)
        .timeout(Duration::from_secs(cli.timeout.max(1)))
        .user_agent(format!("audiences-cli/{}", env!("CARGO_PKG_VERSION")))
        .retry(policy);
    match cli.compression {
        CompressionArg::Auto => {}
        CompressionArg::On => builder = builder.compression(true),
        CompressionArg::Off => builder = builder.compression(false),
    }
    if let Some(path) = &cli.ca_cert {
        let pem = std::fs::read(path)
            .map_err(|error| Failure::usage(format!("cannot read --ca-cert {}: {error}", path.display())))?;
        let certificates = Certificate::from_pem_bundle(&pem)
            .map_err(|error| Failure::usage(format!("--ca-cert {} is not PEM: {error}", path.display())))?;
        if certificates.is_empty() {
            return Err(Failure::usage(format!(
                "--ca-cert {} holds no certificate",
                path.display()
            )));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    let client = builder
        .build()
        .map_err(|error| Failure::usage(error.to_string()))?;
    match cli.command {
        Command::Prospects {
            command: ProspectsCommand::List(args),
        } => list(&client, args).await,
    }
}

/// A rate as a person reads it: a whole number, thousands grouped.
fn whole_rate(per_second: f64) -> String {
    let whole = per_second.max(0.0).round() as u64;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{grouped}/s")
}

/// The export's progress line on a terminal (hidden otherwise).
fn progress_bar() -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {human_pos} prospects, {rate} ({elapsed}) {msg}")
            .map(|style| {
                style.with_key(
                    "rate",
                    |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                        let _ = out.write_str(&whole_rate(state.per_sec()));
                    },
                )
            })
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// What a person sees when the export pauses to retry: on the progress
/// line on a terminal, as a line of its own otherwise.
fn announce_wait(bar: &indicatif::ProgressBar, error: &Error, wait: Duration) {
    let seconds = wait.as_secs_f64().ceil() as u64;
    let reason = match error.status() {
        Some(429) => "rate limited".to_owned(),
        Some(status) => format!("HTTP {status}"),
        None => "no answer".to_owned(),
    };
    let message = format!("waiting {seconds} s ({reason}), then retrying");
    if bar.is_hidden() {
        eprintln!("{message}");
    } else {
        bar.set_message(message);
    }
}

async fn list(client: &AudiencesClient, args: ListArgs) -> Result<(), Failure> {
    let format = match args.format {
        FormatArg::Table => Format::Table,
        FormatArg::Json => Format::Json,
        FormatArg::Jsonl => Format::Jsonl,
        FormatArg::Csv => Format::Csv,
    };
    let mut sink = Sink::open(format, args.output.as_deref())
        .map_err(|error| Failure::io("cannot open the output", error))?;
    let outcome = write_pages(client, &args, &mut sink).await;
    match outcome {
        Ok(next_cursor) => {
            let count = sink.count();
            let destination = sink
                .commit()
                .map_err(|error| Failure::io("cannot write the output", error))?;
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "{count} prospects written to {destination}");
            if let Some(cursor) = next_cursor {
                let _ = writeln!(stderr, "more: add --cursor {cursor} (or use --all)");
            }
            Ok(())
        }
        Err(failure) => {
            let written = sink.count();
            sink.abandon();
            if written > 0 && args.output.is_some() {
                eprintln!("{written} prospects were fetched; the output file was not written");
            }
            Err(failure)
        }
    }
}

/// Writes one page, or every page with `--all`; the cursor of the page after
/// the last one written, when there is one.
async fn write_pages(
    client: &AudiencesClient,
    args: &ListArgs,
    sink: &mut Sink,
) -> Result<Option<String>, Failure> {
    let written =
        |result: std::io::Result<()>| result.map_err(|error| Failure::io("cannot write the output", error));
    if !args.all {
        let (group, audience, cursor) = (&args.account_group, &args.audience, args.cursor.as_deref());
        if sink.wants_raw() {
            let page = client
                .list_prospects_raw(group, audience, args.limit, cursor)
                .await?;
            written(sink.write_raw(&page))?;
            return Ok(page.next_cursor);
        }
        let page = client.list_prospects(group, audience, args.limit, cursor).await?;
        written(sink.write_all(&page.items))?;
        return Ok(page.next_cursor);
    }
    let bar = progress_bar();
    let announcer = bar.clone();
    let client = client.on_retry(move |error, wait| announce_wait(&announcer, error, wait));
    let mut walk = client.prospects(args.account_group.clone(), args.audience.clone());
    if let Some(limit) = args.limit {
        walk = walk.page_size(limit);
    }
    if let Some(cursor) = &args.cursor {
        walk = walk.starting_at(cursor.clone());
    }
    if sink.wants_raw() {
        let mut pages = std::pin::pin!(walk.raw_pages());
        while let Some(page) = pages.try_next().await.inspect_err(|_| bar.finish_and_clear())? {
            written(sink.write_raw(&page))?;
            bar.inc(page.len() as u64);
            bar.set_message("");
        }
    } else {
        let mut pages = std::pin::pin!(walk.pages());
        while let Some(page) = pages.try_next().await.inspect_err(|_| bar.finish_and_clear())? {
            written(sink.write_all(&page.items))?;
            bar.inc(page.items.len() as u64);
            bar.set_message("");
        }
    }
    bar.finish_and_clear();
    Ok(None)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rates_are_whole_numbers_with_grouped_thousands() {
        for (rate, shown) in [
            (0.0, "0/s"),
            (0.4, "0/s"),
            (999.6, "1,000/s"),
            (1491.2704, "1,491/s"),
            (47_000.0, "47,000/s"),
            (1_234_567.8, "1,234,568/s"),
        ] {
            assert_eq!(super::whole_rate(rate), shown);
        }
    }
}

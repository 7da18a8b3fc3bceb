//! The `audiences` binary against the reference service (in this process,
//! on a temporary SQLite database): formats, incremental export to a file,
//! and one exit code per kind of failure.

use std::process::{Command, Output};

use audiences_service::demo::{ACCOUNT_GROUP_ID, POPULATING_AUDIENCE_ID, READY_AUDIENCE_ID};
use audiences_service::{Config, DemoServer};

struct Fixture {
    server: DemoServer,
    dir: std::path::PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn fixture() -> Fixture {
    let dir = std::env::temp_dir().join(format!("audiences-cli-{:016x}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("cli.db").display());
    let server = DemoServer::start(&url, Config::default()).await.unwrap();
    Fixture { server, dir }
}

/// Unique per test in this process and across processes.
fn rand_suffix() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(std::process::id())
}

/// Runs the CLI with the fixture's URL and `key` in the environment.
async fn audiences(base_url: &str, key: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_audiences"));
    command
        .args(args)
        .env("AUDIENCES_BASE_URL", base_url)
        .env_remove("AUDIENCES_API_KEY");
    if let Some(key) = key {
        command.env("AUDIENCES_API_KEY", key);
    }
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn list(audience: &str, extra: &[&'static str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "prospects",
        "list",
        "--account-group",
        ACCOUNT_GROUP_ID,
        "--audience",
        audience,
    ]
    .iter()
    .map(|arg| (*arg).to_owned())
    .collect();
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    args
}

async fn run(fixture: &Fixture, key: Option<&str>, args: Vec<String>) -> (i32, String, String) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = audiences(&fixture.server.base_url, key, &args).await;
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_the_whole_audience_as_jsonl_to_a_file() {
    let fixture = fixture().await;
    let key = fixture.server.keys.full.clone();
    let file = fixture.dir.join("export.jsonl");
    let mut args = list(
        READY_AUDIENCE_ID,
        &["--all", "--limit", "100", "--format", "jsonl", "--output"],
    );
    args.push(file.display().to_string());
    let (code, stdout, stderr) = run(&fixture, Some(&key), args).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("1000 prospects written to"), "{stderr}");
    let text = std::fs::read_to_string(&file).unwrap();
    let ids: std::collections::HashSet<String> = text
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1000);
    assert!(!fixture.dir.join("export.jsonl.partial").exists());

    // The same export gzipped (asked for on loopback too): the same lines.
    let gzipped = fixture.dir.join("export-gzip.jsonl");
    let mut args = list(
        READY_AUDIENCE_ID,
        &[
            "--all",
            "--limit",
            "100",
            "--format",
            "jsonl",
            "--compression",
            "on",
            "--output",
        ],
    );
    args.push(gzipped.display().to_string());
    let (code, _, stderr) = run(&fixture, Some(&key), args).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&gzipped).unwrap(), text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_csv_and_table_formats() {
    let fixture = fixture().await;
    let key = fixture.server.keys.full.clone();

    let (code, stdout, stderr) = run(
        &fixture,
        Some(&key),
        list(READY_AUDIENCE_ID, &["--all", "--format", "json"]),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let all: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(all.len(), 1000);

    let (code, stdout, stderr) = run(
        &fixture,
        Some(&key),
        list(READY_AUDIENCE_ID, &["--limit", "5", "--format", "csv"]),
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let mut reader = csv::Reader::from_reader(stdout.as_bytes());
    assert_eq!(&reader.headers().unwrap()[0], "id");
    assert_eq!(reader.records().count(), 5);
    let cursor = stderr
        .lines()
        .find_map(|line| line.strip_prefix("more: add --cursor "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no cursor hint in {stderr}"))
        .to_owned();

    // The printed cursor continues where the page ended.
    let mut args = list(
        READY_AUDIENCE_ID,
        &["--limit", "5", "--format", "jsonl", "--cursor"],
    );
    args.push(cursor);
    let (code, stdout, _) = run(&fixture, Some(&key), args).await;
    assert_eq!(code, 0);
    let first: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["id"], audiences_service::demo::prospect(5).id);

    let (code, stdout, _) = run(&fixture, Some(&key), list(READY_AUDIENCE_ID, &["--limit", "3"])).await;
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("NAME"),
        "{stdout}"
    );
    assert_eq!(lines.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_failure_has_its_exit_code_and_one_clear_line() {
    let fixture = fixture().await;
    let key = fixture.server.keys.full.clone();
    let forbidden = fixture.server.keys.without_prospects.clone();

    let (code, _, stderr) = run(&fixture, None, list(READY_AUDIENCE_ID, &[])).await;
    assert_eq!(
        (code, stderr.trim()),
        (2, "error: no API key: set AUDIENCES_API_KEY (or pass --api-key)")
    );
    let (code, _, stderr) = run(&fixture, Some(&key), list("not-hex", &[])).await;
    assert_eq!(code, 2, "{stderr}");
    let (code, _, _) = run(&fixture, Some(&key), list(READY_AUDIENCE_ID, &["--limit", "500"])).await;
    assert_eq!(code, 2, "clap refuses it");

    for (key, expected, code_text) in [
        ("ak_wrong", 3, "UNAUTHORIZED"),
        (forbidden.as_str(), 3, "FORBIDDEN"),
    ] {
        let (code, _, stderr) = run(&fixture, Some(key), list(READY_AUDIENCE_ID, &[])).await;
        assert_eq!(code, expected, "{stderr}");
        assert!(
            stderr.contains(code_text) && stderr.contains("trace id"),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }

    let (code, _, stderr) = run(&fixture, Some(&key), list("6650a1b2c3d4e5f60123ffff", &[])).await;
    assert_eq!(code, 4, "{stderr}");
    let (code, _, stderr) = run(&fixture, Some(&key), list(POPULATING_AUDIENCE_ID, &["--all"])).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("AUDIENCE_NOT_READY") && stderr.contains("retry after 30 s"),
        "{stderr}"
    );

    // A failed export leaves no file behind.
    let file = fixture.dir.join("never.csv");
    let mut args = list(POPULATING_AUDIENCE_ID, &["--all", "--format", "csv", "--output"]);
    args.push(file.display().to_string());
    let (code, _, _) = run(&fixture, Some(&key), args).await;
    assert_eq!(code, 4);
    assert!(!file.exists() && !fixture.dir.join("never.csv.partial").exists());

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = audiences(
        &format!("http://{closed}"),
        Some(&key),
        &[
            "--retries",
            "0",
            "prospects",
            "list",
            "--account-group",
            ACCOUNT_GROUP_ID,
            "--audience",
            READY_AUDIENCE_ID,
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot reach the API"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_export_of_the_demo_audience_is_what_a_spreadsheet_reads() {
    let fixture = fixture().await;
    let key = fixture.server.keys.full.clone();
    let file = fixture.dir.join("export.csv");
    let mut args = list(READY_AUDIENCE_ID, &["--all", "--format", "csv", "--output"]);
    args.push(file.display().to_string());
    let (code, _, stderr) = run(&fixture, Some(&key), args).await;
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("id,name,firstName,lastName,title,headline,about,company,"),
        "{}",
        &text[..120]
    );
    let mut reader = csv::Reader::from_path(&file).unwrap();
    let headers = reader.headers().unwrap().clone();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 1000, "one row per prospect");
    assert!(records.iter().all(|record| record.len() == headers.len()));
    // Commas and double quotes survive the round trip (RFC 4180 quoting).
    let column = |name: &str| headers.iter().position(|header| header == name).unwrap();
    let acme = records
        .iter()
        .find(|record| &record[column("company")] == "Acme, Inc.")
        .unwrap();
    assert!(text.contains("\"Acme, Inc.\""), "quoted in the file");
    let original = (0..1000)
        .map(audiences_service::demo::prospect)
        .find(|prospect| prospect.id == acme[column("id")])
        .unwrap();
    assert_eq!(acme[column("name")], original.name);
    assert_eq!(Some(&acme[column("headline")]), original.headline.as_deref());
    let quoted = records
        .iter()
        .find(|record| record[column("about")].contains('"'))
        .expect("an about with double quotes");
    assert!(
        quoted[column("about")].starts_with("Building \""),
        "{:?}",
        &quoted[column("about")]
    );
    assert!(text.contains("\"Building \"\""), "quotes are doubled in the file");
}

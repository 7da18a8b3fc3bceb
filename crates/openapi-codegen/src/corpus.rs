//! The generators on a folder of documents nobody here wrote: every
//! `.json`, `.yaml` and `.yml` file becomes a scratch crate (types,
//! progenitor client and server, its dependencies written from what the
//! generated code uses), checked by cargo; any warning of the generated code
//! is a failure. The table says, per document, what generated, what was
//! left out or written otherwise and why, and whether it compiles.
//!
//! Every file given is checked or fails the run: a file that does not parse
//! fails naming the line and column, one of another OpenAPI version fails
//! naming it. A run cannot pass having checked nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use quote::quote;

use crate::error::{Error, ErrorKind, Result};
use crate::report::{Fallback, Skip};
use crate::{Settings, deps, format_tokens, generate, load};

/// Where the scratch crates go and what they build on.
#[derive(Debug, Clone)]
pub struct CorpusSettings {
    /// The folder of the scratch crates (one subfolder per document).
    pub scratch: PathBuf,
    /// The cargo target folder they share (with a workspace, so that
    /// dependencies already built are reused).
    pub target: PathBuf,
    /// The `openapi-server-runtime` crate the servers build on.
    pub runtime_crate: PathBuf,
    /// A lock file to copy into each scratch crate (the workspace's, so
    /// versions resolve to those already built).
    pub lock_file: Option<PathBuf>,
    /// The command named in the generated files' first line.
    pub command: String,
}

/// What happened to one document.
#[derive(Debug, Clone)]
pub struct Row {
    /// The file name.
    pub document: String,
    /// The file's size in bytes.
    pub bytes: u64,
    /// Operations in the document.
    pub operations: usize,
    /// Operations the server serves.
    pub served: usize,
    /// Operations the client has.
    pub client: usize,
    /// Component schemas (after normalization).
    pub schemas: usize,
    /// What was left out.
    pub skipped: Vec<Skip>,
    /// What was written otherwise.
    pub fallbacks: Vec<Fallback>,
    /// `None` when it generated and compiled warning-free; otherwise why not.
    pub failure: Option<String>,
    /// Generation, in seconds.
    pub generate_seconds: f64,
    /// `cargo check` of the generated code, in seconds.
    pub check_seconds: f64,
}

impl Row {
    /// Whether the row fails the run: it was not generated or does not
    /// compile warning-free, or the server generator left out an operation
    /// that uses only JSON. (What progenitor refuses for the client is its
    /// limit, reported, not ours.)
    pub fn fails(&self) -> bool {
        self.failure.is_some()
            || self
                .skipped
                .iter()
                .any(|skip| skip.json_only && skip.generator == "server")
    }

    fn failed(document: String, bytes: u64, failure: String, seconds: f64) -> Self {
        Self {
            document,
            bytes,
            operations: 0,
            served: 0,
            client: 0,
            schemas: 0,
            skipped: Vec::new(),
            fallbacks: Vec::new(),
            failure: Some(failure),
            generate_seconds: seconds,
            check_seconds: 0.0,
        }
    }
}

/// The documents of `dir`: its `.json`, `.yaml` and `.yml` files, sorted.
pub fn documents(dir: &Path) -> Result<Vec<PathBuf>> {
    let unreadable = |error: std::io::Error| {
        Error::new(ErrorKind::Read, format!("cannot read the folder: {error}"))
            .in_file(dir.display().to_string())
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        let is_document = path.extension().and_then(|ext| ext.to_str()).is_some_and(|ext| {
            ["json", "yaml", "yml"]
                .iter()
                .any(|known| ext.eq_ignore_ascii_case(known))
        });
        if is_document && path.is_file() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// The scratch crate's name for a document's file.
fn crate_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().to_string())
        .unwrap_or_default();
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("corpus-{clean}")
}

fn io_error(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |error| Error::new(ErrorKind::Read, format!("cannot write {what}: {error}"))
}

/// Generates the scratch crate of one document; returns its folder and the report.
fn write_crate(path: &Path, settings: &CorpusSettings) -> Result<(PathBuf, crate::Report)> {
    let source = path.display().to_string();
    let document = load(path)?;
    let generated = generate(
        &document,
        &Settings {
            types_path: quote! { crate::types },
            runtime_path: quote! { ::openapi_server_runtime },
        },
    )
    .map_err(|error| error.in_file(&source))?;
    let types = format_tokens(generated.types, &settings.command, &source)?;
    let client = format_tokens(generated.client, &settings.command, &source)?;
    let server = format_tokens(generated.server, &settings.command, &source)?;

    let name = crate_name(path);
    let dir = settings.scratch.join(&name);
    std::fs::create_dir_all(dir.join("src")).map_err(io_error("the scratch crate"))?;
    let mut lines: Vec<String> = deps::dependency_lines(&format!("{types}\n{client}\n{server}"));
    lines.push(format!(
        "openapi-server-runtime = {{ path = {:?} }}",
        settings.runtime_crate.display().to_string()
    ));
    lines.sort();
    lines.dedup();
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         # A scratch crate of `{}`, not a member of any workspace.\n[workspace]\n\n\
         [dependencies]\n{}\n",
        settings.command,
        lines.join("\n")
    );
    // The lint exceptions of generated code, on the mod lines; progenitor's
    // client imports its `types` module even when every type is a replacement.
    let allow = "#[allow(clippy::all, clippy::pedantic, reason = \"generated\")]";
    let allow_client =
        "#[allow(clippy::all, clippy::pedantic, unused_imports, reason = \"generated by progenitor\")]";
    let lib = format!(
        "//! `{source}`, generated by `{}`.\n\n\
         {allow}\npub mod types;\n{allow_client}\npub mod client;\n{allow}\npub mod server;\n",
        settings.command
    );
    let library = name.replace('-', "_");
    let main = format!(
        "//! `{source}`'s generated server answering with the document's own\n\
         //! examples (`MockApi::from_examples`), on the address given (a free\n\
         //! port of 127.0.0.1 by default).\n\n\
         fn main() -> std::io::Result<()> {{\n    \
         let address = std::env::args().nth(1).unwrap_or_else(|| \"127.0.0.1:0\".to_owned());\n    \
         let api = std::sync::Arc::new({library}::server::mock::MockApi::from_examples());\n    \
         openapi_server_runtime::serve_blocking(&address, {library}::server::router(api))\n}}\n"
    );
    for (file, contents) in [
        ("Cargo.toml", manifest),
        ("src/lib.rs", lib),
        ("src/main.rs", main),
        ("src/types.rs", types),
        ("src/client.rs", client),
        ("src/server.rs", server),
    ] {
        std::fs::write(dir.join(file), contents).map_err(io_error(file))?;
    }
    if let Some(lock) = &settings.lock_file {
        std::fs::copy(lock, dir.join("Cargo.lock")).map_err(io_error("Cargo.lock"))?;
    }
    Ok((dir, generated.report))
}

/// Generates the scratch crate of the document at `path` and builds its
/// mock server (the generated router serving `MockApi::from_examples`);
/// returns the binary, which takes the address to listen on and prints
/// `listening on http://ADDRESS`, and the generation's report (what the
/// server does not serve).
pub fn build_mock_server(path: &Path, settings: &CorpusSettings) -> Result<(PathBuf, crate::Report)> {
    let (dir, report) = write_crate(path, settings)?;
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &settings.target)
        .status()
        .map_err(|error| Error::new(ErrorKind::Tool, format!("cannot run cargo build: {error}")))?;
    if !status.success() {
        return Err(Error::new(
            ErrorKind::Tool,
            format!("the mock server of {} does not build", path.display()),
        ));
    }
    Ok((settings.target.join("debug").join(crate_name(path)), report))
}

/// `cargo check` of a scratch crate: `None` when it compiles without a
/// warning of its own, else the first messages.
fn check(dir: &Path, settings: &CorpusSettings) -> Result<Option<String>> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["check", "--quiet", "--message-format", "json", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &settings.target)
        .output()
        .map_err(|error| Error::new(ErrorKind::Tool, format!("cannot run cargo check: {error}")))?;
    let manifest = dir.join("Cargo.toml");
    let mut problems = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let ours = message["manifest_path"].as_str().map(Path::new) == Some(manifest.as_path());
        if message["reason"] == "compiler-message" && ours {
            let level = message["message"]["level"].as_str().unwrap_or_default();
            if level == "warning" || level == "error" {
                let rendered = message["message"]["rendered"].as_str().unwrap_or_default();
                problems.push(rendered.lines().take(6).collect::<Vec<_>>().join("\n"));
            }
        }
    }
    if !output.status.success() && problems.is_empty() {
        problems.push(
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .take(20)
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    Ok(if problems.is_empty() {
        None
    } else {
        let count = problems.len();
        problems.truncate(5);
        Some(format!(
            "{count} compiler message(s), the first:\n{}",
            problems.join("\n")
        ))
    })
}

/// Generates and checks every document of `dir`; `progress` hears of each
/// as it starts.
pub fn run(dir: &Path, settings: &CorpusSettings, mut progress: impl FnMut(&str)) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for path in documents(dir)? {
        let document = path
            .file_name()
            .map(|name| name.to_string_lossy().to_string())
            .unwrap_or_default();
        let bytes = std::fs::metadata(&path).map_or(0, |metadata| metadata.len());
        progress(&document);
        let started = Instant::now();
        let (dir, report) = match write_crate(&path, settings) {
            Ok(written) => written,
            Err(error) => {
                let failure = format!("not generated: {error}");
                rows.push(Row::failed(
                    document,
                    bytes,
                    failure,
                    started.elapsed().as_secs_f64(),
                ));
                continue;
            }
        };
        let generate_seconds = started.elapsed().as_secs_f64();
        let checked = Instant::now();
        let failure = check(&dir, settings)?;
        rows.push(Row {
            document,
            bytes,
            operations: report.operations,
            served: report.served_by("server"),
            client: report.served_by("client"),
            schemas: report.schemas,
            skipped: report.skipped,
            fallbacks: report.fallbacks,
            failure,
            generate_seconds,
            check_seconds: checked.elapsed().as_secs_f64(),
        });
    }
    Ok(rows)
}

/// What a list of reasons says in a table cell: the count, then each
/// distinct reason with how often it occurs.
fn summary(reasons: Vec<String>) -> String {
    if reasons.is_empty() {
        return "none".to_owned();
    }
    let total = reasons.len();
    let mut counted: Vec<(String, usize)> = Vec::new();
    for reason in reasons {
        match counted.iter_mut().find(|(known, _)| *known == reason) {
            Some((_, count)) => *count += 1,
            None => counted.push((reason, 1)),
        }
    }
    counted.sort();
    let listed: Vec<String> = counted
        .into_iter()
        .map(|(reason, count)| {
            if count > 1 {
                format!("{reason} (x{count})")
            } else {
                reason
            }
        })
        .collect();
    format!("{total}: {}", listed.join("; "))
}

/// The table of a run, as Markdown.
pub fn table(rows: &[Row]) -> String {
    let mut text = String::from(
        "| document | KiB | operations | server | client | schemas | skipped (reasons) | fallbacks (schemas) | compiles warning-free | generate s | check s |\n\
         |---|---:|---:|---:|---:|---:|---|---|---|---:|---:|\n",
    );
    for row in rows {
        let skipped = summary(
            row.skipped
                .iter()
                .map(|skip| format!("{}: {}", skip.generator, skip.construct))
                .collect(),
        );
        let fallbacks = summary(
            row.fallbacks
                .iter()
                .map(|fallback| format!("`{}`: {}", fallback.schema, fallback.reason))
                .collect(),
        );
        let compiles = match &row.failure {
            None => "yes".to_owned(),
            Some(failure) => format!("**no**: {}", failure.lines().next().unwrap_or_default()),
        };
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} |\n",
            row.document,
            row.bytes / 1024,
            row.operations,
            row.served,
            row.client,
            row.schemas,
            skipped.replace('|', "\\|"),
            fallbacks.replace('|', "\\|"),
            compiles.replace('|', "\\|"),
            row.generate_seconds,
            row.check_seconds,
        ));
    }
    text
}

//! `cargo xtask`: developer commands that cargo cannot express.

mod breaking;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  generate [--check] [--strict]
                    write the types, client, server and fixture files from the OpenAPI documents;
                    --check: fail (exit 1) when a generated file differs from what generate would
                    write; --strict: fail when a generator leaves out an operation of
                    openapi/audiences.yaml, or its server does not enforce one of its rules. Either fails when a crate lacks a dependency the
                    generated code needs, naming the line to add
  corpus [DIR]      generate types, client and server for every OpenAPI 3.0 document of DIR
                    (default xtask/fixtures) into scratch crates under target/corpus, check them
                    and print a table; fails when one does not compile warning-free or the server
                    generator leaves out an operation that uses only JSON
  mock-server DOCUMENT
                    generate DOCUMENT's scratch crate (as corpus does) and build its mock server:
                    the generated router answering with the document's examples; prints, as JSON,
                    the binary (it takes the address to listen on and prints `listening on URL`)
                    and the operations the server leaves out
  breaking [--base REV | --base-file FILE] [--head-file FILE] [--fail-on LEVEL]
           [--format text|markdown|json] [--report FILE.md|FILE.json]... [--accept RULE]...
                    what the document's edit does to existing clients, per operation, each finding
                    with its rule id and level (breaking, warning, info); exits 1 on a finding at
                    --fail-on (default breaking) unless info.version's major number was raised.
                    REV defaults to the newest v* tag, else the merge base with main (on main: HEAD
                    vs the working tree). --report writes the report as Markdown (a pull-request
                    comment) or JSON by the file's extension; --accept RULE (or RULE@OPERATION
                    text) lowers matching findings to info, marked accepted
  breaking --history
                    every edit in the git history of the document, each compared with the one before
  breaking --rules  the rule catalog: id, level, summary
  bench [--smoke]   the benchmarks (release, loopback) into BENCHMARKS.md; --smoke: a tiny run
                    into target/BENCHMARKS.smoke.md that keeps them working
  merge-fixture BASE ADDITIONS
                    print BASE with the maps of ADDITIONS merged in (lists appended), as YAML
  cluster [--instances N] [--check]
                    N instances (default 3) of the release service on one PostgreSQL (a throw-away
                    one unless AUDIENCES_TEST_POSTGRES_URL names a server) behind HAProxy
                    health-checking /readyz; prints the URL and a key and runs until Ctrl-C.
                    --check: run the scale-out scenarios instead (walks through the balancer,
                    revocation, SIGKILL, SIGTERM, rolling restart, shared rate limit) and exit
  load [--connections N] [--seconds S]
                    bounded load on the release build of the service (default 64 connections, 20 s),
                    then SIGTERM under load; fails on any answer but 200/429, a repeated trace id,
                    memory growth, or a request cut off by shutdown";

use xtask::DOCUMENT;

fn generate(root: &std::path::Path, flags: &[&str]) -> Result<(), String> {
    let mut check = false;
    let mut strict = false;
    for flag in flags {
        match *flag {
            "--check" => check = true,
            "--strict" => strict = true,
            other => return Err(format!("unknown flag `{other}`\n{USAGE}")),
        }
    }
    let generation = xtask::generate_all(root).map_err(|error| error.to_string())?;
    for (source, skip) in &generation.skipped {
        println!("{source}: {skip}");
    }
    for (source, note) in &generation.notes {
        println!("{source}: {note}");
    }
    let missing =
        xtask::missing_dependencies(root, &generation.outputs).map_err(|error| error.to_string())?;
    if !missing.is_empty() {
        return Err(format!(
            "the generated code needs dependencies its crates lack:\n  {}",
            missing.join("\n  ")
        ));
    }
    let own_skips = generation
        .skipped
        .iter()
        .filter(|(source, _)| source == DOCUMENT)
        .count();
    let own_unenforced = generation
        .unenforced
        .iter()
        .filter(|(source, _)| source == DOCUMENT)
        .count();
    if strict && own_unenforced > 0 {
        return Err(format!(
            "--strict: {own_unenforced} rule(s) of {DOCUMENT} the server does not enforce (see above); change the document or the generator"
        ));
    }
    if strict && own_skips > 0 {
        return Err(format!(
            "--strict: {own_skips} operation(s) of {DOCUMENT} left out (see above); change the document or the generator"
        ));
    }
    if check {
        let stale = xtask::stale_outputs(root, &generation);
        if !stale.is_empty() {
            let list: Vec<String> = stale.iter().map(|path| format!("  {}", path.display())).collect();
            return Err(format!(
                "generated files are stale:\n{}\nrun `{}` and commit the result",
                list.join("\n"),
                xtask::GENERATE_COMMAND
            ));
        }
        println!("generated files are up to date");
        return Ok(());
    }
    let changed = xtask::write_all(root, &generation)?;
    if changed.is_empty() {
        println!("generated files are up to date");
    }
    for path in changed {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn corpus_settings(root: &std::path::Path) -> openapi_codegen::corpus::CorpusSettings {
    let target = audiences_ops::target_dir(root);
    openapi_codegen::corpus::CorpusSettings {
        scratch: target.join("corpus"),
        target,
        runtime_crate: root.join("crates/openapi-server-runtime"),
        lock_file: Some(root.join("Cargo.lock")),
        command: "cargo xtask corpus".to_owned(),
    }
}

/// Builds a document's mock server; prints, as JSON, the binary and the
/// operations (method and path) the server leaves out.
fn mock_server(root: &std::path::Path, document: &str) -> Result<(), String> {
    let (binary, report) =
        openapi_codegen::corpus::build_mock_server(std::path::Path::new(document), &corpus_settings(root))
            .map_err(|error| error.to_string())?;
    let skipped: Vec<[&str; 2]> = report
        .skipped
        .iter()
        .filter(|skip| skip.generator != "client")
        .map(|skip| [skip.method.as_str(), skip.path.as_str()])
        .collect();
    println!(
        "{}",
        serde_json::json!({ "binary": binary.display().to_string(), "skipped": skipped })
    );
    Ok(())
}

fn corpus(root: &std::path::Path, dir: Option<&str>) -> Result<(), String> {
    use openapi_codegen::corpus;
    let dir = dir.map_or_else(|| root.join(xtask::FIXTURES), std::path::PathBuf::from);
    let settings = corpus_settings(root);
    let rows = corpus::run(&dir, &settings, |document| {
        println!("{document}: generating and checking")
    })
    .map_err(|error| error.to_string())?;
    println!("\n{}", corpus::table(&rows));
    for row in &rows {
        for skip in &row.skipped {
            println!("{}: {skip}", row.document);
        }
        for fallback in &row.fallbacks {
            println!("{}: {fallback}", row.document);
        }
        if let Some(failure) = &row.failure {
            eprintln!("{}: {failure}\n", row.document);
        }
    }
    let failed: Vec<&str> = rows
        .iter()
        .filter(|row| row.fails())
        .map(|row| row.document.as_str())
        .collect();
    if rows.is_empty() {
        Err(format!("no document in {}: nothing was checked", dir.display()))
    } else if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} document(s) failed (not generated, no warning-free compile, or a JSON-only operation left out of the server): {}",
            failed.len(),
            failed.join(", ")
        ))
    }
}

fn merge(base: &mut serde_yaml::Value, additions: serde_yaml::Value) {
    use serde_yaml::Value;
    match (base, additions) {
        (Value::Mapping(base), Value::Mapping(additions)) => {
            for (key, value) in additions {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (Value::Sequence(base), Value::Sequence(additions)) => base.extend(additions),
        (base, additions) => *base = additions,
    }
}

fn merge_fixture(base: &str, additions: &str) -> Result<(), String> {
    let read = |path: &str| -> Result<serde_yaml::Value, String> {
        let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read {path}: {error}"))?;
        serde_yaml::from_str(&text).map_err(|error| format!("{path}: {error}"))
    };
    let mut document = read(base)?;
    merge(&mut document, read(additions)?);
    print!(
        "{}",
        serde_yaml::to_string(&document).map_err(|error| error.to_string())?
    );
    Ok(())
}

fn load_options(flags: &[&str]) -> Result<audiences_ops::load::LoadOptions, String> {
    let mut options = audiences_ops::load::LoadOptions {
        connections: 64,
        seconds: 20,
    };
    let mut flags = flags.iter();
    while let Some(flag) = flags.next() {
        let value = flags.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number: u64 = value
            .parse()
            .ok()
            .filter(|number| *number > 0)
            .ok_or_else(|| format!("{flag} takes a positive whole number, not `{value}`"))?;
        match *flag {
            "--connections" => options.connections = usize::try_from(number).map_err(|e| e.to_string())?,
            "--seconds" => options.seconds = number,
            other => return Err(format!("unknown flag `{other}`\n{USAGE}")),
        }
    }
    Ok(options)
}

fn cluster_options(flags: &[&str]) -> Result<audiences_ops::cluster::ClusterOptions, String> {
    let mut options = audiences_ops::cluster::ClusterOptions {
        instances: 3,
        check: false,
    };
    let mut flags = flags.iter();
    while let Some(flag) = flags.next() {
        match *flag {
            "--check" => options.check = true,
            "--instances" => {
                let value = flags.next().ok_or("--instances needs a value")?;
                options.instances = value
                    .parse()
                    .ok()
                    .filter(|count| (1..=16).contains(count))
                    .ok_or_else(|| format!("--instances takes a whole number from 1 to 16, not `{value}`"))?;
            }
            other => return Err(format!("unknown flag `{other}`\n{USAGE}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = xtask::workspace_root();
    let result = match args.as_slice() {
        ["generate", flags @ ..] => generate(&root, flags),
        ["corpus"] => corpus(&root, None),
        ["corpus", dir] => corpus(&root, Some(dir)),
        ["mock-server", document] => mock_server(&root, document),
        ["breaking", flags @ ..] => breaking::run(&root, flags),
        ["bench"] => audiences_ops::bench::run(&root, false).map(drop),
        ["bench", "--smoke"] => audiences_ops::bench::run(&root, true).map(drop),
        ["merge-fixture", base, additions] => merge_fixture(base, additions),
        ["cluster", flags @ ..] => {
            cluster_options(flags).and_then(|options| audiences_ops::cluster::run(&root, &options))
        }
        ["load", flags @ ..] => {
            load_options(flags).and_then(|options| audiences_ops::load::run(&root, &options))
        }
        ["help" | "--help" | "-h"] | [] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown command `{}`\n{USAGE}", args.join(" "))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

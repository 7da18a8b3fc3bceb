//! `cargo xtask`: developer commands that cargo cannot express.

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  generate          write the types, client, server and fixture files from the OpenAPI documents
  generate --check  fail (exit 1) when a generated file differs from what generate would write
  load [--connections N] [--seconds S]
                    bounded load on the release build of the service (default 64 connections, 20 s),
                    then SIGTERM under load; fails on any answer but 200/429, a repeated trace id,
                    memory growth, or a request cut off by shutdown";

fn load_options(flags: &[&str]) -> Result<xtask::load::LoadOptions, String> {
    let mut options = xtask::load::LoadOptions {
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = xtask::workspace_root();
    let result = match args.as_slice() {
        ["generate"] => xtask::write_all(&root).map(|changed| {
            if changed.is_empty() {
                println!("generated files are up to date");
            }
            for path in changed {
                println!("wrote {}", path.display());
            }
        }),
        ["generate", "--check"] => xtask::stale_outputs(&root).and_then(|stale| {
            if stale.is_empty() {
                println!("generated files are up to date");
                Ok(())
            } else {
                let list: Vec<String> = stale.iter().map(|path| format!("  {}", path.display())).collect();
                Err(format!(
                    "generated files are stale:\n{}\nrun `{}` and commit the result",
                    list.join("\n"),
                    xtask::GENERATE_COMMAND
                ))
            }
        }),
        ["load", flags @ ..] => load_options(flags).and_then(|options| xtask::load::run(&root, &options)),
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

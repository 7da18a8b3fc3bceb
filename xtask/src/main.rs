//! `cargo xtask`: developer commands that cargo cannot express.

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask generate [--check]

commands:
  generate          write the types, client, server and fixture files from the OpenAPI documents
  generate --check  fail (exit 1) when a generated file differs from what generate would write";

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

//! The crates generated code needs, and the check that the crate each
//! generated file sits in declares them (with the features the generated
//! code relies on): `generate` fails naming the dependency line to add,
//! rather than leaving a `cannot find crate` for `cargo build` to report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};

/// A crate generated code may use, the line that adds it, and why.
struct Known {
    name: &'static str,
    line: &'static str,
    why: &'static str,
    features: &'static [&'static str],
}

const KNOWN: &[Known] = &[
    Known {
        name: "chrono",
        line: r#"chrono = { version = "0.4", default-features = false, features = ["serde", "std"] }"#,
        why: "schemas with `format: date-time` or `format: date` are chrono types",
        features: &["serde"],
    },
    Known {
        name: "uuid",
        line: r#"uuid = { version = "1", features = ["serde"] }"#,
        why: "schemas with `format: uuid` are uuid::Uuid",
        features: &["serde"],
    },
    Known {
        name: "regress",
        line: r#"regress = "0.12""#,
        why: "string schemas with a `pattern` are checked with regress",
        features: &[],
    },
    Known {
        name: "serde",
        line: r#"serde = { version = "1", features = ["derive"] }"#,
        why: "every generated type derives Serialize and Deserialize",
        features: &["derive"],
    },
    Known {
        name: "serde_json",
        line: r#"serde_json = "1""#,
        why: "untyped schemas and maps are serde_json values",
        features: &[],
    },
    Known {
        name: "schemars",
        line: r#"schemars = "0.8""#,
        why: "the shared types derive JsonSchema",
        features: &[],
    },
    Known {
        name: "reqwest",
        line: r#"reqwest = { version = "0.13", default-features = false, features = ["json", "query", "stream"] }"#,
        why: "the progenitor client sends its requests with reqwest",
        features: &["json", "query"],
    },
    Known {
        name: "progenitor_client",
        line: r#"progenitor-client = "0.15.1""#,
        why: "the progenitor client builds on progenitor-client",
        features: &[],
    },
    Known {
        name: "base64",
        line: r#"base64 = "0.22""#,
        why: "progenitor's websocket operations encode their Sec-WebSocket-Key in base64",
        features: &[],
    },
    Known {
        name: "rand",
        line: r#"rand = "0.9""#,
        why: "progenitor's websocket operations draw their Sec-WebSocket-Key with rand",
        features: &[],
    },
    Known {
        name: "futures",
        line: r#"futures = "0.3""#,
        why: "paginated operations of the progenitor client are futures streams",
        features: &[],
    },
    Known {
        name: "axum",
        line: r#"axum = { version = "0.8", default-features = false, features = ["http1", "tokio", "json", "query"] }"#,
        why: "the generated router is an axum router",
        features: &[],
    },
];

/// Crates of the standard library, never dependencies.
const STD: &[&str] = &["std", "core", "alloc"];

/// The crate names a generated file refers to: every absolute path
/// (`::chrono::…`) and every known crate used by a relative path
/// (`reqwest::…`, as progenitor writes it).
pub fn crates_used(code: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let bytes = code.as_bytes();
    let is_ident = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let mut index = 0;
    while let Some(offset) = code[index..].find("::") {
        let at = index + offset;
        index = at + 2;
        // `::name::` with nothing of an identifier before the first `::`.
        if at > 0 && (is_ident(bytes[at - 1]) || bytes[at - 1] == b':' || bytes[at - 1] == b'>') {
            continue;
        }
        let rest = &code[at + 2..];
        let name: String = rest
            .bytes()
            .take_while(|byte| is_ident(*byte))
            .map(char::from)
            .collect();
        if !name.is_empty() && rest[name.len()..].starts_with("::") && !STD.contains(&name.as_str()) {
            used.insert(name);
        }
    }
    for known in KNOWN {
        let pattern = format!("{}::", known.name);
        let mut from = 0;
        while let Some(offset) = code[from..].find(&pattern) {
            let at = from + offset;
            from = at + pattern.len();
            if at == 0 || (!is_ident(bytes[at - 1]) && bytes[at - 1] != b':') {
                used.insert(known.name.to_owned());
                break;
            }
        }
    }
    used
}

/// A normal dependency as `cargo metadata` reports it.
struct Declared {
    crate_name: String,
    features: Vec<String>,
}

/// The normal dependencies of the package whose manifest is `manifest`.
fn declared(metadata: &serde_json::Value, manifest: &Path) -> Option<Vec<Declared>> {
    let package = metadata["packages"]
        .as_array()?
        .iter()
        .find(|package| package["manifest_path"].as_str().map(Path::new) == Some(manifest))?;
    Some(
        package["dependencies"]
            .as_array()?
            .iter()
            .filter(|dependency| dependency["kind"].is_null())
            .map(|dependency| Declared {
                crate_name: dependency["rename"]
                    .as_str()
                    .or(dependency["name"].as_str())
                    .unwrap_or_default()
                    .replace('-', "_"),
                features: dependency["features"]
                    .as_array()
                    .map(|features| {
                        features
                            .iter()
                            .filter_map(|f| f.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect(),
    )
}

/// The manifest of the crate a file belongs to.
fn manifest_of(file: &Path) -> Option<PathBuf> {
    let mut dir = file.parent()?;
    loop {
        let manifest = dir.join("Cargo.toml");
        if manifest.is_file() {
            return Some(manifest);
        }
        dir = dir.parent()?;
    }
}

/// The packages of the workspace at `root`, from `cargo metadata`.
pub fn metadata(root: &Path) -> Result<serde_json::Value> {
    let output = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root)
        .output()
        .map_err(|error| Error::new(ErrorKind::Tool, format!("cannot run cargo metadata: {error}")))?;
    if !output.status.success() {
        return Err(Error::new(
            ErrorKind::Tool,
            format!(
                "cargo metadata failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|error| Error::new(ErrorKind::Tool, format!("cargo metadata: {error}")))
}

/// What the crate of `file` (relative to `root`) lacks for `code`: one
/// message per missing dependency or feature, naming the line to add.
pub fn missing(metadata: &serde_json::Value, root: &Path, file: &Path, code: &str) -> Vec<String> {
    let Some(manifest) = manifest_of(&root.join(file)) else {
        return vec![format!("{}: no Cargo.toml above it", file.display())];
    };
    let manifest = manifest.canonicalize().unwrap_or(manifest);
    let Some(declared) = declared(metadata, &manifest) else {
        return Vec::new();
    };
    let shown = manifest
        .strip_prefix(root.canonicalize().unwrap_or(root.to_path_buf()))
        .unwrap_or(&manifest);
    let used = crates_used(code);
    let mut problems = Vec::new();
    let own_name = manifest
        .parent()
        .and_then(|dir| dir.file_name())
        .map(|name| name.to_string_lossy().replace('-', "_"));
    for name in &used {
        if own_name.as_deref() == Some(name.as_str()) {
            continue;
        }
        let known = KNOWN.iter().find(|known| known.name == name);
        match declared.iter().find(|dependency| dependency.crate_name == *name) {
            None => problems.push(match known {
                Some(known) => format!(
                    "{} uses `{name}` ({}), but {} does not depend on it: add `{}` to its [dependencies]",
                    file.display(),
                    known.why,
                    shown.display(),
                    known.line
                ),
                None => format!(
                    "{} uses the crate `{name}`, but {} does not depend on it",
                    file.display(),
                    shown.display()
                ),
            }),
            Some(dependency) => {
                let mut wanted: Vec<&str> = known.map(|known| known.features.to_vec()).unwrap_or_default();
                if name == "schemars" && code.contains("JsonSchema") {
                    if used.contains("chrono") {
                        wanted.push("chrono");
                    }
                    if used.contains("uuid") {
                        wanted.push("uuid1");
                    }
                }
                for feature in wanted {
                    if !dependency.features.iter().any(|f| f == feature) {
                        problems.push(format!(
                            "{} needs the `{feature}` feature of `{name}`, which {} does not enable: add it to the `{name}` line of its [dependencies]",
                            file.display(),
                            shown.display()
                        ));
                    }
                }
            }
        }
    }
    problems
}

/// The `[dependencies]` lines a crate holding `code` needs, for a crate the
/// generator writes itself (the scratch crates of `cargo xtask corpus`).
pub fn dependency_lines(code: &str) -> Vec<String> {
    let used = crates_used(code);
    KNOWN
        .iter()
        .filter(|known| used.contains(known.name))
        .map(|known| {
            if known.name == "schemars" {
                let mut features = Vec::new();
                if used.contains("chrono") {
                    features.push(r#""chrono""#);
                }
                if used.contains("uuid") {
                    features.push(r#""uuid1""#);
                }
                format!(
                    r#"schemars = {{ version = "0.8", features = [{}] }}"#,
                    features.join(", ")
                )
            } else {
                known.line.to_owned()
            }
        })
        .collect()
}

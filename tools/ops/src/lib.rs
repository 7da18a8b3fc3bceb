//! Operations tooling of the audiences workspace: the bounded load run
//! ([`load`]), the benchmarks ([`bench`]) and the cluster behind HAProxy
//! ([`cluster`]). Each builds the release service (and the measuring binary,
//! `audiences-bench`, in `tools/bench/`) and drives it on loopback; `cargo
//! xtask` only parses the commands and calls these.

pub mod bench;
pub mod cluster;
pub mod load;
mod process;
mod service;

use std::path::{Path, PathBuf};

/// The project's own document, whose parameter examples name the demo data.
const DOCUMENT: &str = "openapi/audiences.yaml";

/// The cargo target folder (`CARGO_TARGET_DIR`, else `target/` of `root`).
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// The ids the document's parameters give as examples, `(account group,
/// audience)`: the demo data's ids (the service seeds them), so that the
/// tools read them from the document rather than repeat them.
pub fn demo_ids(root: &Path) -> Result<(String, String), String> {
    let text =
        std::fs::read_to_string(root.join(DOCUMENT)).map_err(|error| format!("{DOCUMENT}: {error}"))?;
    let document: serde_json::Value =
        serde_yaml::from_str(&text).map_err(|error| format!("{DOCUMENT}: {error}"))?;
    let example = |parameter: &str| {
        document["components"]["parameters"][parameter]["example"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{DOCUMENT}: the parameter {parameter} has no example id"))
    };
    Ok((example("AccountGroupId")?, example("AudienceId")?))
}

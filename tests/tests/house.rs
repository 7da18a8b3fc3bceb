//! The rules of the house, checked: who may depend on whom (from `cargo
//! metadata`), no import circle among the files of a crate, and no
//! hand-written file longer than a reader takes in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use audiences_tests::imports::circles;
use audiences_tests::workspace_root;

/// Every package of the workspace with the workspace packages it depends
/// on: normal and build dependencies (what its users get), or with
/// `dev`, its tests' too.
fn dependencies(dev: bool) -> BTreeMap<String, BTreeSet<String>> {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let ours: BTreeSet<String> = packages
        .iter()
        .map(|package| package["name"].as_str().unwrap().to_owned())
        .collect();
    packages
        .iter()
        .map(|package| {
            let depends_on = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|dependency| dev || dependency["kind"] != "dev")
                .map(|dependency| dependency["name"].as_str().unwrap().to_owned())
                .filter(|name| ours.contains(name))
                .collect();
            (package["name"].as_str().unwrap().to_owned(), depends_on)
        })
        .collect()
}

/// (package, what it must not depend on, why)
const RULES: &[(&str, &[&str], &str)] = &[
    (
        "openapi-server-runtime",
        &["*audiences", "openapi-codegen", "openapi-diff", "xtask"],
        "the runtime knows no API and no generator",
    ),
    (
        "openapi-codegen",
        &["*audiences", "xtask"],
        "the generator knows no API (it may use the runtime's JSON Schema)",
    ),
    (
        "openapi-diff",
        &["*", "!"],
        "the breaking-change check stands alone",
    ),
    (
        "audiences-types",
        &["*", "!"],
        "the generated types depend on nothing of the workspace",
    ),
    (
        "audiences-client",
        &[
            "openapi-server-runtime",
            "audiences-server",
            "openapi-codegen",
            "xtask",
            "audiences-ops",
        ],
        "a consumer's client carries no server",
    ),
    (
        "audiences-server",
        &[
            "audiences-client",
            "audiences-service",
            "openapi-codegen",
            "xtask",
            "audiences-ops",
        ],
        "the generated server is the trait and router on the runtime",
    ),
    (
        "audiences-server-fixtures",
        &[
            "audiences-server",
            "audiences-types",
            "audiences-service",
            "openapi-codegen",
            "xtask",
        ],
        "fixture APIs are generated on the runtime alone",
    ),
    (
        "audiences-service",
        &[
            "openapi-codegen",
            "openapi-diff",
            "xtask",
            "audiences-ops",
            "audiences-bench",
        ],
        "the product depends on no tool",
    ),
    (
        "audiences-cli",
        &[
            "openapi-codegen",
            "openapi-diff",
            "xtask",
            "audiences-ops",
            "audiences-bench",
        ],
        "the product depends on no tool",
    ),
    (
        "audiences-tests",
        &["openapi-codegen", "xtask", "audiences-ops"],
        "the contract tests do not build the generator",
    ),
    (
        "audiences-ops",
        &["*audiences-", "openapi-codegen", "xtask"],
        "the orchestration drives binaries; it links none of the product (xtask would rebuild on each document edit)",
    ),
    (
        "xtask",
        &[
            "audiences-types",
            "audiences-client",
            "audiences-server",
            "audiences-service",
            "audiences-cli",
        ],
        "xtask links no generated crate, so a document edit does not rebuild it",
    ),
];

fn forbidden(rule: &[&str], dependency: &str) -> bool {
    rule.iter().any(|pattern| match *pattern {
        "*" => true,
        "!" => false,
        "*audiences" => dependency.starts_with("audiences-"),
        "*audiences-" => dependency.starts_with("audiences-") && dependency != "audiences-ops",
        name => dependency == name,
    })
}

#[test]
fn crates_depend_only_the_way_the_architecture_says() {
    let dependencies = dependencies(false);
    let mut broken = Vec::new();
    for (package, rule, why) in RULES {
        let depends_on = dependencies
            .get(*package)
            .unwrap_or_else(|| panic!("{package} is a member of the workspace"));
        for dependency in depends_on {
            if forbidden(rule, dependency) {
                broken.push(format!("{package} depends on {dependency}: {why}"));
            }
        }
    }
    for (package, depends_on) in &self::dependencies(true) {
        if depends_on.contains("xtask") {
            broken.push(format!("{package} depends on xtask: nothing depends on xtask"));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_rules_can_fail() {
    assert!(forbidden(&["*audiences"], "audiences-types"));
    assert!(!forbidden(&["*audiences"], "openapi-server-runtime"));
    assert!(forbidden(&["*", "!"], "anything"));
    assert!(!forbidden(&["*audiences-"], "audiences-ops"));
}

/// The hand-written Rust files of a folder (generated files start with
/// `// @generated`).
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() && name != "target" && name != "node_modules" && !name.starts_with('.') {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            if !text.starts_with("// @generated") {
                found.push(path);
            }
        }
    }
}

/// The source folders (`src/`) of every package of the workspace.
fn source_folders() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut folders = vec![root.join("xtask/src"), root.join("tests/src")];
    for parent in ["crates", "tools"] {
        for entry in std::fs::read_dir(root.join(parent)).unwrap() {
            let src = entry.unwrap().path().join("src");
            if src.is_dir() {
                folders.push(src);
            }
        }
    }
    folders
}

#[test]
fn no_hand_written_file_is_over_600_lines() {
    let mut files = Vec::new();
    rust_files(&workspace_root(), &mut files);
    assert!(files.len() > 50, "the sources were found");
    let long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).unwrap().lines().count();
            (lines > 600).then(|| format!("{}: {lines} lines", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by job:\n{}", long.join("\n"));
}

#[test]
fn xtask_is_a_thin_command_line() {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("xtask/src"), &mut files);
    let lines: usize = files
        .iter()
        .map(|file| std::fs::read_to_string(file).unwrap().lines().count())
        .sum();
    assert!(
        lines < 800,
        "xtask/src holds {lines} lines: move the work into a library"
    );
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let mut all = Vec::new();
    for src in source_folders() {
        for circle in circles(&src) {
            all.push(format!("{}: {}", src.display(), circle.join(" <-> ")));
        }
    }
    assert!(all.is_empty(), "import circles:\n{}", all.join("\n"));
}

#[test]
fn a_circle_is_found() {
    let dir = std::env::temp_dir().join(format!("house-circle-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(
        dir.join("a/mod.rs"),
        "mod c;\nuse crate::b::B;\nfn f() { c::g() }\n",
    )
    .unwrap();
    std::fs::write(dir.join("a/c.rs"), "pub struct C;\n").unwrap();
    std::fs::write(dir.join("b.rs"), "use crate::a::{c::C, X};\npub struct B;\n").unwrap();
    let found = circles(&dir);
    std::fs::write(dir.join("b.rs"), "use super::a::c::C;\npub struct B;\n").unwrap();
    let without = circles(&dir);
    std::fs::write(dir.join("a/c.rs"), "use super::X;\npub struct C;\n").unwrap();
    let parent_and_child = circles(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found, vec![vec!["a/mod.rs".to_owned(), "b.rs".to_owned()]]);
    assert!(without.is_empty(), "{without:?}");
    assert!(
        parent_and_child.contains(&vec!["a/c.rs".to_owned(), "a/mod.rs".to_owned()]),
        "{parent_and_child:?}"
    );
}

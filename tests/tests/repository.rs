//! Checks that guard the repository: facts written once.

use std::path::Path;

use audiences_tests::{document, workspace_root};

fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The machine error codes are declared once, in the document's
/// `x-error-codes`; the crates' own code uses the generated constants
/// (`audiences_server::error_codes`, `audiences_client::error_codes`) or
/// `ErrorCode`, never the text.
#[test]
fn no_error_code_is_written_as_a_string_outside_generated_code() {
    let document = document();
    let codes: Vec<String> =
        document["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["x-error-codes"]
            .as_array()
            .expect("the document declares its error codes")
            .iter()
            .map(|entry| format!("\"{}\"", entry["code"].as_str().unwrap()))
            .collect();
    assert!(codes.len() >= 8, "{codes:?}");
    let mut files = Vec::new();
    for crate_dir in std::fs::read_dir(workspace_root().join("crates")).unwrap() {
        let crate_dir = crate_dir.unwrap().path();
        // This API's crates; the toolkit's defaults are not this API's codes.
        let ours = crate_dir
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("audiences-"));
        let src = crate_dir.join("src");
        if ours && src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 20, "the crates' sources were found");
    let mut offenders = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        if text.starts_with("// @generated") {
            continue;
        }
        for (number, line) in text.lines().enumerate() {
            if let Some(code) = codes.iter().find(|code| line.contains(code.as_str())) {
                offenders.push(format!("{}:{}: {code}", file.display(), number + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "use the generated constants:\n{}",
        offenders.join("\n")
    );
}

//! The workspace's own settings for the generator library
//! (`openapi-codegen`): which documents generate into which files, on which
//! paths, and the checks that guard them (fresh, declared dependencies). A
//! library so that `cargo test` runs the same checks as `cargo xtask
//! generate --check`.

use std::path::{Path, PathBuf};

use openapi_codegen::{Error, ErrorKind, Generated, Settings, Skip, format_tokens, generate, load};
use quote::{format_ident, quote};

/// The command that regenerates every generated file.
pub const GENERATE_COMMAND: &str = "cargo xtask generate";

/// The project's own document: `generate --strict` refuses any skip in it.
pub const DOCUMENT: &str = "openapi/audiences.yaml";

/// Where the fixture documents are (each generates into one file of the
/// fixtures crate).
pub const FIXTURES: &str = "xtask/fixtures";

/// The root of the workspace: the parent of xtask's manifest folder, as
/// cargo names it when it runs the command (so that a copy of the workspace
/// sharing a target folder generates into itself), else as it was built.
pub fn workspace_root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    Path::new(&manifest)
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// One generated file: where it goes and what it holds.
pub struct Output {
    /// Path relative to the workspace root.
    pub path: PathBuf,
    /// The formatted contents.
    pub contents: String,
}

/// Every generated file, and what the generators left out of them.
pub struct Generation {
    /// The files.
    pub outputs: Vec<Output>,
    /// `(document, skip)` for each operation a generator left out.
    pub skipped: Vec<(String, Skip)>,
    /// `(document, line)` for each schema written otherwise, each example
    /// that does not fit its schema, and each rule the server does not enforce.
    pub notes: Vec<(String, String)>,
    /// `(document, line)` for each rule the server does not enforce.
    pub unenforced: Vec<(String, String)>,
}

impl Generation {
    fn record(&mut self, source: &str, generated: &Generated) {
        let report = &generated.report;
        self.unenforced.extend(
            report
                .unenforced
                .iter()
                .map(|line| (source.to_owned(), line.clone())),
        );
        self.skipped.extend(
            report
                .skipped
                .iter()
                .map(|skip| (source.to_owned(), skip.clone())),
        );
        self.notes.extend(
            report
                .fallbacks
                .iter()
                .map(ToString::to_string)
                .chain(report.bad_examples.iter().cloned())
                .chain(report.unenforced.iter().map(|line| format!("server: {line}")))
                .map(|line| (source.to_owned(), line)),
        );
    }
}

fn generate_document(root: &Path, source: &str, settings: &Settings) -> Result<Generated, Error> {
    let document = load(&root.join(source))?;
    let generated = generate(&document, settings).map_err(|error| error.in_file(source))?;
    if let Some(example) = generated.report.bad_examples.first() {
        return Err(Error::new(
            ErrorKind::Examples,
            format!("examples that do not fit their schemas (a mock would answer with them): {example}"),
        )
        .in_file(source));
    }
    Ok(generated)
}

/// Every generated file of the workspace, from the documents alone.
pub fn generate_all(root: &Path) -> Result<Generation, Error> {
    let mut generation = Generation {
        outputs: Vec::new(),
        skipped: Vec::new(),
        notes: Vec::new(),
        unenforced: Vec::new(),
    };
    let generated = generate_document(
        root,
        DOCUMENT,
        &Settings {
            types_path: quote! { ::audiences_types },
            runtime_path: quote! { ::openapi_server_runtime },
        },
    )?;
    generation.record(DOCUMENT, &generated);
    for (path, tokens) in [
        ("crates/audiences-types/src/generated.rs", generated.types),
        ("crates/audiences-client/src/generated.rs", generated.client),
        ("crates/audiences-server/src/generated.rs", generated.server),
    ] {
        generation.outputs.push(Output {
            path: path.into(),
            contents: format_tokens(tokens, GENERATE_COMMAND, DOCUMENT)?,
        });
    }

    for fixture in fixtures(root)? {
        let source = format!("{FIXTURES}/{fixture}.yaml");
        let module = format_ident!("generated_{fixture}");
        let generated = generate_document(
            root,
            &source,
            &Settings {
                types_path: quote! { crate::#module::types },
                runtime_path: quote! { ::openapi_server_runtime },
            },
        )?;
        generation.record(&source, &generated);
        let Generated {
            types,
            client,
            server,
            ..
        } = generated;
        let tokens = quote! {
            /// The component schemas of the fixture, as generated for a types crate.
            pub mod types {
                #types
            }
            /// The progenitor client of the fixture, on [`types`].
            pub mod client {
                #client
            }
            #server
        };
        generation.outputs.push(Output {
            path: format!("crates/audiences-server-fixtures/src/generated_{fixture}.rs").into(),
            contents: format_tokens(tokens, GENERATE_COMMAND, &source)?,
        });
    }
    Ok(generation)
}

/// The names of the fixture documents, sorted.
pub fn fixtures(root: &Path) -> Result<Vec<String>, Error> {
    let dir = root.join(FIXTURES);
    let mut names = Vec::new();
    for path in openapi_codegen::corpus::documents(&dir)? {
        if let Some(stem) = path.file_stem().and_then(|stem| stem.to_str()) {
            names.push(stem.replace('-', "_"));
        }
    }
    Ok(names)
}

/// What the crates holding generated files lack for them (see
/// [`openapi_codegen::deps`]).
pub fn missing_dependencies(root: &Path, outputs: &[Output]) -> Result<Vec<String>, Error> {
    let metadata = openapi_codegen::deps::metadata(root)?;
    Ok(outputs
        .iter()
        .flat_map(|output| openapi_codegen::deps::missing(&metadata, root, &output.path, &output.contents))
        .collect())
}

/// The generated files whose contents on disk differ from what the
/// generator writes now.
pub fn stale_outputs(root: &Path, generation: &Generation) -> Vec<PathBuf> {
    generation
        .outputs
        .iter()
        .filter(|output| {
            std::fs::read_to_string(root.join(&output.path)).ok().as_deref() != Some(output.contents.as_str())
        })
        .map(|output| output.path.clone())
        .collect()
}

/// Writes every generated file; returns the ones that changed.
pub fn write_all(root: &Path, generation: &Generation) -> Result<Vec<PathBuf>, String> {
    let mut changed = Vec::new();
    for output in &generation.outputs {
        let path = root.join(&output.path);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(output.contents.as_str()) {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|error| error.to_string())?;
            }
            std::fs::write(&path, &output.contents)
                .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
            changed.push(output.path.clone());
        }
    }
    Ok(changed)
}

/// The document at `revision` (`git show REV:PATH`).
pub fn at_revision(root: &Path, revision: &str, path: &str) -> Result<String, String> {
    let output = std::process::Command::new("git")
        .args(["show", &format!("{revision}:{path}")])
        .current_dir(root)
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "cannot read {path} at {revision}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    String::from_utf8(output.stdout).map_err(|_| format!("{path} at {revision} is not UTF-8"))
}

/// The default base of `breaking`: the newest release tag (`v*`) if any,
/// else the merge base with `main` (or `origin/main`), else `HEAD`.
pub fn default_base(root: &Path) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
            .filter(|text| !text.is_empty())
    };
    git(&["describe", "--tags", "--abbrev=0", "--match", "v*"])
        .or_else(|| git(&["merge-base", "HEAD", "main"]))
        .or_else(|| git(&["merge-base", "HEAD", "origin/main"]))
        .unwrap_or_else(|| "HEAD".to_owned())
}

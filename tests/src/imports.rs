//! The import circles of a crate's files: which file names which other
//! file's items (through `use`, `crate::`/`super::`/`self::` paths and child
//! modules, following re-exports to the file that defines an item), and the
//! circles among them. Text, not a parser: string literals and the bodies
//! of `quote!` are left out, and generated files are neither read nor
//! counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every Rust file of a folder, generated or not.
fn all_rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The module path of a file under `src` (`src/a/b.rs` and `src/a/b/mod.rs`
/// are `a::b`; `lib.rs` and `main.rs` are the root).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap();
    let mut segments: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(segments.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        segments.pop();
    }
    segments
}

/// The paths a file's code names: every `use` tree expanded, and every
/// `crate::`, `super::` and `self::` path outside of `use`.
fn paths_named(text: &str) -> Vec<String> {
    let code: String = without_quoted(&without_strings(text))
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut paths = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        let after = &rest[at + 4..];
        let Some(end) = after.find(';') else { break };
        if before.is_none_or(|c| !c.is_alphanumeric() && c != '_') {
            let tree = after[..end].replace(" as ", "@").replace(char::is_whitespace, "");
            let mut expanded = Vec::new();
            expand(&tree, "", &mut expanded);
            paths.extend(
                expanded
                    .iter()
                    .map(|path| path.split('@').next().unwrap_or_default().to_owned()),
            );
        }
        rest = &after[end..];
    }
    // The file's child modules, named by their names alone.
    let children: Vec<String> = code
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("mod ")
                .or_else(|| line.strip_prefix("pub mod "))
                .or_else(|| line.strip_prefix("pub(crate) mod "))?;
            Some(format!("{}::", rest.strip_suffix(';')?))
        })
        .collect();
    let prefixes: Vec<&str> = ["crate::", "super::", "self::"]
        .into_iter()
        .chain(children.iter().map(String::as_str))
        .collect();
    for prefix in prefixes {
        let mut from = 0;
        while let Some(at) = code[from..].find(prefix) {
            let start = from + at;
            let before = code[..start].chars().last();
            let path: String = code[start..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if before.is_none_or(|c| !c.is_alphanumeric() && c != '_' && c != ':') {
                paths.push(path.trim_end_matches(':').to_owned());
            }
            from = start + prefix.len();
        }
    }
    paths
}

/// `text` with the contents of its string literals left out (`'"'` is a
/// character, not a string).
fn without_strings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (in_string, c) {
            (true, '\\') => {
                chars.next();
            }
            (true, '"') => {
                in_string = false;
                out.push('"');
            }
            (true, '\n') => out.push('\n'),
            (true, _) => {}
            (false, '\'') if chars.peek() == Some(&'"') => {
                out.push('\'');
                out.push('"');
                chars.next();
            }
            (false, '"') => {
                in_string = true;
                out.push('"');
            }
            (false, c) => out.push(c),
        }
    }
    out
}

/// `code` without the bodies of `quote!` (the code a generator writes,
/// which names the paths of the code it writes, not its own).
fn without_quoted(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("quote!") {
        out.push_str(&rest[..at]);
        let after = rest[at + 6..].trim_start();
        let Some(open) = after.chars().next().filter(|c| matches!(c, '{' | '(' | '[')) else {
            rest = &rest[at + 6..];
            continue;
        };
        let close = match open {
            '{' => '}',
            '(' => ')',
            _ => ']',
        };
        let mut depth = 0;
        let mut end = after.len();
        for (index, c) in after.char_indices() {
            if c == open {
                depth += 1;
            } else if c == close {
                depth -= 1;
                if depth == 0 {
                    end = index + 1;
                    break;
                }
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// A `use` tree (`a::{b, c::{d}}`) as its full paths.
fn expand(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let tree = tree.trim_start_matches("::");
    match tree.find('{') {
        None => {
            // An alias stays, after `@` (`a::b@c` for `a::b as c`).
            out.push(format!("{prefix}{tree}"));
        }
        Some(open) => {
            let head = format!("{prefix}{}", &tree[..open]);
            let close = tree
                .rfind('}')
                .filter(|close| *close > open)
                .unwrap_or(tree.len());
            let inner = &tree[open + 1..close];
            let mut depth = 0;
            let mut start = 0;
            for (index, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&inner[start..index], &head, out);
                        start = index + 1;
                    }
                    _ => {}
                }
            }
            if start < inner.len() {
                expand(&inner[start..], &head, out);
            }
        }
    }
}

/// One file of a crate, as the circle check reads it.
struct Module {
    file: PathBuf,
    /// Written by a generator: the check neither reads nor counts it.
    generated: bool,
    /// The paths its code names (tests left out: they may use anything).
    paths: Vec<String>,
    /// What it re-exports (`pub use`): name to path.
    reexports: BTreeMap<String, String>,
    /// What it re-exports whole (`pub use x::*`).
    globs: Vec<String>,
    /// The items it defines.
    defines: BTreeSet<String>,
}

impl Module {
    fn read(file: &Path) -> Self {
        let text = std::fs::read_to_string(file).unwrap();
        let generated = text.starts_with("// @generated");
        let text = if generated {
            ""
        } else {
            text.split("#[cfg(test)]").next().unwrap_or_default()
        };
        let mut reexports = BTreeMap::new();
        let mut globs = Vec::new();
        for line in text.split(';') {
            let line = line.trim_start();
            let tree = line
                .strip_prefix("pub use ")
                .or_else(|| line.strip_prefix("pub(crate) use "))
                .or_else(|| line.strip_prefix("pub(super) use "));
            let Some(tree) = tree else { continue };
            let mut paths = Vec::new();
            expand(
                &tree
                    .replace(char::is_whitespace, " ")
                    .replace(" as ", "@")
                    .replace(' ', ""),
                "",
                &mut paths,
            );
            for path in paths {
                let (path, alias) = path
                    .split_once('@')
                    .map_or((path.clone(), None), |(path, alias)| {
                        (path.to_owned(), Some(alias.to_owned()))
                    });
                match path.strip_suffix("::*") {
                    Some(glob) => globs.push(glob.to_owned()),
                    None => {
                        let name =
                            alias.unwrap_or_else(|| path.rsplit("::").next().unwrap_or_default().to_owned());
                        reexports.insert(name, path);
                    }
                }
            }
        }
        let mut defines = BTreeSet::new();
        for line in text.lines() {
            let words: Vec<&str> = line
                .split(|c: char| !c.is_alphanumeric() && c != '_' && c != '!')
                .collect();
            for pair in words.windows(2) {
                if matches!(
                    pair[0],
                    "fn" | "struct" | "enum" | "trait" | "type" | "const" | "static" | "mod" | "macro_rules!"
                ) {
                    defines.insert(pair[1].to_owned());
                }
            }
        }
        Self {
            file: file.to_path_buf(),
            generated,
            paths: paths_named(text),
            reexports,
            globs,
            defines,
        }
    }
}

/// The file a path names, from the module at `module`: the longest prefix
/// of the path that is a module, and through its re-exports to the file
/// that defines the item.
fn target(
    path: &str,
    module: &[String],
    modules: &BTreeMap<Vec<String>, Module>,
    depth: usize,
) -> Option<PathBuf> {
    if depth > 8 {
        return None;
    }
    let mut segments = path.split("::").filter(|segment| !segment.is_empty());
    let mut at: Vec<String> = match segments.next()? {
        "crate" => Vec::new(),
        "self" => module.to_vec(),
        "super" => {
            let mut parent = module.to_vec();
            parent.pop()?;
            parent
        }
        // A child module named by its name alone.
        child => {
            let mut path = module.to_vec();
            path.push(child.to_owned());
            modules.contains_key(&path).then_some(())?;
            path
        }
    };
    let mut rest: Vec<&str> = segments.collect();
    while rest.first() == Some(&"super") {
        at.pop()?;
        rest.remove(0);
    }
    modules.get(&at)?;
    let mut consumed = 0;
    for segment in &rest {
        let mut deeper = at.clone();
        deeper.push((*segment).to_owned());
        if !modules.contains_key(&deeper) {
            break;
        }
        at = deeper;
        consumed += 1;
    }
    let found = modules.get(&at).filter(|found| !found.generated)?;
    let Some(item) = rest.get(consumed) else {
        return Some(found.file.clone());
    };
    // Re-exported from another crate or a generated file: no file of ours.
    if let Some(reexported) = found.reexports.get(*item) {
        return target(reexported, &at, modules, depth + 1);
    }
    if !found.defines.contains(*item) && !found.globs.is_empty() {
        return found
            .globs
            .iter()
            .find_map(|glob| target(&format!("{glob}::{item}"), &at, modules, depth + 1));
    }
    Some(found.file.clone())
}

/// Circles of files that name each other's items (directly or around).
pub fn circles(src: &Path) -> Vec<Vec<String>> {
    let mut files = Vec::new();
    all_rust_files(src, &mut files);
    let modules: BTreeMap<Vec<String>, Module> = files
        .iter()
        .map(|file| (module_of(src, file), Module::read(file)))
        .collect();
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (name, module) in &modules {
        for path in &module.paths {
            if let Some(target) = target(path, name, &modules, 0)
                && target != module.file
            {
                if std::env::var("HOUSE_DEBUG").is_ok_and(|file| module.file.ends_with(file)) {
                    eprintln!("{} -> {} by {path}", module.file.display(), target.display());
                }
                edges.entry(module.file.clone()).or_default().insert(target);
            }
        }
    }
    let mut found = Vec::new();
    for start in edges.keys() {
        // The shortest way back to `start`, by breadth first.
        let mut previous: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.clone()]);
        while let Some(file) = queue.pop_front() {
            for next in edges.get(&file).into_iter().flatten() {
                if next == start {
                    let mut circle = vec![file.clone()];
                    while let Some(before) = previous.get(circle.last().unwrap()) {
                        circle.push(before.clone());
                    }
                    let mut names: Vec<String> = circle
                        .iter()
                        .map(|file| file.strip_prefix(src).unwrap().display().to_string())
                        .collect();
                    names.sort();
                    if !found.contains(&names) {
                        found.push(names);
                    }
                    queue.clear();
                    break;
                }
                if !previous.contains_key(next) && next != start {
                    previous.insert(next.clone(), file.clone());
                    queue.push_back(next.clone());
                }
            }
        }
    }
    found
}

//! Patterns of the document, checked without a regular expression engine
//! in their most common shape.

use std::sync::OnceLock;

/// A regular expression of the document (ECMA-262 syntax, as OpenAPI and
/// JSON Schema specify, with `regress`), compiled on first use.
///
/// The common shape of id patterns, one anchored ASCII character class with
/// a count (`^[0-9a-fA-F]{24}$`, `^[a-z_]+$`), is checked directly: a regular
/// expression engine was the largest cost the generated layer added per
/// request (about 1.5% of the instructions of a page). Anything else goes to
/// `regress`, the engine the generated types use for the same patterns.
pub struct Pattern {
    source: &'static str,
    compiled: OnceLock<Matcher>,
}

pub(crate) enum Matcher {
    /// `^[set]{min,max}$` over ASCII.
    Class {
        set: [bool; 128],
        min: usize,
        max: Option<usize>,
    },
    Regex(regress::Regex),
}

/// `^[set]{quantifier}$` with a plain ASCII set (characters and ranges,
/// no escapes, no negation), or `None`.
pub(crate) fn simple_class(source: &str) -> Option<Matcher> {
    let body = source.strip_prefix("^[")?.strip_suffix('$')?;
    let (class, quantifier) = body.split_once(']')?;
    if class.is_empty() || class.starts_with('^') || class.contains(['\\', '[', ']']) || !class.is_ascii() {
        return None;
    }
    let mut set = [false; 128];
    let bytes = class.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let start = bytes[index];
        if index + 2 < bytes.len() && bytes[index + 1] == b'-' {
            let end = bytes[index + 2];
            if end < start {
                return None;
            }
            for byte in start..=end {
                set[usize::from(byte)] = true;
            }
            index += 3;
        } else {
            set[usize::from(start)] = true;
            index += 1;
        }
    }
    let (min, max) = match quantifier {
        "" => (1, Some(1)),
        "+" => (1, None),
        "*" => (0, None),
        counted => {
            let counted = counted.strip_prefix('{')?.strip_suffix('}')?;
            match counted.split_once(',') {
                None => {
                    let exact = counted.parse().ok()?;
                    (exact, Some(exact))
                }
                Some((min, "")) => (min.parse().ok()?, None),
                Some((min, max)) => (min.parse().ok()?, Some(max.parse().ok()?)),
            }
        }
    };
    Some(Matcher::Class { set, min, max })
}

impl Pattern {
    /// The pattern as the document writes it.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// A pattern from the document; the generator checked that it compiles.
    pub const fn new(source: &'static str) -> Self {
        Self {
            source,
            compiled: OnceLock::new(),
        }
    }

    /// Whether `text` matches (anywhere, as in JSON Schema; anchors say where).
    pub fn is_match(&self, text: &str) -> bool {
        let matcher = self.compiled.get_or_init(|| {
            simple_class(self.source).unwrap_or_else(|| {
                Matcher::Regex(regress::Regex::new(self.source).expect("the generator checked this pattern"))
            })
        });
        match matcher {
            Matcher::Class { set, min, max } => {
                let mut count = 0;
                for character in text.chars() {
                    if !set.get(character as usize).copied().unwrap_or(false) {
                        return false;
                    }
                    count += 1;
                }
                count >= *min && max.is_none_or(|max| count <= max)
            }
            Matcher::Regex(regex) => regex.find(text).is_some(),
        }
    }
}

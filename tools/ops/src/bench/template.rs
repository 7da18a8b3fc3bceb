//! The text of BENCHMARKS.md is a template (`tools/ops/BENCHMARKS.template.md`)
//! with `{{name}}` placeholders; the bench fills [`Values`] and [`render`]s
//! it. A placeholder without a value, or a value no placeholder uses, is an
//! error: the text and the measurements cannot drift apart unnoticed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

/// The template, as committed.
pub(crate) const TEMPLATE: &str = include_str!("../../BENCHMARKS.template.md");

/// What the placeholders are filled with.
#[derive(Debug, Default)]
pub(crate) struct Values(BTreeMap<String, String>);

impl Values {
    /// Fills `{{name}}` with `value`.
    pub(crate) fn set(&mut self, name: &str, value: impl Display) {
        self.0.insert(name.to_owned(), value.to_string());
    }

    /// Fills `{{name}}` with `value` to `decimals` places.
    pub(crate) fn number(&mut self, name: &str, value: f64, decimals: usize) {
        self.set(name, format!("{value:.decimals$}"));
    }
}

/// `template` with every placeholder filled.
pub(crate) fn render(template: &str, values: &Values) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() * 2);
    let mut used = BTreeSet::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("an unclosed placeholder: {}", &rest[start..]))?;
        let name = &after[..end];
        let value = values
            .0
            .get(name)
            .ok_or_else(|| format!("the placeholder {{{{{name}}}}} has no value"))?;
        out.push_str(value);
        used.insert(name.to_owned());
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    let unused: Vec<&String> = values.0.keys().filter(|name| !used.contains(*name)).collect();
    if !unused.is_empty() {
        return Err(format!("values no placeholder uses: {unused:?}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{TEMPLATE, Values, render};

    #[test]
    fn placeholders_are_filled_and_both_sides_must_match() {
        let mut values = Values::default();
        values.set("a", "one");
        values.number("b", 2.345, 1);
        assert_eq!(render("{{a}} and {{b}}.", &values).unwrap(), "one and 2.3.");
        assert!(render("{{a}} {{c}}", &values).unwrap_err().contains("{{c}}"));
        assert!(render("{{a}}", &values).unwrap_err().contains("\"b\""));
        assert!(render("{{a", &values).is_err());
    }

    #[test]
    fn the_committed_template_names_its_sections() {
        for heading in ["## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6."] {
            assert!(TEMPLATE.contains(heading), "{heading}");
        }
    }
}

//! What a request brings: its parameters (raw values per location, then
//! parsed by their rules), string patterns, and its body.

pub(crate) mod body;
pub(crate) mod params;
pub(crate) mod parse;
pub(crate) mod pattern;
pub(crate) mod validate;

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use axum::http::StatusCode;

    use super::params::Location;
    use super::parse::{IntegerRules, StringRules, parse_integer, parse_string};
    use super::pattern::{Matcher, Pattern, simple_class};

    static HEX24: Pattern = Pattern::new("^[0-9a-fA-F]{24}$");

    fn limit_rules() -> IntegerRules {
        IntegerRules {
            minimum: Some(1),
            maximum: Some(100),
            format: Some("int32"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        #[test]
        fn an_integer_is_accepted_exactly_when_it_is_decimal_and_in_bounds(raw in "[-+0-9a-z. ]{0,24}|[0-9]{1,4}") {
            let parsed = parse_integer::<i32>(Location::Query, "limit", &raw, &limit_rules());
            let expected = raw
                .strip_prefix('-')
                .unwrap_or(&raw)
                .bytes()
                .all(|byte| byte.is_ascii_digit())
                .then(|| raw.parse::<i64>().ok())
                .flatten()
                .filter(|value| (1..=100).contains(value));
            match (parsed, expected) {
                (Ok(value), Some(expected)) => prop_assert_eq!(i64::from(value), expected),
                (Err(error), None) => {
                    prop_assert_eq!(error.status, StatusCode::BAD_REQUEST);
                    prop_assert_eq!(error.details.as_deref(), Some("limit"));
                }
                (parsed, expected) => prop_assert!(false, "{raw:?}: {parsed:?} but expected {expected:?}"),
            }
        }

        #[test]
        fn the_character_class_fast_path_agrees_with_regress(
            which in 0_usize..6,
            text in "[0-9a-zA-Z_\\-. é]{0,30}",
        ) {
            const PATTERNS: [&str; 6] = [
                "^[0-9a-fA-F]{24}$",
                "^[a-z_]+$",
                "^[A-Za-z0-9_-]*$",
                "^[0-9]{2,5}$",
                "^[a-c.]{3,}$",
                "^[x]$",
            ];
            let pattern = Pattern::new(PATTERNS[which]);
            let fast = matches!(simple_class(PATTERNS[which]), Some(Matcher::Class { .. }));
            prop_assert!(fast, "{} takes the fast path", PATTERNS[which]);
            let reference = regress::Regex::new(PATTERNS[which]).unwrap();
            prop_assert_eq!(pattern.is_match(&text), reference.find(&text).is_some(), "{} on {:?}", PATTERNS[which], text);
        }

        #[test]
        fn a_string_is_accepted_exactly_when_it_meets_its_rules(raw in "\\PC{0,30}|[0-9a-f]{24}") {
            let rules = StringRules {
                min_length: Some(24),
                max_length: Some(24),
                pattern: Some(&HEX24),
                format: None,
            };
            let parsed = parse_string(Location::Path, "audienceId", &raw, &rules);
            let valid = raw.chars().count() == 24 && raw.chars().all(|c| c.is_ascii_hexdigit());
            prop_assert_eq!(parsed.is_ok(), valid, "{:?}", raw);
            if let Ok(value) = parsed {
                prop_assert_eq!(value, raw);
            }
        }
    }
}

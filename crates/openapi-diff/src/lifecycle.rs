//! The deprecation lifecycle: `deprecated`, `x-sunset` dates and
//! `x-stability-level` (draft < alpha < beta < stable), as oasdiff reads them.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// A calendar date (year, month, day), ordered.
pub(crate) type Date = (i64, u32, u32);

/// Today's date in UTC.
pub(crate) fn today() -> Date {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    civil_from_days(i64::try_from(seconds / 86_400).unwrap_or(0))
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to a date.
fn civil_from_days(days: i64) -> Date {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// Parses `YYYY-MM-DD` or an RFC 3339 date-time (its date is taken).
pub(crate) fn parse_date(text: &str) -> Option<Date> {
    let date = text.get(..10)?;
    let rest = &text[10..];
    if !(rest.is_empty() || rest.starts_with(['T', 't', ' '])) {
        return None;
    }
    let mut parts = date.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let (year, month, day) = (year.parse().ok()?, month.parse().ok()?, day.parse().ok()?);
    ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some((year, month, day))
}

/// An operation's, parameter's or property's `x-sunset`: absent, a date, or
/// text that is not one.
pub(crate) enum Sunset {
    None,
    On(Date),
    Invalid(String),
}

pub(crate) fn sunset(value: &Value) -> Sunset {
    match value.get("x-sunset") {
        None => Sunset::None,
        Some(Value::String(text)) => {
            parse_date(text).map_or_else(|| Sunset::Invalid(text.clone()), Sunset::On)
        }
        Some(other) => Sunset::Invalid(other.to_string()),
    }
}

pub(crate) fn deprecated(value: &Value) -> bool {
    value.get("deprecated").and_then(Value::as_bool).unwrap_or(false)
}

/// `x-stability-level`: `Ok(None)` when absent, its rank when known, the
/// text when not.
pub(crate) fn stability(value: &Value) -> Result<Option<(u8, &str)>, String> {
    match value.get("x-stability-level") {
        None => Ok(None),
        Some(Value::String(level)) => match level.as_str() {
            "draft" => Ok(Some((0, "draft"))),
            "alpha" => Ok(Some((1, "alpha"))),
            "beta" => Ok(Some((2, "beta"))),
            "stable" => Ok(Some((3, "stable"))),
            other => Err(other.to_owned()),
        },
        Some(other) => Err(other.to_string()),
    }
}

pub(crate) fn show(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.0, date.1, date.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_and_days_convert() {
        assert_eq!(parse_date("2025-03-01"), Some((2025, 3, 1)));
        assert_eq!(parse_date("2025-03-01T00:00:00Z"), Some((2025, 3, 1)));
        assert_eq!(parse_date("2025-3-1"), None);
        assert_eq!(parse_date("next year"), None);
        assert_eq!(parse_date("2025-13-01"), None);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert!(today() > (2024, 1, 1));
    }
}

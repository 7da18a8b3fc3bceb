//! Refusals naming every violation: [`ApiError::violations`] for the
//! rules a value broke, [`ApiError::combined`] and [`all_valid`] for the
//! failures of several parameters at once.

use super::error::ApiError;
use super::violation::{MAX_VIOLATIONS, Violation};

impl ApiError {
    /// A 400 naming every violation of `what` (`the request body`): the
    /// message lists what is wrong, `details` where each one is and which
    /// rule it broke.
    pub fn violations(what: &str, mut violations: Vec<Violation>) -> Self {
        violations.truncate(MAX_VIOLATIONS);
        let messages: Vec<String> = violations
            .iter()
            .map(|violation| format!("{}: {}", violation.summary(), violation.message))
            .collect();
        let details: Vec<String> = violations.iter().map(Violation::summary).collect();
        let count = violations.len();
        let mut error = ApiError::validation(
            format!(
                "{what} breaks {count} rule{} of the document: {}",
                if count == 1 { "" } else { "s" },
                messages.join("; ")
            ),
            details.join("; "),
        );
        error.violations = violations;
        error
    }

    /// One failure for several: the only one as it is, else a 400 naming
    /// each (their messages, and their `details` joined). Generated code
    /// parses every parameter before it refuses any, so that a request
    /// learns of all its mistakes at once.
    pub fn combined(errors: Vec<ApiError>) -> Self {
        let mut errors = errors;
        if errors.len() <= 1 {
            return errors.pop().unwrap_or_else(ApiError::internal);
        }
        let mut violations = Vec::new();
        for error in &errors {
            if error.violations.is_empty() {
                violations.push(Violation {
                    pointer: error.details.clone().unwrap_or_default(),
                    rule: "parameter".to_owned(),
                    limit: None,
                    message: error.message.clone(),
                });
            } else {
                violations.extend(error.violations.iter().cloned());
            }
        }
        violations.truncate(MAX_VIOLATIONS);
        let messages: Vec<&str> = errors.iter().map(|error| error.message.as_str()).collect();
        let details: Vec<&str> = errors
            .iter()
            .filter_map(|error| error.details.as_deref())
            .collect();
        let mut error = ApiError::validation(
            format!(
                "{} mistakes in the request: {}",
                errors.len(),
                messages.join("; ")
            ),
            details.join(", "),
        );
        error.violations = violations;
        error
    }
}

/// Refuses a request when any of `results` failed, naming every failure.
pub fn all_valid(results: &[Option<&ApiError>]) -> Result<(), ApiError> {
    let errors: Vec<ApiError> = results.iter().flatten().map(|error| (*error).clone()).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::combined(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::{ApiError, MAX_VIOLATIONS, Violation, all_valid};

    fn violation(pointer: &str, rule: &str, limit: i64) -> Violation {
        Violation {
            pointer: pointer.to_owned(),
            rule: rule.to_owned(),
            limit: Some(limit.into()),
            message: format!("must be at least {limit}"),
        }
    }

    #[test]
    fn every_violation_is_named_up_to_the_cap() {
        let error = ApiError::violations("the request body", vec![violation("/radius", "minimum", 0); 30]);
        assert_eq!(error.violations.len(), MAX_VIOLATIONS);
        assert_eq!(
            error
                .details
                .as_deref()
                .map(|d| d.matches("/radius (minimum 0)").count()),
            Some(20)
        );
        let two = ApiError::violations(
            "the request body",
            vec![
                violation("/radius", "minimum", 0),
                violation("/items/3/size", "maximum", 9),
            ],
        );
        assert!(two.message.contains("breaks 2 rules"), "{}", two.message);
        assert_eq!(
            two.details.as_deref(),
            Some("/radius (minimum 0); /items/3/size (maximum 9)")
        );
    }

    #[test]
    fn one_failure_stays_itself_and_several_are_named_together() {
        let limit = ApiError::validation("`limit` must be at most 100", "limit");
        assert_eq!(all_valid(&[None, Some(&limit)]).unwrap_err(), limit);
        assert!(all_valid(&[None, None]).is_ok());
        let cursor = ApiError::validation("`cursor` is not valid", "cursor");
        let both = all_valid(&[Some(&limit), Some(&cursor)]).unwrap_err();
        assert_eq!(both.details.as_deref(), Some("limit, cursor"));
        assert_eq!(both.violations.len(), 2);
        assert!(both.message.contains("2 mistakes"), "{}", both.message);
    }
}

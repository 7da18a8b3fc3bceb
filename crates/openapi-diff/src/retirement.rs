//! An operation's lifecycle across the two documents: removal allowed only
//! once deprecated and past its sunset (or while draft or alpha),
//! deprecation, sunset dates moved, stability lowered, `operationId` changed.

use serde_json::Value;

use crate::compare::Comparison;
use crate::lifecycle::{Sunset, deprecated, show, stability, sunset};

impl Comparison<'_> {
    /// An operation of the base that the head lacks: allowed only once it
    /// is deprecated and past its sunset, or not yet beta.
    pub(crate) fn removed(&mut self, operation: &Value, whole_path: bool) {
        let scope = if whole_path { "api-path" } else { "api" };
        if let Ok(Some((rank, level))) = stability(operation)
            && rank < 2
        {
            self.emit(
                "api-removed-after-sunset",
                format!("operation removed (stability {level})"),
            );
            return;
        }
        if !deprecated(operation) {
            self.emit(
                &format!("{scope}-removed-without-deprecation"),
                "operation removed without deprecation".into(),
            );
            return;
        }
        match sunset(operation) {
            Sunset::None => self.emit(
                &format!("{scope}-removed-with-deprecation"),
                "deprecated operation removed".into(),
            ),
            Sunset::Invalid(text) => self.emit(
                "api-path-sunset-parse",
                format!("operation removed; its x-sunset {text} is not a date"),
            ),
            Sunset::On(date) if date > self.today => self.emit(
                &format!("{scope}-removed-before-sunset"),
                format!("operation removed before its sunset {}", show(date)),
            ),
            Sunset::On(date) => self.emit(
                "api-removed-after-sunset",
                format!("operation removed after its sunset {}", show(date)),
            ),
        }
    }

    pub(crate) fn lifecycle(&mut self, base: &Value, head: &Value) {
        match (deprecated(base), deprecated(head)) {
            (false, true) => match sunset(head) {
                Sunset::None => self.emit("endpoint-deprecated", "operation deprecated".into()),
                Sunset::On(date) => self.emit(
                    "endpoint-deprecated-with-sunset",
                    format!("operation deprecated, sunset {}", show(date)),
                ),
                Sunset::Invalid(text) => self.emit(
                    "api-deprecated-sunset-parse",
                    format!("operation deprecated with x-sunset {text}, not a date"),
                ),
            },
            (true, false) => self.emit("endpoint-reactivated", "operation no longer deprecated".into()),
            (true, true) => match (sunset(base), sunset(head)) {
                (Sunset::On(before), Sunset::None) => {
                    self.emit("sunset-deleted", format!("x-sunset {} removed", show(before)))
                }
                (Sunset::On(before), Sunset::On(after)) if after < before => self.emit(
                    "api-sunset-date-changed-too-small",
                    format!("x-sunset moved earlier: {} -> {}", show(before), show(after)),
                ),
                (_, Sunset::Invalid(text)) => self.emit(
                    "api-deprecated-sunset-parse",
                    format!("x-sunset {text} is not a date"),
                ),
                _ => {}
            },
            (false, false) => {}
        }
        match (stability(base), stability(head)) {
            (_, Err(text)) => self.emit(
                "api-invalid-stability-level",
                format!("x-stability-level {text} is not draft, alpha, beta or stable"),
            ),
            (Ok(Some((before, from))), Ok(Some((after, to)))) if after < before => {
                self.emit("api-stability-decreased", format!("stability {from} -> {to}"));
            }
            (Ok(Some((before, from))), Ok(Some((after, to)))) if after > before => {
                self.emit("api-stability-increased", format!("stability {from} -> {to}"));
            }
            _ => {}
        }
        let id = |operation: &Value| operation.get("operationId").cloned();
        match (id(base), id(head)) {
            (Some(before), after) if Some(&before) != after.as_ref() => self.emit(
                "api-operation-id-removed",
                format!("operationId {before} -> {}", after.unwrap_or(Value::Null)),
            ),
            (None, Some(after)) => self.emit("api-operation-id-added", format!("operationId {after} added")),
            _ => {}
        }
    }
}

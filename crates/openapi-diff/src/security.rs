//! Security requirements and `x-permissions`: every way a client could
//! authenticate before must still work.

use serde_json::{Map, Value};

use crate::compare::Comparison;
use crate::walk::{join, security_of, strings};

impl Comparison<'_> {
    /// Security requirements: every way a client could authenticate before
    /// must still work (a requirement it meets, with no scope it lacks).
    pub(crate) fn security(&mut self, base_operation: &Value, head_operation: &Value) {
        let alternatives = |security: Value| -> Vec<Map<String, Value>> {
            let list: Vec<Map<String, Value>> = security
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item.as_object().cloned())
                .collect();
            if list.is_empty() { vec![Map::new()] } else { list }
        };
        let base_alternatives = alternatives(security_of(self.base, base_operation));
        let head_alternatives = alternatives(security_of(self.head, head_operation));
        let met_by = |held: &Map<String, Value>, needed: &Map<String, Value>| {
            needed.iter().all(|(scheme, scopes)| {
                held.get(scheme)
                    .is_some_and(|own| strings(Some(scopes)).is_subset(&strings(Some(own))))
            })
        };
        let show = |alternative: &Map<String, Value>| {
            if alternative.is_empty() {
                "none".to_owned()
            } else {
                Value::Object(alternative.clone()).to_string()
            }
        };
        for base in &base_alternatives {
            if head_alternatives.iter().any(|head| met_by(base, head)) {
                continue;
            }
            let same_schemes = head_alternatives.iter().find(|head| head.keys().eq(base.keys()));
            match same_schemes {
                Some(head) => self.emit(
                    "api-security-scope-added",
                    format!("security changed: {} now needs {}", show(base), show(head)),
                ),
                None => self.emit(
                    "api-security-added",
                    format!(
                        "security changed: clients authenticating with {} no longer get in (now {})",
                        show(base),
                        head_alternatives
                            .iter()
                            .map(show)
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                ),
            }
        }
        for base in &base_alternatives {
            if head_alternatives.contains(base) || !head_alternatives.iter().any(|head| met_by(base, head)) {
                continue;
            }
            match head_alternatives.iter().find(|head| head.keys().eq(base.keys())) {
                Some(head) => self.emit(
                    "api-security-scope-removed",
                    format!("security requirement {} relaxed to {}", show(base), show(head)),
                ),
                None => self.emit(
                    "api-security-removed",
                    format!("security requirement {} relaxed", show(base)),
                ),
            }
        }
        for head in &head_alternatives {
            let rescoped = base_alternatives.iter().any(|base| base.keys().eq(head.keys()));
            if !base_alternatives.contains(head) && !rescoped {
                self.emit(
                    "api-security-alternative-added",
                    format!("security requirement {} accepted", show(head)),
                );
            }
        }
        let (base_permissions, head_permissions) = (
            strings(base_operation.get("x-permissions")),
            strings(head_operation.get("x-permissions")),
        );
        let added: Vec<&String> = head_permissions.difference(&base_permissions).collect();
        let removed: Vec<&String> = base_permissions.difference(&head_permissions).collect();
        if !added.is_empty() {
            self.emit(
                "api-permission-added",
                format!("now requires the permission {}", join(&added)),
            );
        }
        if !removed.is_empty() {
            self.emit(
                "api-permission-removed",
                format!("no longer requires the permission {}", join(&removed)),
            );
        }
    }
}

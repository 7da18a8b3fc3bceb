//! The walk of both documents: operations matched by method and path shape,
//! then their security, parameters, bodies and responses, each difference
//! rated by the way data flows (a request narrowed breaks clients, a
//! response widened breaks them).

use serde_json::Value;

use crate::report::{Finding, Report, Severity};
use crate::walk::{join, label, number, path_shape, resolve, security_of, strings, type_of, unwrap_schema};

/// Which way data flows: what a client sends, or what it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

struct Comparison<'a> {
    base: &'a Value,
    head: &'a Value,
    operation: String,
    findings: Vec<Finding>,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl Comparison<'_> {
    fn add(&mut self, severity: Severity, message: String) {
        self.findings.push(Finding {
            operation: self.operation.clone(),
            severity,
            message,
        });
    }

    fn breaking(&mut self, message: String) {
        self.add(Severity::Breaking, message);
    }

    fn compatible(&mut self, message: String) {
        self.add(Severity::Compatible, message);
    }

    fn schema(&mut self, base: &Value, head: &Value, direction: Direction, at: &str, depth: usize) {
        if depth > 24 {
            return;
        }
        let (base, base_nullable) = unwrap_schema(self.base, base);
        let (head, head_nullable) = unwrap_schema(self.head, head);
        let (base, head) = (&*base, &*head);
        match (direction, base_nullable, head_nullable) {
            (Direction::Response, false, true) => self.breaking(format!("{at} became nullable")),
            (Direction::Request, true, false) => self.breaking(format!("{at} no longer accepts null")),
            (Direction::Response, true, false) => self.compatible(format!("{at} is no longer nullable")),
            (Direction::Request, false, true) => self.compatible(format!("{at} now accepts null")),
            _ => {}
        }
        let (base_type, head_type) = (type_of(base), type_of(head));
        if base_type != head_type {
            let widened_integer = direction == Direction::Request
                && base_type == Some("integer")
                && head_type == Some("number");
            if widened_integer {
                self.compatible(format!("{at} accepts any number, not only integers"));
            } else {
                self.breaking(format!(
                    "{at} changed type from {} to {}",
                    base_type.unwrap_or("any"),
                    head_type.unwrap_or("any")
                ));
                return;
            }
        }
        self.enums(base, head, direction, at);
        if direction == Direction::Request {
            self.bounds(base, head, at);
        }
        if base_type == Some("object") || head_type == Some("object") {
            self.object(base, head, direction, at, depth);
        }
        if let (Some(base_items), Some(head_items)) = (base.get("items"), head.get("items")) {
            self.schema(base_items, head_items, direction, &format!("{at}[]"), depth + 1);
        }
    }

    fn enums(&mut self, base: &Value, head: &Value, direction: Direction, at: &str) {
        let (base_values, head_values) = (strings(base.get("enum")), strings(head.get("enum")));
        if base_values.is_empty() && head_values.is_empty() {
            return;
        }
        if base_values.is_empty() {
            match direction {
                Direction::Request => self.breaking(format!("{at} is now restricted to an enum")),
                Direction::Response => self.compatible(format!("{at} is now restricted to an enum")),
            }
            return;
        }
        let added: Vec<&String> = head_values.difference(&base_values).collect();
        let removed: Vec<&String> = base_values.difference(&head_values).collect();
        let open = head_values.is_empty();
        match direction {
            Direction::Response if !added.is_empty() || open => self.breaking(format!(
                "{at} may hold values clients do not know: {}",
                if open {
                    "any value".to_owned()
                } else {
                    join(&added)
                }
            )),
            Direction::Request if !removed.is_empty() => {
                self.breaking(format!("{at} no longer accepts {}", join(&removed)));
            }
            _ => {}
        }
        match direction {
            Direction::Response if !removed.is_empty() && !open => {
                self.compatible(format!("{at} no longer returns {}", join(&removed)));
            }
            Direction::Request if !added.is_empty() => {
                self.compatible(format!("{at} also accepts {}", join(&added)));
            }
            _ => {}
        }
    }

    fn bounds(&mut self, base: &Value, head: &Value, at: &str) {
        for (key, raised_is_narrower) in [
            ("minimum", true),
            ("minLength", true),
            ("minItems", true),
            ("minProperties", true),
            ("maximum", false),
            ("maxLength", false),
            ("maxItems", false),
            ("maxProperties", false),
        ] {
            let (before, after) = (number(base, key), number(head, key));
            let narrower = match (before, after) {
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(before), Some(after)) if before != after => (after > before) == raised_is_narrower,
                _ => continue,
            };
            let describe =
                |value: Option<f64>| value.map_or_else(|| "none".to_owned(), |value| value.to_string());
            let message = format!("{at} {key} {} -> {}", describe(before), describe(after));
            if narrower {
                self.breaking(message);
            } else {
                self.compatible(message);
            }
        }
        for key in [
            "pattern",
            "format",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "multipleOf",
        ] {
            match (base.get(key), head.get(key)) {
                (before, after) if before == after => {}
                (Some(_), None) => self.compatible(format!("{at} dropped its {key}")),
                (before, Some(after)) => self.breaking(format!(
                    "{at} {key} {} -> {after}",
                    before.map_or_else(|| "none".to_owned(), Value::to_string)
                )),
                _ => {}
            }
        }
    }

    fn object(&mut self, base: &Value, head: &Value, direction: Direction, at: &str, depth: usize) {
        let empty = serde_json::Map::new();
        let base_properties = base
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let head_properties = head
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let (base_required, head_required) = (strings(base.get("required")), strings(head.get("required")));
        let quoted = |name: &str| Value::String(name.to_owned()).to_string();
        for (name, base_property) in base_properties {
            let path = if at.is_empty() {
                name.clone()
            } else {
                format!("{at}.{name}")
            };
            let was_required = base_required.contains(&quoted(name));
            let is_required = head_required.contains(&quoted(name));
            match head_properties.get(name) {
                None => match direction {
                    Direction::Response => self.breaking(format!("{path} removed")),
                    Direction::Request => self.compatible(format!("{path} removed")),
                },
                Some(head_property) => {
                    match (direction, was_required, is_required) {
                        (Direction::Response, true, false) => {
                            self.breaking(format!("{path} became optional"))
                        }
                        (Direction::Request, false, true) => self.breaking(format!("{path} became required")),
                        (Direction::Response, false, true) => {
                            self.compatible(format!("{path} became required"))
                        }
                        (Direction::Request, true, false) => {
                            self.compatible(format!("{path} became optional"))
                        }
                        _ => {}
                    }
                    self.schema(base_property, head_property, direction, &path, depth + 1);
                }
            }
        }
        for name in head_properties
            .keys()
            .filter(|name| !base_properties.contains_key(*name))
        {
            let path = if at.is_empty() {
                name.clone()
            } else {
                format!("{at}.{name}")
            };
            let required = head_required.contains(&quoted(name));
            match direction {
                Direction::Request if required => self.breaking(format!("{path} added as required")),
                _ => self.compatible(format!("{path} added")),
            }
        }
    }

    fn parameters(
        &mut self,
        (base_path, base_item, base_operation): (&str, &Value, &Value),
        (head_path, head_item, head_operation): (&str, &Value, &Value),
    ) {
        // Path parameters are matched by position in the template, so that a
        // renamed one (`{id}` for `{audienceId}`) is the same parameter.
        let position = |path: &str, name: &str| {
            path.split('/')
                .filter(|segment| segment.starts_with('{'))
                .position(|segment| segment.trim_matches(['{', '}']) == name)
                .map_or_else(|| name.to_ascii_lowercase(), |index| format!("#{index}"))
        };
        let collect =
            |document: &Value, path: &str, item: &Value, operation: &Value| -> Vec<(String, String, Value)> {
                let mut all = Vec::new();
                for source in [item, operation] {
                    for parameter in source
                        .get("parameters")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let parameter = resolve(document, parameter);
                        let (Some(location), Some(name)) = (
                            parameter.get("in").and_then(Value::as_str),
                            parameter.get("name").and_then(Value::as_str),
                        ) else {
                            continue;
                        };
                        let key = if location == "path" {
                            (location.to_owned(), position(path, name))
                        } else {
                            (location.to_owned(), name.to_ascii_lowercase())
                        };
                        all.retain(|(l, n, _): &(String, String, Value)| (l, n) != (&key.0, &key.1));
                        all.push((key.0, key.1, parameter.clone()));
                    }
                }
                all
            };
        let base_parameters = collect(self.base, base_path, base_item, base_operation);
        let head_parameters = collect(self.head, head_path, head_item, head_operation);
        let display = |location: &str, key: &str, parameter: &Value| {
            let name = parameter.get("name").and_then(Value::as_str).unwrap_or(key);
            format!("{location} parameter `{name}`")
        };
        let required = |parameter: &Value| {
            parameter
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        for (location, name, head_parameter) in &head_parameters {
            let what = display(location, name, head_parameter);
            match base_parameters
                .iter()
                .find(|(l, n, _)| (l, n) == (location, name))
            {
                None if required(head_parameter) => self.breaking(format!("{what} added as required")),
                None => self.compatible(format!("{what} added (optional)")),
                Some((_, _, base_parameter)) => {
                    if !required(base_parameter) && required(head_parameter) {
                        self.breaking(format!("{what} became required"));
                    }
                    if required(base_parameter) && !required(head_parameter) {
                        self.compatible(format!("{what} became optional"));
                    }
                    if let (Some(base_schema), Some(head_schema)) =
                        (base_parameter.get("schema"), head_parameter.get("schema"))
                    {
                        self.schema(base_schema, head_schema, Direction::Request, &what, 0);
                    }
                }
            }
        }
        for (location, name, _) in &base_parameters {
            if !head_parameters.iter().any(|(l, n, _)| (l, n) == (location, name)) {
                self.compatible(format!(
                    "{location} parameter `{name}` removed (clients may still send it)"
                ));
            }
        }
    }

    fn body(&mut self, base_operation: &Value, head_operation: &Value) {
        let base_body = base_operation
            .get("requestBody")
            .map(|body| resolve(self.base, body));
        let head_body = head_operation
            .get("requestBody")
            .map(|body| resolve(self.head, body));
        let required = |body: Option<&Value>| {
            body.and_then(|body| body.get("required"))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        match (base_body, head_body) {
            (None, None) => {}
            (None, Some(_)) if required(head_body) => self.breaking("request body added as required".into()),
            (None, Some(_)) => self.compatible("request body added (optional)".into()),
            (Some(_), None) => self.compatible("request body removed".into()),
            (Some(base_body), Some(head_body)) => {
                if !required(Some(base_body)) && required(Some(head_body)) {
                    self.breaking("request body became required".into());
                }
                let base_content = base_body.get("content").and_then(Value::as_object);
                let head_content = head_body.get("content").and_then(Value::as_object);
                for (media, base_media) in base_content.into_iter().flatten() {
                    match head_content.and_then(|content| content.get(media)) {
                        None => self.breaking(format!("request body no longer accepts {media}")),
                        Some(head_media) => {
                            if let (Some(base_schema), Some(head_schema)) =
                                (base_media.get("schema"), head_media.get("schema"))
                            {
                                self.schema(base_schema, head_schema, Direction::Request, "request body", 0);
                            }
                        }
                    }
                }
            }
        }
    }

    fn responses(&mut self, base_operation: &Value, head_operation: &Value) {
        let empty = serde_json::Map::new();
        let base_responses = base_operation
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let head_responses = head_operation
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for (status, base_response) in base_responses {
            let Some(head_response) = head_responses.get(status) else {
                self.breaking(format!("response {status} removed"));
                continue;
            };
            let base_response = resolve(self.base, base_response);
            let head_response = resolve(self.head, head_response);
            let base_content = base_response
                .get("content")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            let head_content = head_response
                .get("content")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            for (media, base_media) in base_content {
                match head_content.get(media) {
                    None => self.breaking(format!("response {status} no longer returns {media}")),
                    Some(head_media) => {
                        if let (Some(base_schema), Some(head_schema)) =
                            (base_media.get("schema"), head_media.get("schema"))
                        {
                            self.schema(
                                base_schema,
                                head_schema,
                                Direction::Response,
                                &format!("response {status} body"),
                                0,
                            );
                        }
                    }
                }
            }
            let base_headers = base_response
                .get("headers")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            let head_headers = head_response
                .get("headers")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            for name in base_headers.keys() {
                if !head_headers.keys().any(|head| head.eq_ignore_ascii_case(name)) {
                    self.breaking(format!("response {status} no longer sends the {name} header"));
                }
            }
            for name in head_headers.keys() {
                if !base_headers.keys().any(|base| base.eq_ignore_ascii_case(name)) {
                    self.compatible(format!("response {status} also sends the {name} header"));
                }
            }
        }
        for status in head_responses
            .keys()
            .filter(|status| !base_responses.contains_key(*status))
        {
            self.compatible(format!("response {status} added"));
        }
    }

    fn security(&mut self, base_operation: &Value, head_operation: &Value) {
        let (base_security, head_security) = (
            security_of(self.base, base_operation),
            security_of(self.head, head_operation),
        );
        if base_security != head_security {
            self.breaking(format!(
                "security changed from {base_security} to {head_security}"
            ));
        }
        let (base_permissions, head_permissions) = (
            strings(base_operation.get("x-permissions")),
            strings(head_operation.get("x-permissions")),
        );
        let added: Vec<&String> = head_permissions.difference(&base_permissions).collect();
        let removed: Vec<&String> = base_permissions.difference(&head_permissions).collect();
        if !added.is_empty() {
            self.breaking(format!("now requires the permission {}", join(&added)));
        }
        if !removed.is_empty() {
            self.compatible(format!("no longer requires the permission {}", join(&removed)));
        }
    }
}

/// Compares two documents (as JSON values).
pub fn compare(base: &Value, head: &Value) -> Report {
    let version = |document: &Value| {
        document
            .pointer("/info/version")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let empty = serde_json::Map::new();
    let base_paths = base.get("paths").and_then(Value::as_object).unwrap_or(&empty);
    let head_paths = head.get("paths").and_then(Value::as_object).unwrap_or(&empty);
    let mut findings = Vec::new();
    for (base_path, base_item) in base_paths {
        let head_entry = head_paths
            .iter()
            .find(|(head_path, _)| path_shape(head_path) == path_shape(base_path));
        for method in METHODS {
            let Some(base_operation) = base_item.get(method) else {
                continue;
            };
            let mut comparison = Comparison {
                base,
                head,
                operation: label(method, base_path, base_operation),
                findings: Vec::new(),
            };
            match head_entry.and_then(|(head_path, head_item)| {
                head_item
                    .get(method)
                    .map(|op| (head_path.as_str(), head_item, op))
            }) {
                None => comparison.breaking("operation removed".into()),
                Some((head_path, head_item, head_operation)) => {
                    comparison.security(base_operation, head_operation);
                    comparison.parameters(
                        (base_path.as_str(), base_item, base_operation),
                        (head_path, head_item, head_operation),
                    );
                    comparison.body(base_operation, head_operation);
                    comparison.responses(base_operation, head_operation);
                }
            }
            findings.extend(comparison.findings);
        }
    }
    for (head_path, head_item) in head_paths {
        let base_item = base_paths
            .iter()
            .find(|(base_path, _)| path_shape(base_path) == path_shape(head_path))
            .map(|(_, item)| item);
        for method in METHODS {
            if let Some(operation) = head_item.get(method)
                && base_item.and_then(|item| item.get(method)).is_none()
            {
                findings.push(Finding {
                    operation: label(method, head_path, operation),
                    severity: Severity::Compatible,
                    message: "operation added".into(),
                });
            }
        }
    }
    Report {
        findings,
        versions: (version(base), version(head)),
    }
}

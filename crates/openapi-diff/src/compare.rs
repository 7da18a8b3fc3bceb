//! The walk of both documents: operations matched by method and path shape,
//! then their lifecycle, security, parameters, bodies and responses; the
//! schemas in them go through [`crate::schema`].

use serde_json::{Map, Value};

use crate::lifecycle::{self, Date, Sunset};
use crate::report::{Finding, Report};
use crate::rules::{Level, Place, rule};
use crate::walk::{label, media_refines, path_shape, resolve};

pub(crate) struct Comparison<'a> {
    pub(crate) base: &'a Value,
    pub(crate) head: &'a Value,
    operation: String,
    pub(crate) today: Date,
    findings: Vec<Finding>,
    /// The schema pairs being compared, up the walk (cycle detection).
    pub(crate) walking: Vec<(usize, usize)>,
    /// Schema pairs compared so far in this operation.
    pub(crate) compared: usize,
    /// Whether the body being compared travels as text (not JSON): any
    /// type can then become a string.
    pub(crate) textual: bool,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

pub(crate) fn object(value: Option<&Value>) -> Map<String, Value> {
    value.and_then(Value::as_object).cloned().unwrap_or_default()
}

/// `application/json` and `*/*+json`: strongly typed bodies.
fn json_media(media: &str) -> bool {
    let media = media.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    media == "application/json" || media.ends_with("+json")
}

pub(crate) fn flag(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

impl Comparison<'_> {
    /// Records a finding of the rule `id` (its level from the catalog).
    pub(crate) fn emit(&mut self, id: &str, message: String) {
        let level = rule(id).map_or_else(
            || {
                debug_assert!(false, "rule `{id}` is not in the catalog");
                Level::Warning
            },
            |rule| rule.level,
        );
        self.findings.push(Finding {
            operation: self.operation.clone(),
            level,
            rule: id.to_owned(),
            message,
        });
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
        let collect = |document: &Value, path: &str, item: &Value, operation: &Value| {
            let mut all: Vec<(String, String, Value)> = Vec::new();
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
                        position(path, name)
                    } else {
                        name.to_ascii_lowercase()
                    };
                    all.retain(|(l, n, _)| (l.as_str(), n.as_str()) != (location, key.as_str()));
                    all.push((location.to_owned(), key, parameter.clone()));
                }
            }
            all
        };
        let base_parameters = collect(self.base, base_path, base_item, base_operation);
        let head_parameters = collect(self.head, head_path, head_item, head_operation);
        let display = |location: &str, parameter: &Value| {
            let name = parameter.get("name").and_then(Value::as_str).unwrap_or("?");
            format!("{location} parameter `{name}`")
        };
        for (location, key, head_parameter) in &head_parameters {
            let what = display(location, head_parameter);
            let Some((_, _, base_parameter)) =
                base_parameters.iter().find(|(l, k, _)| (l, k) == (location, key))
            else {
                if location == "path" {
                    self.emit("new-request-path-parameter", format!("{what} added"));
                } else if flag(head_parameter, "required") {
                    self.emit(
                        "new-required-request-parameter",
                        format!("{what} added as required"),
                    );
                } else {
                    self.emit(
                        "new-optional-request-parameter",
                        format!("{what} added (optional)"),
                    );
                }
                continue;
            };
            match (flag(base_parameter, "required"), flag(head_parameter, "required")) {
                (false, true) => self.emit(
                    "request-parameter-became-required",
                    format!("{what} became required"),
                ),
                (true, false) => self.emit(
                    "request-parameter-became-optional",
                    format!("{what} became optional"),
                ),
                _ => {}
            }
            match (
                lifecycle::deprecated(base_parameter),
                lifecycle::deprecated(head_parameter),
            ) {
                (false, true) => self.emit("request-parameter-deprecated", format!("{what} deprecated")),
                (true, false) => self.emit(
                    "request-parameter-reactivated",
                    format!("{what} no longer deprecated"),
                ),
                _ => {}
            }
            if let (Some(base_schema), Some(head_schema)) =
                (base_parameter.get("schema"), head_parameter.get("schema"))
            {
                self.schema(base_schema, head_schema, Place::RequestParameter, &what, 0);
            }
        }
        for (location, key, base_parameter) in &base_parameters {
            if head_parameters.iter().any(|(l, k, _)| (l, k) == (location, key)) {
                continue;
            }
            let what = display(location, base_parameter);
            match (
                lifecycle::deprecated(base_parameter),
                lifecycle::sunset(base_parameter),
            ) {
                (true, Sunset::On(date)) if date > self.today => self.emit(
                    "request-parameter-removed-before-sunset",
                    format!("{what} removed before its sunset {}", lifecycle::show(date)),
                ),
                (true, _) => self.emit(
                    "request-parameter-removed-with-deprecation",
                    format!("deprecated {what} removed"),
                ),
                (false, _) => self.emit(
                    "request-parameter-removed",
                    format!("{what} removed (clients may still send it)"),
                ),
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
        let (base_body, head_body) = match (base_body, head_body) {
            (None, None) => return,
            (None, Some(body)) if flag(body, "required") => {
                return self.emit(
                    "request-body-added-required",
                    "request body added as required".into(),
                );
            }
            (None, Some(_)) => {
                return self.emit(
                    "request-body-added-optional",
                    "request body added (optional)".into(),
                );
            }
            (Some(_), None) => {
                return self.emit(
                    "request-body-removed",
                    "request body removed (clients still send one)".into(),
                );
            }
            (Some(base), Some(head)) => (base, head),
        };
        match (flag(base_body, "required"), flag(head_body, "required")) {
            (false, true) => self.emit(
                "request-body-became-required",
                "request body became required".into(),
            ),
            (true, false) => self.emit(
                "request-body-became-optional",
                "request body became optional".into(),
            ),
            _ => {}
        }
        let (base_content, head_content) =
            (object(base_body.get("content")), object(head_body.get("content")));
        for (media, base_media) in &base_content {
            match head_content.get(media) {
                None => self.emit(
                    "request-body-media-type-removed",
                    format!("request body no longer accepts {media}"),
                ),
                Some(head_media) => match (base_media.get("schema"), head_media.get("schema")) {
                    (Some(base_schema), Some(head_schema)) => {
                        self.textual = !json_media(media);
                        self.schema(base_schema, head_schema, Place::RequestBody, "request body", 0);
                        self.textual = false;
                    }
                    (None, Some(_)) => self.emit(
                        "request-body-media-type-schema-added",
                        format!("request body {media} gained a schema"),
                    ),
                    (Some(_), None) => self.emit(
                        "request-body-media-type-schema-removed",
                        format!("request body {media} lost its schema"),
                    ),
                    (None, None) => {}
                },
            }
        }
        for media in head_content
            .keys()
            .filter(|media| !base_content.contains_key(*media))
        {
            self.emit(
                "request-body-media-type-added",
                format!("request body also accepts {media}"),
            );
        }
    }

    fn responses(&mut self, base_operation: &Value, head_operation: &Value) {
        let (base_responses, head_responses) = (
            object(base_operation.get("responses")),
            object(head_operation.get("responses")),
        );
        let success = |status: &str| status.starts_with('2');
        for (status, base_response) in &base_responses {
            let Some(head_response) = head_responses.get(status) else {
                let rule = if success(status) {
                    "response-success-status-removed"
                } else {
                    "response-non-success-status-removed"
                };
                self.emit(rule, format!("response {status} removed"));
                continue;
            };
            let base_response = resolve(self.base, base_response);
            let head_response = resolve(self.head, head_response);
            self.content(status, base_response, head_response);
            self.headers(status, base_response, head_response);
        }
        for status in head_responses
            .keys()
            .filter(|status| !base_responses.contains_key(*status))
        {
            let rule = if success(status) {
                "response-success-status-added"
            } else {
                "response-non-success-status-added"
            };
            self.emit(rule, format!("response {status} added"));
        }
    }

    fn content(&mut self, status: &str, base_response: &Value, head_response: &Value) {
        let (base_content, head_content) = (
            object(base_response.get("content")),
            object(head_response.get("content")),
        );
        let mut added: Vec<&String> = head_content
            .keys()
            .filter(|media| !base_content.contains_key(*media))
            .collect();
        for (media, base_media) in &base_content {
            let head_media = match head_content.get(media) {
                Some(head_media) => head_media,
                None => {
                    // A removed media type paired with a refinement of it (or
                    // the other way round) is a renamed one.
                    let Some(position) = added
                        .iter()
                        .position(|other| media_refines(media, other) || media_refines(other, media))
                    else {
                        self.emit(
                            "response-media-type-removed",
                            format!("response {status} no longer returns {media}"),
                        );
                        continue;
                    };
                    let other = added.remove(position);
                    if media_refines(media, other) {
                        self.emit(
                            "response-media-type-name-specialized",
                            format!("response {status} returns {other} instead of {media}"),
                        );
                    } else {
                        self.emit(
                            "response-media-type-name-generalized",
                            format!("response {status} returns {other} instead of {media}"),
                        );
                    }
                    &head_content[other.as_str()]
                }
            };
            match (base_media.get("schema"), head_media.get("schema")) {
                (Some(base_schema), Some(head_schema)) => {
                    self.textual = !json_media(media);
                    self.schema(
                        base_schema,
                        head_schema,
                        Place::ResponseBody,
                        &format!("response {status} body"),
                        0,
                    );
                    self.textual = false;
                }
                (None, Some(_)) => self.emit(
                    "response-body-media-type-schema-added",
                    format!("response {status} {media} gained a schema"),
                ),
                (Some(_), None) => self.emit(
                    "response-body-media-type-schema-removed",
                    format!("response {status} {media} lost its schema"),
                ),
                _ => {}
            }
        }
        for media in added {
            self.emit(
                "response-media-type-added",
                format!("response {status} also returns {media}"),
            );
        }
    }

    fn headers(&mut self, status: &str, base_response: &Value, head_response: &Value) {
        let (base_headers, head_headers) = (
            object(base_response.get("headers")),
            object(head_response.get("headers")),
        );
        for (name, base_header) in &base_headers {
            let base_header = resolve(self.base, base_header);
            let Some(head_header) = head_headers
                .iter()
                .find(|(other, _)| other.eq_ignore_ascii_case(name))
                .map(|(_, header)| resolve(self.head, header))
            else {
                let rule = if flag(base_header, "required") {
                    "required-response-header-removed"
                } else {
                    "optional-response-header-removed"
                };
                self.emit(
                    rule,
                    format!("response {status} no longer sends the {name} header"),
                );
                continue;
            };
            let at = format!("response {status} header {name}");
            match (flag(base_header, "required"), flag(head_header, "required")) {
                (true, false) => {
                    self.emit("response-header-became-optional", format!("{at} became optional"))
                }
                (false, true) => {
                    self.emit("response-header-became-required", format!("{at} became required"))
                }
                _ => {}
            }
            if let (Some(base_schema), Some(head_schema)) =
                (base_header.get("schema"), head_header.get("schema"))
            {
                self.schema(base_schema, head_schema, Place::ResponseHeader, &at, 0);
            }
        }
        for name in head_headers
            .keys()
            .filter(|name| !base_headers.keys().any(|base| base.eq_ignore_ascii_case(name)))
        {
            self.emit(
                "response-header-added",
                format!("response {status} also sends the {name} header"),
            );
        }
    }
}

/// Compares two documents (as JSON values), sunset dates against today.
pub fn compare(base: &Value, head: &Value) -> Report {
    compare_on(base, head, lifecycle::today())
}

/// Compares two documents with `today` as the date sunsets are held to.
pub(crate) fn compare_on(base: &Value, head: &Value, today: Date) -> Report {
    let version = |document: &Value| {
        document
            .pointer("/info/version")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let mut findings = Vec::new();
    // Paths are matched by shape; webhooks (OpenAPI 3.1) by name.
    for (section, kind) in [("paths", Items::Paths), ("webhooks", Items::Webhooks)] {
        let (base_items, head_items) = (object(base.get(section)), object(head.get(section)));
        let key = |name: &str| match kind {
            Items::Paths => path_shape(name),
            Items::Webhooks => name.to_owned(),
        };
        for (base_name, base_item) in &base_items {
            let base_item = resolve(base, base_item);
            let head_entry = head_items
                .iter()
                .find(|(head_name, _)| key(head_name) == key(base_name))
                .map(|(name, item)| (name.as_str(), resolve(head, item)));
            for method in METHODS {
                let Some(base_operation) = base_item.get(method) else {
                    continue;
                };
                let mut comparison = Comparison {
                    base,
                    head,
                    operation: kind.label(method, base_name, base_operation),
                    today,
                    findings: Vec::new(),
                    walking: Vec::new(),
                    compared: 0,
                    textual: false,
                };
                match head_entry.and_then(|(head_name, head_item)| {
                    head_item.get(method).map(|op| (head_name, head_item, op))
                }) {
                    None if kind == Items::Webhooks => {
                        comparison.emit("webhook-removed", "webhook removed".into());
                    }
                    None => comparison.removed(base_operation, head_entry.is_none()),
                    Some((head_name, head_item, head_operation)) => {
                        comparison.lifecycle(base_operation, head_operation);
                        comparison.security(base_operation, head_operation);
                        comparison.parameters(
                            (base_name.as_str(), base_item, base_operation),
                            (head_name, head_item, head_operation),
                        );
                        comparison.body(base_operation, head_operation);
                        comparison.responses(base_operation, head_operation);
                    }
                }
                findings.extend(comparison.findings);
            }
        }
        for (head_name, head_item) in &head_items {
            let head_item = resolve(head, head_item);
            let base_item = base_items
                .iter()
                .find(|(base_name, _)| key(base_name) == key(head_name))
                .map(|(_, item)| resolve(base, item));
            for method in METHODS {
                if let Some(operation) = head_item.get(method)
                    && base_item.and_then(|item| item.get(method)).is_none()
                {
                    let (rule, message) = match kind {
                        Items::Paths => ("endpoint-added", "operation added"),
                        Items::Webhooks => ("webhook-added", "webhook added"),
                    };
                    findings.push(Finding {
                        operation: kind.label(method, head_name, operation),
                        level: Level::Info,
                        rule: rule.into(),
                        message: message.into(),
                    });
                }
            }
        }
    }
    Report {
        findings,
        versions: (version(base), version(head)),
    }
}

/// The two maps of operations a document has.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Items {
    Paths,
    Webhooks,
}

impl Items {
    fn label(self, method: &str, name: &str, operation: &Value) -> String {
        match self {
            Items::Paths => label(method, name, operation),
            Items::Webhooks => format!("webhook {}", label(method, name, operation)),
        }
    }
}

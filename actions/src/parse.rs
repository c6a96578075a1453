//! Reading one action definition file (`bots/<slug>/actions/<name>.toml`) into an [`Action`].
//!
//! Pure: takes the file's path (for messages and the name) and its text. Every problem is
//! reported with the file, the line and column (from the toml crate's spans) and the cause;
//! all problems found are reported, not just the first, except that a file that isn't valid
//! TOML of the right shape stops at that one error.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use crate::body::JsonTemplate;
use crate::def::{
    Action, ActionKind, ApiAction, ArgSpec, ArgType, CrmAction, FieldValue, Method, PythonAction,
};
use crate::template::{is_dot_segment, Template};

/// A malformed definition: `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", file.display())]
pub struct DefinitionError {
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

impl DefinitionError {
    pub(crate) fn at(
        file: &Path,
        text: &str,
        offset: usize,
        message: impl Into<String>,
    ) -> DefinitionError {
        let (line, column) = line_col(text, offset);
        DefinitionError {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary_compat(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}
impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

pub const DEFAULT_API_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_PYTHON_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_CRM_TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    name: Option<Spanned<String>>,
    description: Spanned<String>,
    kind: Spanned<String>,
    #[serde(default)]
    workflows: Vec<Spanned<String>>,
    api: Option<Spanned<RawApi>>,
    python: Option<Spanned<RawPython>>,
    crm: Option<Spanned<RawCrm>>,
    #[serde(default)]
    args: Vec<Spanned<RawArg>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    base_url: Spanned<String>,
    path: Option<Spanned<String>>,
    method: Spanned<String>,
    #[serde(default)]
    headers: IndexMap<String, Spanned<RawField>>,
    #[serde(default)]
    query: IndexMap<String, Spanned<RawField>>,
    body: Option<Spanned<toml::Value>>,
    body_json: Option<Spanned<String>>,
    timeout_ms: Option<Spanned<u64>>,
}

/// A header or query value: a string (template) or `{ env = "NAME" }`.
#[derive(Deserialize)]
#[serde(untagged, expecting = "a string or a table `{ env = \"VARIABLE\" }`")]
enum RawField {
    Text(String),
    Env(RawEnv),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnv {
    env: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPython {
    file: Spanned<String>,
    timeout_ms: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCrm {
    timeout_ms: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArg {
    name: Spanned<String>,
    #[serde(rename = "type")]
    ty: Option<Spanned<String>>,
    description: Option<String>,
    required: Option<Spanned<bool>>,
    save_as: Option<Spanned<String>>,
}

/// Headers the HTTP client owns: letting a definition set them could change where or how the
/// request goes (`Host`) or desynchronise framing (`Content-Length`, `Transfer-Encoding`).
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
];

/// Collects errors with positions in one file.
struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    errors: Vec<DefinitionError>,
}

impl Ctx<'_> {
    fn err(&mut self, offset: usize, message: impl Into<String>) {
        self.errors
            .push(DefinitionError::at(self.file, self.text, offset, message));
    }
}

/// Whether `s` is camelCase as action names must be: `[a-z][A-Za-z0-9]*`, ≤ 64 characters
/// (the limit LLM tool names have).
pub fn is_camel_case(s: &str) -> bool {
    s.len() <= 64
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
}

fn is_identifier(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses one definition file. `file` names it in errors; its stem is the action's name.
pub fn parse_action(file: &Path, text: &str) -> Result<Action, Vec<DefinitionError>> {
    let raw: RawAction = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        vec![DefinitionError::at(
            file,
            text,
            offset,
            e.message().trim_end().to_string(),
        )]
    })?;
    let mut cx = Ctx {
        file,
        text,
        errors: Vec::new(),
    };

    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    let name = match &raw.name {
        Some(n) => {
            if n.get_ref() != &stem {
                cx.err(
                    n.span().start,
                    format!(
                        "name `{}` differs from the file name `{stem}.toml`",
                        n.get_ref()
                    ),
                );
            }
            n.get_ref().clone()
        }
        None => stem,
    };
    if !is_camel_case(&name) {
        let at = raw.name.as_ref().map_or(0, |n| n.span().start);
        cx.err(at, format!("action name `{name}` is not camelCase (a lowercase letter, then letters and digits, at most 64)"));
    }

    let description = raw.description.get_ref().trim().to_string();
    if description.is_empty() {
        cx.err(
            raw.description.span().start,
            "description is empty; write one sentence telling the AI when to call the action",
        );
    } else if description.chars().count() > 1024 {
        cx.err(
            raw.description.span().start,
            "description is longer than 1024 characters",
        );
    }

    let mut workflows = Vec::new();
    let mut workflow_spans = Vec::new();
    for w in &raw.workflows {
        let s = w.get_ref().trim();
        if s.is_empty() {
            cx.err(w.span().start, "workflow name is empty");
        } else if workflows.iter().any(|x| x == s) {
            cx.err(w.span().start, format!("workflow `{s}` is listed twice"));
        } else {
            workflows.push(s.to_string());
            workflow_spans.push((w.span().start, w.span().end));
        }
    }

    let kind_str = raw.kind.get_ref().as_str();
    let kind_at = raw.kind.span().start;
    let sections = [
        ("api", raw.api.is_some()),
        ("python", raw.python.is_some()),
        ("crm", raw.crm.is_some()),
    ];
    for (section, present) in sections {
        if present && section != kind_str {
            cx.err(
                kind_at,
                format!("kind is `{kind_str}` but the file has an [{section}] table"),
            );
        }
    }
    let declared = parse_declared_args(&mut cx, &raw.args);
    if kind_str != "crm" {
        for a in &raw.args {
            if let Some(s) = &a.get_ref().save_as {
                cx.err(s.span().start, "save_as is for CRM actions only");
            }
        }
    }

    let (kind, args) = match kind_str {
        "api" => match &raw.api {
            Some(api) => {
                let (api, args) = parse_api(&mut cx, api, &raw.args, declared);
                (api.map(ActionKind::Api), args)
            }
            None => {
                cx.err(
                    kind_at,
                    "kind `api` needs an [api] table (base_url, path, method, …)",
                );
                (None, Vec::new())
            }
        },
        "python" => match &raw.python {
            Some(py) => (parse_python(&mut cx, py).map(ActionKind::Python), declared),
            None => {
                cx.err(kind_at, "kind `python` needs a [python] table with `file`");
                (None, Vec::new())
            }
        },
        "crm" => {
            let timeout = raw
                .crm
                .as_ref()
                .and_then(|c| c.get_ref().timeout_ms.as_ref())
                .map_or(Some(DEFAULT_CRM_TIMEOUT), |t| timeout(&mut cx, t));
            (
                timeout.map(|timeout| ActionKind::Crm(CrmAction { timeout })),
                declared,
            )
        }
        other => {
            cx.err(
                kind_at,
                format!("kind `{other}` is not one of `api`, `python`, `crm`"),
            );
            (None, Vec::new())
        }
    };

    match kind {
        Some(kind) if cx.errors.is_empty() => Ok(Action {
            name,
            description,
            workflows,
            kind,
            args,
            source: file.to_path_buf(),
            workflow_spans,
        }),
        _ => Err(cx.errors),
    }
}

fn timeout(cx: &mut Ctx, t: &Spanned<u64>) -> Option<Duration> {
    let d = Duration::from_millis(*t.get_ref());
    if d.is_zero() || d > MAX_TIMEOUT {
        cx.err(
            t.span().start,
            format!(
                "timeout_ms must be between 1 and {}",
                MAX_TIMEOUT.as_millis()
            ),
        );
        return None;
    }
    Some(d)
}

fn parse_declared_args(cx: &mut Ctx, raw: &[Spanned<RawArg>]) -> Vec<ArgSpec> {
    let mut out: Vec<ArgSpec> = Vec::new();
    for a in raw {
        let a = a.get_ref();
        let name = a.name.get_ref();
        if !is_identifier(name) {
            cx.err(a.name.span().start, format!("argument name `{name}` must be letters, digits and `_`, not starting with a digit"));
            continue;
        }
        if out.iter().any(|o| &o.name == name) {
            cx.err(
                a.name.span().start,
                format!("argument `{name}` is declared twice"),
            );
            continue;
        }
        let ty = match &a.ty {
            None => ArgType::String,
            Some(t) => match ArgType::parse(t.get_ref()) {
                Some(ty) => ty,
                None => {
                    cx.err(t.span().start, format!(
                        "type `{}` is not one of string, number, integer, boolean, object, array, any",
                        t.get_ref()
                    ));
                    continue;
                }
            },
        };
        out.push(ArgSpec {
            name: name.clone(),
            ty,
            description: a.description.clone(),
            required: a.required.as_ref().is_none_or(|r| *r.get_ref()),
            save_as: a.save_as.as_ref().map(|s| s.get_ref().clone()),
        });
    }
    out
}

fn template(cx: &mut Ctx, s: &Spanned<String>, what: &str) -> Option<Template> {
    match Template::parse(s.get_ref()) {
        Ok(t) => Some(t),
        Err(e) => {
            cx.err(s.span().start, format!("{what}: {e}"));
            None
        }
    }
}

fn field(cx: &mut Ctx, value: &Spanned<RawField>, what: &str) -> Option<FieldValue> {
    match value.get_ref() {
        RawField::Text(text) => match Template::parse(text) {
            Ok(t) => Some(FieldValue::Template(t)),
            Err(e) => {
                cx.err(value.span().start, format!("{what}: {e}"));
                None
            }
        },
        RawField::Env(RawEnv { env }) => {
            let valid =
                !env.is_empty() && env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                cx.err(
                    value.span().start,
                    format!("{what}: `{env}` is not an environment variable name"),
                );
                return None;
            }
            Some(FieldValue::Env(env.clone()))
        }
    }
}

/// Characters a path literal may hold: RFC 3986 `pchar` and `/`. Anything else must be
/// percent-encoded by the author, so the URL we build is exactly the URL sent.
fn is_path_literal_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/%".contains(c)
}

fn parse_api(
    cx: &mut Ctx,
    api: &Spanned<RawApi>,
    raw_args: &[Spanned<RawArg>],
    declared: Vec<ArgSpec>,
) -> (Option<ApiAction>, Vec<ArgSpec>) {
    let raw = api.get_ref();
    let errors_before = cx.errors.len();

    // Base URL: fixed scheme, host and port.
    let base_at = raw.base_url.span().start;
    let base_url = match url::Url::parse(raw.base_url.get_ref()) {
        Err(e) => {
            cx.err(base_at, format!("base_url is not a URL: {e}"));
            None
        }
        Ok(mut u) => {
            if raw.base_url.get_ref().contains('$') {
                cx.err(
                    base_at,
                    "base_url can't hold variables: the host never changes with the arguments",
                );
            }
            if !matches!(u.scheme(), "http" | "https") {
                cx.err(
                    base_at,
                    format!("base_url scheme `{}` is not http or https", u.scheme()),
                );
            }
            if u.host().is_none() {
                cx.err(base_at, "base_url has no host");
            }
            if !u.username().is_empty() || u.password().is_some() {
                cx.err(
                    base_at,
                    "base_url can't hold a user name or password; send credentials in headers",
                );
            }
            if u.query().is_some() || u.fragment().is_some() {
                cx.err(
                    base_at,
                    "base_url can't hold a query or fragment; use the [api.query] table",
                );
            }
            let trimmed = u.path().trim_end_matches('/').to_string();
            u.set_path(&trimmed);
            Some(u)
        }
    };

    let method = match raw.method.get_ref().to_ascii_uppercase().as_str() {
        "GET" => Some(Method::Get),
        "POST" => Some(Method::Post),
        "PUT" => Some(Method::Put),
        "DELETE" => Some(Method::Delete),
        other => {
            cx.err(
                raw.method.span().start,
                format!("method `{other}` is not GET, POST, PUT or DELETE"),
            );
            None
        }
    };

    let path = match &raw.path {
        None => Some(Template::parse("").expect("empty template")),
        Some(p) => {
            let s = p.get_ref();
            let at = p.span().start;
            if !s.is_empty() && !s.starts_with('/') {
                cx.err(at, "path must start with `/`");
            }
            if let Some(bad) = s.chars().find(|c| !is_path_literal_char(*c)) {
                cx.err(at, format!("path holds {bad:?}; percent-encode it (query parameters go in [api.query])"));
            }
            let t = template(cx, p, "path");
            if let Some(t) = &t {
                // Dot segments in the definition itself: checked with every variable as `x`.
                let shape: String = t
                    .pieces()
                    .iter()
                    .map(|p| match p {
                        crate::template::Piece::Lit(l) => l.as_str(),
                        crate::template::Piece::Var(_) => "x",
                    })
                    .collect();
                if shape.split('/').any(is_dot_segment) {
                    cx.err(at, "path can't hold `.` or `..` segments");
                }
            }
            t
        }
    };

    let mut headers = Vec::new();
    for (name, value) in &raw.headers {
        let at = value.span().start;
        if name.contains('$') {
            cx.err(at, format!("header name `{name}` can't hold variables"));
        } else if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            cx.err(at, format!("`{name}` is not a valid header name"));
        } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str())
            || name.to_ascii_lowercase().starts_with("proxy-")
        {
            cx.err(
                at,
                format!("header `{name}` is set by the HTTP client and can't be defined"),
            );
        } else if headers
            .iter()
            .any(|(n, _): &(String, FieldValue)| n.eq_ignore_ascii_case(name))
        {
            cx.err(at, format!("header `{name}` is defined twice"));
        }
        if let RawField::Text(text) = value.get_ref() {
            if text.chars().any(|c| c.is_control() && c != '\t') {
                cx.err(at, format!("header `{name}` holds a control character"));
            }
        }
        if let Some(v) = field(cx, value, &format!("header `{name}`")) {
            headers.push((name.clone(), v));
        }
    }

    let mut query = Vec::new();
    // Query names are literal: `$filter`, `$top` (OData) are sent as written.
    for (name, value) in &raw.query {
        if let Some(v) = field(cx, value, &format!("query parameter `{name}`")) {
            query.push((name.clone(), v));
        }
    }

    let body_value = match (&raw.body, &raw.body_json) {
        (Some(b), Some(_)) => {
            cx.err(
                b.span().start,
                "give either `body` or `body_json`, not both",
            );
            None
        }
        (Some(b), None) => match serde_json::to_value(b.get_ref()) {
            Ok(v @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => {
                Some((v, b.span().start))
            }
            Ok(_) => {
                cx.err(
                    b.span().start,
                    "body must be a table or an array (for other JSON use body_json)",
                );
                None
            }
            Err(e) => {
                cx.err(b.span().start, format!("body can't be JSON: {e}"));
                None
            }
        },
        (None, Some(j)) => match serde_json::from_str(j.get_ref()) {
            Ok(v) => Some((v, j.span().start)),
            Err(e) => {
                cx.err(j.span().start, format!("body_json is not valid JSON: {e}"));
                None
            }
        },
        (None, None) => None,
    };
    let body = match body_value {
        None => None,
        Some((v, at)) => {
            if method == Some(Method::Get) {
                cx.err(at, "a GET request can't have a body");
            }
            match JsonTemplate::from_value(&v) {
                Ok(t) => Some(t),
                Err(e) => {
                    cx.err(at, format!("body: {e}"));
                    None
                }
            }
        }
    };

    let timeout = raw
        .timeout_ms
        .as_ref()
        .map_or(Some(DEFAULT_API_TIMEOUT), |t| timeout(cx, t));

    // Arguments: every variable, in order of first appearance; whole-body ones may be any JSON.
    let mut args: Vec<ArgSpec> = Vec::new();
    let mut scalar_only: Vec<String> = Vec::new();
    let mut add = |name: &str, scalar: bool| {
        if scalar && !scalar_only.iter().any(|s| s == name) {
            scalar_only.push(name.to_string());
        }
        if !args.iter().any(|a| a.name == name) {
            args.push(ArgSpec {
                name: name.to_string(),
                ty: ArgType::String,
                description: None,
                required: true,
                save_as: None,
            });
        }
    };
    if let Some(p) = &path {
        p.vars().for_each(|v| add(v, true));
    }
    for (_, t) in query.iter().chain(headers.iter()) {
        t.vars().for_each(|v| add(v, true));
    }
    if let Some(b) = &body {
        for (v, whole) in b.vars() {
            add(v, !whole);
        }
    }
    for (d, raw_arg) in declared.into_iter().zip(
        raw_args
            .iter()
            .filter(|a| is_identifier(a.get_ref().name.get_ref())),
    ) {
        let at = raw_arg.get_ref().name.span().start;
        let Some(slot) = args.iter_mut().find(|a| a.name == d.name) else {
            cx.err(at, format!("argument `{}` is declared but no `${}` appears in path, query, headers or body", d.name, d.name));
            continue;
        };
        if !d.required {
            cx.err(
                at,
                format!(
                    "argument `{}`: every variable of an API action is required",
                    d.name
                ),
            );
        }
        if matches!(d.ty, ArgType::Object | ArgType::Array) && scalar_only.contains(&d.name) {
            cx.err(at, format!(
                "argument `{}` is an {}, but it is used in the path, query, a header or inside a body string, where only text fits",
                d.name,
                d.ty.schema_type().unwrap_or("any")
            ));
        }
        slot.ty = d.ty;
        slot.description = d.description;
    }

    if cx.errors.len() > errors_before {
        return (None, args);
    }
    let api = match (base_url, method, path, timeout) {
        (Some(base_url), Some(method), Some(path), Some(timeout)) => Some(ApiAction {
            base_url,
            path,
            method,
            headers,
            query,
            body,
            timeout,
        }),
        _ => None,
    };
    (api, args)
}

fn parse_python(cx: &mut Ctx, py: &Spanned<RawPython>) -> Option<PythonAction> {
    let raw = py.get_ref();
    let file = PathBuf::from(raw.file.get_ref());
    let at = raw.file.span().start;
    let mut ok = true;
    if file.is_absolute()
        || file
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        cx.err(
            at,
            "file must be a path inside the bot's folder (relative, no `..`)",
        );
        ok = false;
    }
    if file.extension().and_then(|e| e.to_str()) != Some("py") {
        cx.err(at, "file must be a `.py` file");
        ok = false;
    }
    let timeout = raw
        .timeout_ms
        .as_ref()
        .map_or(Some(DEFAULT_PYTHON_TIMEOUT), |t| timeout(cx, t));
    match (ok, timeout) {
        (true, Some(timeout)) => Some(PythonAction { file, timeout }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, text: &str) -> Result<Action, Vec<DefinitionError>> {
        parse_action(Path::new(&format!("bots/acme/actions/{name}.toml")), text)
    }

    fn errors(name: &str, text: &str) -> Vec<String> {
        parse(name, text)
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    }

    const STOCK: &str = r#"
description = "Checks stock of a product given its ID."
kind = "api"
workflows = ["shopping"]

[api]
base_url = "https://api.example.com/"
path = "/stock/$productId"
method = "get"
headers = { "x-api-key" = "your-api-key", "x-store" = "$storeId" }
query = { lang = "en" }

[[args]]
name = "productId"
description = "The product's SKU"
"#;

    #[test]
    fn parses_the_seed_example() {
        let a = parse("checkProductStock", STOCK).unwrap();
        assert_eq!(a.name, "checkProductStock");
        assert_eq!(a.workflows, ["shopping"]);
        assert_eq!(
            a.required_args().collect::<Vec<_>>(),
            ["productId", "storeId"]
        );
        assert_eq!(a.args[0].description.as_deref(), Some("The product's SKU"));
        let api = a.api().unwrap();
        assert_eq!(api.base_url.as_str(), "https://api.example.com/");
        assert_eq!(api.method, Method::Get);
        assert_eq!(api.timeout, DEFAULT_API_TIMEOUT);
        assert!(a.is_enabled_in("shopping") && !a.is_enabled_in("support"));
    }

    #[test]
    fn syntax_errors_name_file_line_and_cause() {
        let errs = errors("x", "description = \"d\"\nkind = \"api\"\n[api\n");
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with("bots/acme/actions/x.toml:3:"),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn unknown_fields_are_errors_with_their_line() {
        let errs = errors("x", "description = \"d\"\nkind = \"api\"\n[api]\nbase_url = \"https://a.example\"\nmethod = \"GET\"\nheader = {}\n");
        assert!(
            errs[0].starts_with("bots/acme/actions/x.toml:6:"),
            "{errs:?}"
        );
        assert!(errs[0].contains("unknown field `header`"), "{errs:?}");
    }

    #[test]
    fn semantic_errors_name_their_line() {
        let text = "name = \"Get_order\"\ndescription = \"d\"\nkind = \"api\"\n[api]\nbase_url = \"https://$host/\"\npath = \"/o/$id?x=1\"\nmethod = \"PATCH\"\nheaders = { Host = \"x\" }\ntimeout_ms = 0\n";
        let errs = errors("Get_order", text);
        let has = |line: usize, needle: &str| {
            assert!(
                errs.iter().any(|e| e
                    .starts_with(&format!("bots/acme/actions/Get_order.toml:{line}:"))
                    && e.contains(needle)),
                "no `{needle}` on line {line} in {errs:#?}"
            )
        };
        has(1, "camelCase");
        has(5, "host never changes");
        has(6, "percent-encode");
        has(7, "PATCH");
        has(8, "set by the HTTP client");
        assert!(errors("a", "description = \"d\"\nkind = \"api\"\n[api]\nbase_url = \"https://a.example\"\nmethod = \"GET\"\nheaders = { Proxy-Foo = \"x\" }\n")[0].contains("set by the HTTP client"));
        has(9, "timeout_ms");
    }

    #[test]
    fn name_must_match_file() {
        let errs = errors(
            "getOrder",
            "name = \"getOrders\"\ndescription = \"d\"\nkind = \"crm\"\n",
        );
        assert!(errs[0].contains("differs from the file name"), "{errs:?}");
    }

    #[test]
    fn dot_segments_and_bodies_on_get_are_refused() {
        let errs = errors("a", "description = \"d\"\nkind = \"api\"\n[api]\nbase_url = \"https://a.example\"\npath = \"/a/../$x\"\nmethod = \"GET\"\nbody = { a = \"$x\" }\n");
        assert!(
            errs.iter().any(|e| e.contains(":5:") && e.contains("`..`")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains(":7:") && e.contains("GET request can't have a body")),
            "{errs:?}"
        );
    }

    #[test]
    fn declared_args_must_match_variables() {
        let text = "description = \"d\"\nkind = \"api\"\n[api]\nbase_url = \"https://a.example\"\npath = \"/o/$id\"\nmethod = \"POST\"\nbody = { items = \"$items\", note = \"x $note\" }\n\n[[args]]\nname = \"items\"\ntype = \"array\"\n[[args]]\nname = \"note\"\ntype = \"object\"\n[[args]]\nname = \"ghost\"\n[[args]]\nname = \"id\"\nrequired = false\n";
        let errs = errors("a", text);
        assert!(
            errs.iter()
                .any(|e| e.contains(":13:") && e.contains("only text fits")),
            "{errs:#?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains(":16:") && e.contains("no `$ghost`")),
            "{errs:#?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains(":18:") && e.contains("required")),
            "{errs:#?}"
        );
        assert!(
            !errs.iter().any(|e| e.contains(":10:")),
            "items as array in a whole-body string is fine: {errs:#?}"
        );
    }

    #[test]
    fn python_and_crm_kinds() {
        let py = parse("processRefund", "description = \"Refunds\"\nkind = \"python\"\nworkflows = [\"refunds\"]\n[python]\nfile = \"actions/refund.py\"\ntimeout_ms = 5000\n[[args]]\nname = \"orderId\"\n[[args]]\nname = \"reason\"\nrequired = false\n[[args]]\nname = \"items\"\ntype = \"array\"\n").unwrap();
        let ActionKind::Python(p) = &py.kind else {
            panic!()
        };
        assert_eq!(p.file, Path::new("actions/refund.py"));
        assert_eq!(p.timeout, Duration::from_secs(5));
        assert_eq!(py.required_args().collect::<Vec<_>>(), ["orderId", "items"]);
        let errs = errors(
            "x",
            "description = \"d\"\nkind = \"python\"\n[python]\nfile = \"../other/x.py\"\n",
        );
        assert!(
            errs[0].contains(":4:") && errs[0].contains("inside the bot's folder"),
            "{errs:?}"
        );
        let crm = parse(
            "lookupCustomer",
            "description = \"d\"\nkind = \"crm\"\n[[args]]\nname = \"email\"\n",
        )
        .unwrap();
        assert_eq!(crm.kind.as_str(), "crm");
        let errs = errors("x", "description = \"d\"\nkind = \"python\"\n[api]\nbase_url = \"https://a.example\"\nmethod = \"GET\"\n");
        assert!(errs.iter().any(|e| e.contains("[api] table")), "{errs:?}");
        assert!(
            errs.iter().any(|e| e.contains("needs a [python] table")),
            "{errs:?}"
        );
    }

    #[test]
    fn secret_fields_are_checked() {
        let errs = errors("x", "description = \"d\"\nkind = \"api\"\n[api]\nbase_url = \"https://a.example\"\nmethod = \"GET\"\nheaders = { k = { envv = \"X\" } }\n");
        assert!(
            errs[0].starts_with("bots/acme/actions/x.toml:6:") && errs[0].contains("env"),
            "{errs:?}"
        );
        let errs = errors("x", "description = \"d\"\nkind = \"api\"\n[api]\nbase_url = \"https://a.example\"\nmethod = \"GET\"\nquery = { k = { env = \"A-B\" } }\n");
        assert!(
            errs[0].contains(":6:") && errs[0].contains("not an environment variable name"),
            "{errs:?}"
        );
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("", 0), (1, 1));
    }
}

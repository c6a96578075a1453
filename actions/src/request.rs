//! Turning an API action and its arguments into the exact request to send. Pure.
//!
//! Invariants of a [`Prepared`] request, checked here and not assumed:
//! - its scheme, host and port are the base URL's, and its method is the definition's;
//! - its path is the base path followed by the rendered path, byte for byte — the URL parser
//!   changed nothing (no dot segment collapsed, nothing re-encoded), so no argument moved the
//!   request to another endpoint;
//! - each query value and header value is one value: names come from the definition only.

use serde_json::{Map, Value};

use crate::def::{ApiAction, FieldValue, Method};
use crate::template::{is_dot_segment, Place, RenderError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("the arguments make a `.` or `..` path segment, which would change the endpoint")]
    DotSegment,
    #[error("the request URL would differ from the definition's ({0}); refused")]
    UrlChanged(String),
    #[error("environment variable `{0}` is not set (the action's {1})")]
    MissingEnv(String, String),
    #[error("environment variable `{0}` holds a control character, which can't go into a header")]
    BadEnv(String),
}

/// Where secrets come from: the process environment, or a map in tests and embedders.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

/// The server process's environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

fn render_field(
    value: &FieldValue,
    args: &Map<String, Value>,
    place: Place,
    env: &dyn Env,
    what: &str,
) -> Result<String, PrepareError> {
    match value {
        FieldValue::Template(t) => Ok(t.render(args, place)?),
        FieldValue::Env(name) => {
            let v = env
                .get(name)
                .ok_or_else(|| PrepareError::MissingEnv(name.clone(), what.to_string()))?;
            if place == Place::Header && v.chars().any(|c| c.is_control() && c != '\t') {
                return Err(PrepareError::BadEnv(name.clone()));
            }
            Ok(v)
        }
    }
}

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub method: Method,
    pub url: url::Url,
    pub headers: Vec<(String, String)>,
    /// Serialized JSON.
    pub body: Option<Vec<u8>>,
}

impl ApiAction {
    /// Renders the request for `args`, secrets from the process environment. Missing or unfit
    /// arguments are errors.
    pub fn prepare(&self, args: &Map<String, Value>) -> Result<Prepared, PrepareError> {
        self.prepare_with_env(args, &ProcessEnv)
    }

    /// [`ApiAction::prepare`] with secrets from `env`.
    pub fn prepare_with_env(
        &self,
        args: &Map<String, Value>,
        env: &dyn Env,
    ) -> Result<Prepared, PrepareError> {
        let rendered_path = self.path.render(args, Place::PathSegment)?;
        if rendered_path.split('/').any(is_dot_segment) {
            return Err(PrepareError::DotSegment);
        }
        let expected_path = format!(
            "{}{}",
            self.base_url.path().trim_end_matches('/'),
            rendered_path
        );
        let mut url = self.base_url.clone();
        url.set_path(&expected_path);
        if url.path() != expected_path && !(expected_path.is_empty() && url.path() == "/") {
            return Err(PrepareError::UrlChanged(format!(
                "path became {}",
                url.path()
            )));
        }
        if !self.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in &self.query {
                pairs.append_pair(
                    name,
                    &render_field(
                        value,
                        args,
                        Place::Text,
                        env,
                        &format!("query parameter `{name}`"),
                    )?,
                );
            }
        }
        if url.scheme() != self.base_url.scheme()
            || url.host() != self.base_url.host()
            || url.port_or_known_default() != self.base_url.port_or_known_default()
            || url.fragment().is_some()
        {
            return Err(PrepareError::UrlChanged("origin changed".into()));
        }
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            headers.push((
                name.clone(),
                render_field(value, args, Place::Header, env, &format!("header `{name}`"))?,
            ));
        }
        let body = match &self.body {
            Some(t) => Some(serde_json::to_vec(&t.render(args)?).expect("a JSON value serializes")),
            None => None,
        };
        Ok(Prepared {
            method: self.method,
            url,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_action;
    use serde_json::json;
    use std::path::Path;

    fn api(path: &str, extra: &str) -> ApiAction {
        let text = format!(
            "description = \"d\"\nkind = \"api\"\n[api]\nbase_url = \"https://api.example.com:8443/v2/\"\npath = \"{path}\"\nmethod = \"POST\"\n{extra}"
        );
        parse_action(Path::new("a.toml"), &text)
            .unwrap()
            .api()
            .unwrap()
            .clone()
    }

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn hostile_values_never_leave_their_place() {
        let a = api("/orders/$id", "query = { q = \"$id\", lang = \"en\" }\nheaders = { x-id = \"$id\" }\nbody = { id = \"$id\" }\n");
        for v in [
            "../../admin",
            "@evil.example",
            "x?admin=1#frag",
            "//evil.example/",
            "\\\\evil",
            "%2e%2e",
            "a/b",
            "http://evil.example",
        ] {
            let p = a.prepare(&args(json!({ "id": v }))).unwrap();
            assert_eq!(p.url.host_str(), Some("api.example.com"), "{v}");
            assert_eq!(p.url.port(), Some(8443));
            assert_eq!(p.url.path_segments().unwrap().count(), 3, "{v}: {}", p.url);
            let segs: Vec<_> = p.url.path_segments().unwrap().collect();
            assert_eq!(&segs[..2], ["v2", "orders"]);
            let pairs: Vec<(String, String)> = p.url.query_pairs().into_owned().collect();
            assert_eq!(
                pairs,
                vec![
                    ("q".to_string(), v.to_string()),
                    ("lang".to_string(), "en".to_string())
                ]
            );
            assert!(p.url.fragment().is_none());
            assert_eq!(p.headers, vec![("x-id".to_string(), v.to_string())]);
            assert_eq!(
                serde_json::from_slice::<Value>(p.body.as_ref().unwrap()).unwrap(),
                json!({ "id": v })
            );
            assert_eq!(p.method, Method::Post);
        }
    }

    #[test]
    fn dot_segments_from_values_are_refused() {
        let a = api("/o/$a$b", "");
        for (x, y) in [(".", "."), ("..", "x"), (".", "x")] {
            let r = a.prepare(&args(json!({ "a": x, "b": y })));
            if format!("{x}{y}") == "." || format!("{x}{y}") == ".." {
                assert_eq!(r.unwrap_err(), PrepareError::DotSegment);
            } else {
                r.unwrap();
            }
        }
        assert_eq!(
            api("/o/$a", "")
                .prepare(&args(json!({"a": ".."})))
                .unwrap_err(),
            PrepareError::DotSegment
        );
        assert_eq!(
            api("/o/$a", "")
                .prepare(&args(json!({"a": "."})))
                .unwrap_err(),
            PrepareError::DotSegment
        );
    }

    #[test]
    fn empty_path_hits_the_base() {
        let p = api("", "").prepare(&Map::new()).unwrap();
        assert_eq!(p.url.as_str(), "https://api.example.com:8443/v2");
    }

    #[test]
    fn secrets_come_from_the_environment_and_are_never_templates() {
        let a = api("/x", "headers = { x-api-key = { env = \"ACME_KEY\" } }\nquery = { key = { env = \"ACME_KEY\" }, q = \"$q\" }\n");
        assert_eq!(a.headers[0].1, FieldValue::Env("ACME_KEY".into()));
        let env = |name: &str| (name == "ACME_KEY").then(|| "s3cr$q t".to_string());
        let p = a.prepare_with_env(&args(json!({"q": "v"})), &env).unwrap();
        assert_eq!(
            p.headers,
            vec![("x-api-key".to_string(), "s3cr$q t".to_string())]
        );
        assert_eq!(p.url.query(), Some("key=s3cr%24q+t&q=v"));
        let none = |_: &str| None;
        let err = a
            .prepare_with_env(&args(json!({"q": "v"})), &none)
            .unwrap_err();
        assert_eq!(
            err,
            PrepareError::MissingEnv("ACME_KEY".into(), "query parameter `key`".into())
        );
        let bad = |_: &str| Some("a\nb".to_string());
        assert_eq!(
            a.prepare_with_env(&args(json!({"q": "v"})), &bad)
                .unwrap_err(),
            PrepareError::BadEnv("ACME_KEY".into())
        );
    }

    #[test]
    fn query_names_are_literal() {
        let a = api(
            "/People",
            "query = { \"$filter\" = \"Name eq '$name'\", \"$top\" = \"5\" }\n",
        );
        let p = a.prepare(&args(json!({"name": "O'Brien & Co"}))).unwrap();
        let pairs: Vec<(String, String)> = p.url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            vec![
                ("$filter".to_string(), "Name eq 'O'Brien & Co'".to_string()),
                ("$top".to_string(), "5".to_string())
            ]
        );
    }

    #[test]
    fn header_injection_is_refused() {
        let a = api("/x", "headers = { Authorization = \"Bearer $token\" }\n");
        let err = a
            .prepare(&args(json!({"token": "t\r\nX-Admin: 1"})))
            .unwrap_err();
        assert!(
            matches!(err, PrepareError::Render(RenderError::HeaderControl { .. })),
            "{err}"
        );
    }
}

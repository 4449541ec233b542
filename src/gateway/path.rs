//! The gateway's path grammar, by hand: TF Serving's
//! `/v1/models/{m}[/versions/{v}|/labels/{l}][:verb|/metadata]` puts a capture and a suffix in
//! one segment, which no router accepts, and its answer to anything that does not fit is
//! `400 Malformed request: <METHOD> <path>`, not a router's 404 or 405. KServe V1's model list
//! and the Open Inference Protocol's `/v2/...` paths are parsed here too, so one function
//! decides what every request is.
//!
//! Rules taken from TF Serving's regexes (`http_rest_api_util.cc`): literal parts match
//! without regard to case, a version is decimal digits, names are URL-unescaped and hold no
//! `/` or `:`, and the verb itself must be lowercase.

/// Which version a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// No version in the path: the traffic split decides.
    Split,
    Version(u32),
    Label(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Predict,
    Classify,
    Regress,
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `GET /v1/models/{m}[...]`: TF Serving's status, with KServe's `name`/`ready` added.
    Status {
        model: String,
        target: Target,
    },
    /// `GET /v1/models/{m}[...]/metadata`.
    Metadata {
        model: String,
        target: Target,
    },
    /// `POST /v1/models/{m}[...]:{verb}`.
    Verb {
        model: String,
        target: Target,
        verb: Verb,
    },
    /// `GET /v1/models`: KServe V1's model list (the caller's own service).
    List,
    /// `GET /v2/health/live` and `/v2/health/ready`.
    Live,
    Ready,
    /// `GET /v2/models/{m}[/versions/{v}]`.
    V2Metadata {
        model: String,
        version: Option<String>,
    },
    /// `GET /v2/models/{m}[/versions/{v}]/ready`.
    V2Ready {
        model: String,
        version: Option<String>,
    },
    /// `POST /v2/models/{m}[/versions/{v}]/infer`.
    V2Infer {
        model: String,
        version: Option<String>,
    },
    /// Under `/v1/`, but not a request TF Serving understands: 400 with this message.
    Malformed(String),
    /// A version number that does not fit: 400 with this message.
    BadVersion(String),
    /// Anywhere else: 404.
    NotFound,
}

impl Call {
    /// The model name the path carries, which names the service when the Host does not.
    pub fn model(&self) -> Option<&str> {
        match self {
            Call::Status { model, .. }
            | Call::Metadata { model, .. }
            | Call::Verb { model, .. }
            | Call::V2Metadata { model, .. }
            | Call::V2Ready { model, .. }
            | Call::V2Infer { model, .. } => Some(model),
            _ => None,
        }
    }
}

/// Parses a request line's method and path (without the query string).
pub fn parse(method: &str, path: &str) -> Call {
    let malformed = || Call::Malformed(format!("Malformed request: {method} {path}"));
    if let Some(rest) = strip_prefix_ci(path, "/v2/") {
        return parse_v2(method, rest);
    }
    let Some(rest) = strip_prefix_ci(path, "/v1/") else {
        return Call::NotFound;
    };
    if !matches!(method, "GET" | "POST") {
        return malformed();
    }
    let Some(rest) = strip_prefix_ci(rest, "models") else {
        return malformed();
    };
    if rest.is_empty() {
        return if method == "GET" {
            Call::List
        } else {
            malformed()
        };
    }
    let Some(rest) = rest.strip_prefix('/') else {
        return malformed();
    };
    // The model name runs to the first '/' or ':'.
    let end = rest.find(['/', ':']).unwrap_or(rest.len());
    let (name, mut rest) = rest.split_at(end);
    let Some(model) = unescape(name).filter(|m| !m.is_empty() && !m.contains(['/', ':'])) else {
        return malformed();
    };
    let mut target = Target::Split;
    if let Some(after) = strip_prefix_ci(rest, "/versions/") {
        let end = after.find(['/', ':']).unwrap_or(after.len());
        let digits = &after[..end];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return malformed();
        }
        match digits.parse::<u32>() {
            Ok(v) => target = Target::Version(v),
            Err(_) => {
                return Call::BadVersion(format!(
                    "Failed to convert version: {digits} to numeric."
                ));
            }
        }
        rest = &after[end..];
    } else if let Some(after) = strip_prefix_ci(rest, "/labels/") {
        let end = after.find(['/', ':']).unwrap_or(after.len());
        match unescape(&after[..end]).filter(|l| !l.is_empty()) {
            Some(label) => target = Target::Label(label),
            None => return malformed(),
        }
        rest = &after[end..];
    }
    match (method, rest) {
        ("GET", "") => Call::Status { model, target },
        ("GET", r) if r.eq_ignore_ascii_case("/metadata") => Call::Metadata { model, target },
        ("POST", r) => {
            let verb = match r {
                ":predict" => Verb::Predict,
                ":classify" => Verb::Classify,
                ":regress" => Verb::Regress,
                _ => return malformed(),
            };
            Call::Verb {
                model,
                target,
                verb,
            }
        }
        _ => malformed(),
    }
}

fn parse_v2(method: &str, rest: &str) -> Call {
    let parts: Vec<&str> = rest.split('/').collect();
    match (method, parts.as_slice()) {
        ("GET", ["health", "live"]) => Call::Live,
        ("GET", ["health", "ready"]) => Call::Ready,
        (_, ["models", name, tail @ ..]) => {
            let Some(model) = unescape(name).filter(|m| !m.is_empty()) else {
                return Call::NotFound;
            };
            let (version, tail) = match tail {
                ["versions", v, tail @ ..] => (Some((*v).to_string()), tail),
                _ => (None, tail),
            };
            match (method, tail) {
                ("GET", []) => Call::V2Metadata { model, version },
                ("GET", ["ready"]) => Call::V2Ready { model, version },
                ("POST", ["infer"]) => Call::V2Infer { model, version },
                _ => Call::NotFound,
            }
        }
        _ => Call::NotFound,
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Percent-decoding as libcurl does it; `None` when the result is not UTF-8.
fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verb(model: &str, target: Target, verb: Verb) -> Call {
        Call::Verb {
            model: model.into(),
            target,
            verb,
        }
    }

    #[test]
    fn tf_serving_paths() {
        assert_eq!(
            parse("POST", "/v1/models/iris:predict"),
            verb("iris", Target::Split, Verb::Predict)
        );
        assert_eq!(
            parse("POST", "/v1/models/iris/versions/2:classify"),
            verb("iris", Target::Version(2), Verb::Classify)
        );
        assert_eq!(
            parse("POST", "/V1/Models/iris/LABELS/stable:regress"),
            verb("iris", Target::Label("stable".into()), Verb::Regress)
        );
        assert_eq!(
            parse("GET", "/v1/models/iris"),
            Call::Status {
                model: "iris".into(),
                target: Target::Split
            }
        );
        assert_eq!(
            parse("GET", "/v1/models/iris/versions/3/metadata"),
            Call::Metadata {
                model: "iris".into(),
                target: Target::Version(3)
            }
        );
        assert_eq!(parse("GET", "/v1/models"), Call::List);
        assert_eq!(
            parse("POST", "/v1/models/my%2Dmodel:predict").model(),
            Some("my-model")
        );
    }

    #[test]
    fn what_tf_serving_calls_malformed() {
        for (method, path) in [
            ("GET", "/v1/models/iris:predict"),
            ("POST", "/v1/models/iris"),
            ("POST", "/v1/models/iris/metadata"),
            ("POST", "/v1/models/iris/version/50:predict"),
            ("POST", "/v1/models/iris/versions/abc:predict"),
            ("POST", "/v1/models/iris:PREDICT"),
            ("POST", "/v1/models/iris:explain"),
            ("PUT", "/v1/models/iris:predict"),
            ("DELETE", "/v1/models/iris"),
            ("POST", "/v1/models/:predict"),
            ("GET", "/v1/models/iris/"),
            ("GET", "/v1/other"),
        ] {
            assert_eq!(
                parse(method, path),
                Call::Malformed(format!("Malformed request: {method} {path}")),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn oversized_versions_and_foreign_paths() {
        assert_eq!(
            parse(
                "POST",
                "/v1/models/iris/versions/99999999999999999999:predict"
            ),
            Call::BadVersion("Failed to convert version: 99999999999999999999 to numeric.".into())
        );
        assert_eq!(parse("GET", "/"), Call::NotFound);
        assert_eq!(parse("GET", "/v1"), Call::NotFound);
        assert_eq!(parse("GET", "/metrics/x"), Call::NotFound);
    }

    #[test]
    fn open_inference_protocol_paths() {
        assert_eq!(parse("GET", "/v2/health/live"), Call::Live);
        assert_eq!(parse("GET", "/v2/health/ready"), Call::Ready);
        assert_eq!(
            parse("POST", "/v2/models/iris/versions/1/infer"),
            Call::V2Infer {
                model: "iris".into(),
                version: Some("1".into())
            }
        );
        assert_eq!(
            parse("GET", "/v2/models/iris/ready"),
            Call::V2Ready {
                model: "iris".into(),
                version: None
            }
        );
        assert_eq!(parse("DELETE", "/v2/models/iris"), Call::NotFound);
    }
}

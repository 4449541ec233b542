//! Upstream files: a model that lives on a remote TF Serving, KServe or Triton server, which
//! modeldeck fronts (gateway, keys, traffic split, monitoring) and forwards requests to.
//!
//! The file is small TOML (or the same keys as JSON). Secrets never go in it: it names a secret
//! kept in the store (`modeldeck secrets set`), whose value the gateway sends as the auth
//! header, so the file can be shared and the token rotated without a new import.

use std::path::Path;

use reqwest::Url;
use serde::{Deserialize, Serialize};

/// The wire protocol the remote server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// TensorFlow Serving REST (`/v1/models/m:predict`).
    Tfserving,
    /// KServe V1 (the same paths, KServe's semantics).
    KserveV1,
    /// Open Inference Protocol (KServe V2, Triton, MLServer).
    KserveV2,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    pub protocol: Protocol,
    pub url: String,
    pub model: String,
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Connections kept open to the server, and the most requests sent to it at once.
    #[serde(default)]
    pub pool_size: Option<u32>,
    /// Speak HTTP/2 without TLS (h2c, prior knowledge); over https it is negotiated anyway.
    #[serde(default)]
    pub http2: bool,
    /// The name of a secret in the store whose value is sent as [`UpstreamSpec::auth_header`].
    #[serde(default)]
    pub auth_secret: Option<String>,
    /// The header the secret goes in (default `Authorization`).
    #[serde(default)]
    pub auth_header: Option<String>,
    /// The tensor name a TF Serving-style request gets when translated to the Open Inference
    /// Protocol (default `input-0`, as KServe names it).
    #[serde(default)]
    pub input_name: Option<String>,
    /// Its datatype (default `FP64` for numbers; e.g. `FP32` for a Triton model that wants it).
    #[serde(default)]
    pub input_datatype: Option<String>,
    /// Refused with a pointer to secrets (the field of earlier modeldeck versions).
    #[serde(default, skip_serializing)]
    auth_header_env: Option<String>,
}

/// The most connections a pool may hold.
pub const MAX_POOL: u32 = 1024;

impl UpstreamSpec {
    pub fn pool(&self) -> u32 {
        self.pool_size.unwrap_or(32)
    }

    pub fn header(&self) -> &str {
        self.auth_header.as_deref().unwrap_or("authorization")
    }
}

pub fn check(path: &Path) -> Result<UpstreamSpec, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("it is not UTF-8 text ({e})"))?;
    parse(&text)
}

pub fn parse(text: &str) -> Result<UpstreamSpec, String> {
    let spec: UpstreamSpec = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| {
            format!(
                "the JSON is malformed: {}",
                crate::domain::redact(&e.to_string(), 300)
            )
        })?
    } else {
        // The error's message and line, never its quote of the file (which could be any
        // file the server can read, named by whoever imports).
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            format!(
                "the TOML is malformed{}: {}",
                line.map(|l| format!(" at line {l}")).unwrap_or_default(),
                crate::domain::redact(e.message(), 300)
            )
        })?
    };
    validate(spec)
}

/// What `--upstream` names for a SavedModel version of `model`: the URL of the TF Serving
/// that serves it (`http://tfs:8501`, the model then being `model`; or the model's own path,
/// `http://tfs:8501/v1/models/resnet/versions/3`, as TF Serving's docs print it), or the text
/// of an upstream file for anything more (another protocol, a secret, a pool size).
pub fn named(text: &str, model: &str) -> Result<UpstreamSpec, String> {
    let t = text.trim();
    let shown = crate::domain::redact(t, 200);
    let lower = t.to_ascii_lowercase();
    let is_url = lower.starts_with("http://") || lower.starts_with("https://");
    if !is_url || t.contains(char::is_whitespace) {
        // An upstream file's text has lines of `key = value` (or is JSON); anything else was
        // meant as an address or a file name.
        if t.starts_with('{') || t.contains('=') {
            return parse(text);
        }
        return Err(format!(
            "{shown:?} is not an http:// or https:// address, nor an upstream file's text (a file is read by the CLI, not by the server): give the server's address, e.g. http://tf-serving:8501 or .../v1/models/NAME"
        ));
    }
    let address = |why: &str| format!("{shown:?}: {why}");
    if let Some(why) = address_problem(t) {
        return Err(address(why));
    }
    let mut url = Url::parse(t).map_err(|e| address(&format!("not a URL ({e})")))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(address(
            "TF Serving takes no query string or fragment: give the server's address, e.g. http://tf-serving:8501",
        ));
    }
    let path = url.path().to_string();
    // TF Serving's own address of a model (`/v1/models/M`), or the Open Inference
    // Protocol's (`/v2/models/M`), each optionally with a version and its call; found in
    // any case (ASCII lower-casing keeps the offsets).
    let lower_path = format!("{}/", path.trim_end_matches('/')).to_ascii_lowercase();
    let found = ["/v1/models/", "/v2/models/"].iter().find_map(|api| {
        let at = lower_path.find(api)?;
        Some((*api, &path[..at], path.get(at + api.len()..).unwrap_or("")))
    });
    if let Some((api, _, rest)) = found
        && rest.trim_matches('/').is_empty()
    {
        return Err(address(&format!("name the model after {api}")));
    }
    let (protocol, base, name, version) = match found {
        None => (Protocol::Tfserving, path.trim_end_matches('/'), model, None),
        Some((api, base, rest)) => {
            let protocol = if api == "/v2/models/" {
                Protocol::KserveV2
            } else {
                Protocol::Tfserving
            };
            let rest = rest.trim_end_matches('/');
            let rest = rest
                .strip_suffix(":predict")
                .or_else(|| rest.strip_suffix("/infer"))
                .unwrap_or(rest);
            let parts: Vec<&str> = rest.split('/').collect();
            match parts.as_slice() {
                [name] => (protocol, base, *name, None),
                [name, "versions", v] => {
                    let v = v
                        .parse::<u64>()
                        .map_err(|_| address("the version after /versions/ is a whole number"))?;
                    (protocol, base, *name, Some(v))
                }
                _ => {
                    return Err(address(&format!(
                        "after {api} comes the model's name, optionally /versions/N"
                    )));
                }
            }
        }
    };
    let (base, name) = (base.to_string(), name.to_string());
    url.set_path(&base);
    validate(UpstreamSpec {
        protocol,
        url: url.as_str().trim_end_matches('/').to_string(),
        model: name,
        version,
        timeout_ms: None,
        pool_size: None,
        http2: false,
        auth_secret: None,
        auth_header: None,
        input_name: None,
        input_datatype: None,
        auth_header_env: None,
    })
}

/// What is wrong with an address as written (before a URL parser normalises it away): no
/// host after the scheme, or `.`/`..` segments that would send requests elsewhere than shown.
fn address_problem(raw: &str) -> Option<&'static str> {
    let after_scheme = &raw[raw.find("://").map_or(0, |i| i + 3)..];
    if after_scheme.starts_with('/') {
        return Some("there is no host after the scheme");
    }
    let dotted = raw.to_ascii_lowercase().contains("%2e")
        || after_scheme
            .split(['/', '?', '#'])
            .any(|seg| seg == "." || seg == "..");
    dotted.then_some("give the address without . or .. in its path")
}

/// The rules every upstream meets, however it was written.
fn validate(spec: UpstreamSpec) -> Result<UpstreamSpec, String> {
    if let Some(why) = address_problem(&spec.url) {
        return Err(format!(
            "url {:?}: {why}",
            crate::domain::redact(&spec.url, 200)
        ));
    }
    let url = Url::parse(&spec.url).map_err(|e| format!("url {:?} is not a URL: {e}", spec.url))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "url {:?} must be http:// or https:// with a host",
            spec.url
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url carries credentials; keep the token in the store (`modeldeck secrets set NAME --from-env VAR`) and name it with auth_secret".into());
    }
    // The name goes into the request's path as it is.
    let odd = |c: char| !c.is_ascii_graphic() || "/?#:%\\".contains(c);
    let dots = spec.model == "." || spec.model == "..";
    if spec.model.is_empty() || spec.model.len() > 200 || spec.model.contains(odd) || dots {
        return Err(format!(
            "model {:?} must name the model on the remote server, e.g. model = \"resnet\" (printable ASCII, no spaces, /, ?, #, :, %, and not . or ..)",
            spec.model
                .escape_debug()
                .to_string()
                .chars()
                .take(64)
                .collect::<String>()
        ));
    }
    if spec.version.is_some_and(|v| v > i64::MAX as u64) {
        return Err("version must be at most 9223372036854775807, as TF Serving's are".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "url {:?} has a query string or fragment: give the server's address, e.g. http://tf-serving:8501",
            crate::domain::redact(&spec.url, 200)
        ));
    }
    if url.port() == Some(0) {
        return Err(format!(
            "url {:?} has port 0",
            crate::domain::redact(&spec.url, 200)
        ));
    }
    if spec.timeout_ms == Some(0) {
        return Err("timeout_ms must be above 0".into());
    }
    if let Some(var) = &spec.auth_header_env {
        return Err(format!(
            "auth_header_env is no longer read: keep the token in the store with `modeldeck secrets set NAME --from-env {}` and name it with auth_secret = \"NAME\"",
            crate::domain::redact(var, 64)
        ));
    }
    if let Some(n) = spec.pool_size
        && !(1..=MAX_POOL).contains(&n)
    {
        return Err(format!("pool_size must be 1 to {MAX_POOL}, not {n}"));
    }
    if let Some(name) = &spec.auth_secret {
        crate::domain::secret_name(name)?;
    }
    if http::HeaderName::from_bytes(spec.header().as_bytes()).is_err() {
        return Err(format!(
            "auth_header {:?} is not an HTTP header name",
            crate::domain::redact(spec.header(), 64)
        ));
    }
    if let Some(d) = &spec.input_datatype
        && !matches!(
            d.as_str(),
            "FP64"
                | "FP32"
                | "FP16"
                | "INT64"
                | "INT32"
                | "INT16"
                | "INT8"
                | "UINT8"
                | "BOOL"
                | "BYTES"
        )
    {
        return Err(format!(
            "input_datatype {:?} is not an Open Inference Protocol datatype (FP64, FP32, INT64, INT32, BOOL, BYTES, ...)",
            crate::domain::redact(d, 32)
        ));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tf_serving_url_names_the_server_the_model_and_its_version() {
        let s = named("http://tfs.internal:8501", "resnet").unwrap();
        assert_eq!(
            (s.protocol, s.url.as_str(), s.model.as_str(), s.version),
            (
                Protocol::Tfserving,
                "http://tfs.internal:8501",
                "resnet",
                None
            )
        );
        let s = named("https://gw/tf/v1/models/rn50/versions/3/", "resnet").unwrap();
        assert_eq!(
            (s.url.as_str(), s.model.as_str(), s.version),
            ("https://gw/tf", "rn50", Some(3))
        );
        // Its call, and the Open Inference Protocol's address, say what they are.
        let s = named("http://tfs/v1/models/rn:predict", "resnet").unwrap();
        assert_eq!((s.model.as_str(), s.protocol), ("rn", Protocol::Tfserving));
        let s = named("HTTP://triton:8000/v2/models/rn/versions/2/infer", "resnet").unwrap();
        assert_eq!(
            (s.url.as_str(), s.model.as_str(), s.version, s.protocol),
            ("http://triton:8000", "rn", Some(2), Protocol::KserveV2)
        );
        for bad in [
            "http://tfs:8501/v1/models/rn/labels/x",
            "http://tfs:8501/v1/models/rn/versions/x",
            "http://tfs:8501?x=1",
            "http://tfs:8501#x",
            "http://user:pw@tfs:8501",
            "http:///v1/models/x",
            "http://tfs:0",
            "http://tfs/v1/models/../x",
            "http://tfs/v1/%2e%2e/x",
            "http://tfs/v1/models/a%20b",
            "tf-serving:8501",
            "missing.toml",
            "ftp://x/v1/models/iris",
            "http://tfs:8501/v1/models",
            "http://tfs:8501/V1/MODELS/",
            "http://tfs:8501/v1/models/rn/versions/18446744073709551615",
        ] {
            let err = named(bad, "resnet").unwrap_err();
            assert!(!err.contains("TOML"), "{bad}: {err}");
        }
        let s = named("http://tfs:8501/V1/Models/rn", "resnet").unwrap();
        assert_eq!(
            (s.url.as_str(), s.model.as_str()),
            ("http://tfs:8501", "rn")
        );
        for bad_name in [
            "m?q=1#",
            "a b",
            "a\r\nX-Evil: 1",
            "a:predict",
            "",
            ".",
            "..",
            "a\u{202e}b",
        ] {
            let text =
                format!("protocol = \"tfserving\"\nurl = \"http://h\"\nmodel = {bad_name:?}\n");
            assert!(parse(&text).is_err(), "{bad_name:?}");
        }
        for bad_url in [
            "http://h?x=1",
            "http://h/a/../b",
            "http://h/%2E%2e/b",
            "http:///h",
        ] {
            let text = format!("protocol = \"tfserving\"\nurl = {bad_url:?}\nmodel = \"m\"\n");
            assert!(parse(&text).is_err(), "{bad_url}");
        }
        // Anything else is an upstream file's text.
        let s = named(
            "protocol = \"kserve-v2\"\nurl = \"http://triton:8000\"\nmodel = \"rn\"\n",
            "resnet",
        )
        .unwrap();
        assert_eq!(s.protocol, Protocol::KserveV2);
    }

    #[test]
    fn a_malformed_file_is_never_quoted() {
        let err = parse("mdt_ca3cd854255dea6ff951fb70e2b8dd96\n").unwrap_err();
        assert!(!err.contains("mdt_ca3cd854"), "{err}");
        assert!(err.contains("line 1"), "{err}");
        let err = parse(r#"{"url": 5, "secret": "PASSWORD1"}"#).unwrap_err();
        assert!(!err.contains("PASSWORD1"), "{err}");
    }

    #[test]
    fn toml_and_json_forms() {
        let t = parse("protocol = \"kserve-v2\"\nurl = \"https://triton:8000\"\nmodel = \"m\"\n")
            .unwrap();
        assert_eq!(t.protocol, Protocol::KserveV2);
        let j = parse(r#"{"protocol":"kserve-v1","url":"http://k:80","model":"m","version":2}"#)
            .unwrap();
        assert_eq!((j.protocol, j.version), (Protocol::KserveV1, Some(2)));
    }

    #[test]
    fn mistakes_are_named() {
        let e = parse("protocol = \"grpc\"\nurl = \"http://x\"\nmodel = \"m\"").unwrap_err();
        assert!(e.contains("grpc"), "{e}");
        let e = parse("protocol = \"tfserving\"\nurl = \"ftp://x\"\nmodel = \"m\"").unwrap_err();
        assert!(e.contains("http://"), "{e}");
        let e =
            parse("protocol = \"tfserving\"\nurl = \"http://u:p@x\"\nmodel = \"m\"").unwrap_err();
        assert!(e.contains("auth_secret"), "{e}");
        let e = parse("protocol = \"tfserving\"\nurl = \"http://x\"\nmodel = \"m\"\ntoken = \"s\"")
            .unwrap_err();
        assert!(e.contains("token"), "{e}");
        let e = parse(
            "protocol = \"tfserving\"\nurl = \"http://x\"\nmodel = \"m\"\nauth_header_env = \"T\"",
        )
        .unwrap_err();
        assert!(e.contains("secrets set"), "{e}");
        let e = parse("protocol = \"tfserving\"\nurl = \"http://x\"\nmodel = \"m\"\npool_size = 0")
            .unwrap_err();
        assert!(e.contains("pool_size"), "{e}");
    }
}

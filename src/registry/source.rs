//! What the user named as a model's source, resolved into something fetchable.
//!
//! Credentials never come from command-line flags (`ps` would show them): only from the usual
//! `AWS_*` environment variables or from a credentials file in the AWS shared format. The
//! environment is passed in as a function so the rules can be tested without touching the
//! process's own.

use std::fmt;
use std::path::{Path, PathBuf};

use reqwest::Url;

use super::ImportError;

/// A source of model bytes.
#[derive(Debug, Clone)]
pub enum Source {
    Local(PathBuf),
    Http(Url),
    S3(S3Object),
}

/// How bucket names go into S3 URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// `https://endpoint/bucket/key` — MinIO, Ceph and most self-hosted stores.
    Path,
    /// `https://bucket.endpoint/key` — AWS S3 and Tencent COS.
    Virtual,
}

impl std::str::FromStr for Addressing {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "path" => Ok(Addressing::Path),
            "virtual" => Ok(Addressing::Virtual),
            _ => Err(format!("unknown addressing {s:?}: use path or virtual")),
        }
    }
}

/// Options for `s3://` and `cos://` sources, from the command line (none of them secret).
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub addressing: Option<Addressing>,
    pub credentials_file: Option<PathBuf>,
    pub profile: Option<String>,
}

/// An object (or, with a key ending in `/`, a folder of objects) in an S3-compatible store.
#[derive(Clone)]
pub struct S3Object {
    pub scheme: &'static str,
    pub bucket: String,
    pub key: String,
    pub endpoint: Url,
    pub region: String,
    pub addressing: Addressing,
    pub credentials: Option<Credentials>,
}

impl fmt::Debug for S3Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for S3Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}/{}", self.scheme, self.bucket, self.key)
    }
}

/// An access key pair. `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, <secret>)", self.access_key)
    }
}

impl Source {
    /// Resolves `text`: a URL with a scheme we know, or else a local path.
    pub fn parse(
        text: &str,
        opts: &S3Options,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Source, ImportError> {
        if text.is_empty() {
            return Err(ImportError::BadSource(
                "no source given: name a file, folder, http(s):// URL or s3:// location".into(),
            ));
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return Ok(Source::Local(PathBuf::from(text)));
        };
        match scheme {
            "http" | "https" => {
                let url = Url::parse(text).map_err(|e| {
                    ImportError::BadSource(format!("{text} is not a valid URL: {e}"))
                })?;
                Ok(Source::Http(url))
            }
            "s3" | "cos" => s3_object(scheme, rest, opts, env).map(Source::S3),
            "file" => Ok(Source::Local(PathBuf::from(rest))),
            other => Err(ImportError::BadSource(format!(
                "unsupported source scheme {other}://: use a local path, http(s)://, s3:// or cos://"
            ))),
        }
    }

    /// How the source is recorded: no credentials, no query string (presigned URLs carry
    /// secrets there).
    pub fn describe(&self) -> String {
        match self {
            Source::Local(p) => std::path::absolute(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string(),
            Source::Http(url) => {
                let mut u = url.clone();
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.set_query(None);
                u.set_fragment(None);
                u.to_string()
            }
            Source::S3(o) => o.to_string(),
        }
    }
}

fn s3_object(
    scheme: &str,
    rest: &str,
    opts: &S3Options,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<S3Object, ImportError> {
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !bucket_ok {
        return Err(ImportError::BadSource(format!(
            "{scheme}://{rest}: {bucket:?} is not a bucket name (3-63 characters from a-z, 0-9, '-' and '.'); write {scheme}://BUCKET/KEY"
        )));
    }
    let env_region = || env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION"));
    let (scheme, region, default_endpoint) = if scheme == "cos" {
        let appid_ok = bucket
            .rsplit_once('-')
            .is_some_and(|(_, id)| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
        if !appid_ok {
            return Err(ImportError::BadSource(format!(
                "cos://{rest}: COS bucket names end with the account's APPID, as in cos://models-1250000000/iris.pmml"
            )));
        }
        let region = opts.region.clone().or_else(env_region).ok_or_else(|| {
            ImportError::BadSource(format!(
                "cos://{rest} needs a region: add --region, e.g. --region ap-guangzhou"
            ))
        })?;
        let endpoint = format!("https://cos.{region}.myqcloud.com");
        ("cos", region, endpoint)
    } else {
        let region = opts
            .region
            .clone()
            .or_else(env_region)
            .unwrap_or_else(|| "us-east-1".to_string());
        let endpoint = format!("https://s3.{region}.amazonaws.com");
        ("s3", region, endpoint)
    };
    if !region
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(ImportError::BadSource(format!(
            "region {region:?} is not a region name such as us-east-1 or ap-guangzhou"
        )));
    }
    let custom = opts
        .endpoint
        .clone()
        .or_else(|| env("AWS_ENDPOINT_URL_S3"))
        .or_else(|| env("AWS_ENDPOINT_URL"));
    let endpoint_text = custom.clone().unwrap_or(default_endpoint);
    let endpoint = Url::parse(&endpoint_text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| {
            ImportError::BadSource(format!(
                "endpoint {endpoint_text:?} is not an http(s) URL such as http://127.0.0.1:9000"
            ))
        })?;
    // Self-hosted stores usually want path-style; AWS and COS want virtual-hosted.
    let addressing = opts.addressing.unwrap_or(if custom.is_some() {
        Addressing::Path
    } else {
        Addressing::Virtual
    });
    Ok(S3Object {
        scheme,
        bucket: bucket.to_string(),
        key: key.to_string(),
        endpoint,
        region,
        addressing,
        credentials: credentials(opts, env)?,
    })
}

/// Credentials from `--credentials-file` (AWS shared format, profile from `--profile`,
/// `AWS_PROFILE` or `default`), else from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
/// `AWS_SESSION_TOKEN`, else none (anonymous requests, for public buckets).
fn credentials(
    opts: &S3Options,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>, ImportError> {
    if let Some(file) = &opts.credentials_file {
        let profile = opts
            .profile
            .clone()
            .or_else(|| env("AWS_PROFILE"))
            .unwrap_or_else(|| "default".to_string());
        return credentials_from_file(file, &profile).map(Some);
    }
    let id = env("AWS_ACCESS_KEY_ID").filter(|s| !s.is_empty());
    let secret = env("AWS_SECRET_ACCESS_KEY").filter(|s| !s.is_empty());
    match (id, secret) {
        (Some(access_key), Some(secret_key)) => Ok(Some(Credentials {
            access_key,
            secret_key,
            session_token: env("AWS_SESSION_TOKEN").filter(|s| !s.is_empty()),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(ImportError::Credentials(
            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both".into(),
        )),
        (None, Some(_)) => Err(ImportError::Credentials(
            "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not; set both".into(),
        )),
    }
}

fn credentials_from_file(path: &Path, profile: &str) -> Result<Credentials, ImportError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ImportError::Credentials(format!("cannot read {}: {e}", path.display())))?;
    let mut in_profile = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let section = section.trim();
            in_profile = section == profile || section == format!("profile {profile}");
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = Some(v.trim().to_string());
            match k.trim() {
                "aws_access_key_id" => id = v,
                "aws_secret_access_key" => secret = v,
                "aws_session_token" => token = v,
                _ => {}
            }
        }
    }
    match (id, secret) {
        (Some(access_key), Some(secret_key)) => Ok(Credentials {
            access_key,
            secret_key,
            session_token: token,
        }),
        _ => Err(ImportError::Credentials(format!(
            "{} has no aws_access_key_id and aws_secret_access_key under [{profile}]",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn s3(text: &str, opts: &S3Options, env: &dyn Fn(&str) -> Option<String>) -> S3Object {
        match Source::parse(text, opts, env).unwrap() {
            Source::S3(o) => o,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plain_paths_are_local_and_urls_are_http() {
        let none = env_of(&[]);
        assert!(matches!(
            Source::parse("./m.pmml", &S3Options::default(), &none),
            Ok(Source::Local(_))
        ));
        assert!(matches!(
            Source::parse("https://x.test/m.pmml", &S3Options::default(), &none),
            Ok(Source::Http(_))
        ));
        let e = Source::parse("ftp://x/m", &S3Options::default(), &none).unwrap_err();
        assert!(e.to_string().contains("ftp://"), "{e}");
    }

    #[test]
    fn aws_defaults_to_virtual_hosted_and_custom_endpoints_to_path_style() {
        let env = env_of(&[("AWS_REGION", "eu-west-1")]);
        let o = s3("s3://models/iris/v1.pmml", &S3Options::default(), &env);
        assert_eq!(o.endpoint.as_str(), "https://s3.eu-west-1.amazonaws.com/");
        assert_eq!(
            (o.bucket.as_str(), o.key.as_str()),
            ("models", "iris/v1.pmml")
        );
        assert_eq!(o.addressing, Addressing::Virtual);
        assert!(o.credentials.is_none());

        let env = env_of(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")]);
        let o = s3("s3://models/k", &S3Options::default(), &env);
        assert_eq!(o.addressing, Addressing::Path);
        assert_eq!(o.region, "us-east-1");
    }

    #[test]
    fn cos_shorthand_needs_region_and_appid() {
        let none = env_of(&[]);
        let opts = S3Options {
            region: Some("ap-guangzhou".into()),
            ..S3Options::default()
        };
        let o = s3("cos://models-1250000000/a/iris.pmml", &opts, &none);
        assert_eq!(
            o.endpoint.as_str(),
            "https://cos.ap-guangzhou.myqcloud.com/"
        );
        assert_eq!(o.addressing, Addressing::Virtual);
        assert_eq!(o.to_string(), "cos://models-1250000000/a/iris.pmml");

        let e =
            Source::parse("cos://models-1250000000/a", &S3Options::default(), &none).unwrap_err();
        assert!(e.to_string().contains("--region"), "{e}");
        let e = Source::parse("cos://models/a", &opts, &none).unwrap_err();
        assert!(e.to_string().contains("APPID"), "{e}");
    }

    #[test]
    fn credentials_come_from_env_in_pairs_only() {
        let env = env_of(&[("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK")]);
        let o = s3("s3://bkt/k", &S3Options::default(), &env);
        let c = o.credentials.unwrap();
        assert_eq!((c.access_key.as_str(), c.secret_key.as_str()), ("AK", "SK"));
        assert!(!format!("{c:?}").contains("SK"));

        let env = env_of(&[("AWS_ACCESS_KEY_ID", "AK")]);
        let e = Source::parse("s3://bkt/k", &S3Options::default(), &env).unwrap_err();
        assert!(e.to_string().contains("AWS_SECRET_ACCESS_KEY"), "{e}");
    }

    #[test]
    fn credentials_file_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        std::fs::write(
            &path,
            "[default]\naws_access_key_id = A1\naws_secret_access_key = S1\n\n[profile ci]\naws_access_key_id=A2\naws_secret_access_key=S2\naws_session_token=T2\n",
        )
        .unwrap();
        let none = env_of(&[]);
        let mut opts = S3Options {
            credentials_file: Some(path.clone()),
            ..S3Options::default()
        };
        assert_eq!(
            s3("s3://bkt/k", &opts, &none)
                .credentials
                .unwrap()
                .access_key,
            "A1"
        );
        opts.profile = Some("ci".into());
        let c = s3("s3://bkt/k", &opts, &none).credentials.unwrap();
        assert_eq!(
            (c.access_key.as_str(), c.session_token.as_deref()),
            ("A2", Some("T2"))
        );
        opts.profile = Some("nope".into());
        let e = Source::parse("s3://bkt/k", &opts, &none).unwrap_err();
        assert!(e.to_string().contains("[nope]"), "{e}");
    }

    #[test]
    fn recorded_sources_carry_no_secrets() {
        let none = env_of(&[]);
        let s = Source::parse(
            "https://u:p@x.test/m.pmml?X-Amz-Signature=abc",
            &S3Options::default(),
            &none,
        )
        .unwrap();
        assert_eq!(s.describe(), "https://x.test/m.pmml");
    }
}

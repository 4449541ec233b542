//! Fetching from S3-compatible stores (AWS S3, Tencent COS, MinIO, Ceph, …).
//!
//! A key names one object; a key ending in `/` (or an object that does not exist but has
//! objects below `key/`) names a folder, fetched object by object. Folder keys are checked
//! before anything is written: a key with `..`, an empty segment or a backslash could write
//! outside the staging folder, and is refused.

use std::path::{Path, PathBuf};

use reqwest::{Client, Response, StatusCode, Url};

use super::http::{network, save_body, text_capped};
use super::sigv4::{self, uri_encode};
use super::source::{Addressing, S3Object};
use super::{Fetched, ImportError, Staging};

/// Fetches `obj` into `staging.incoming()`.
pub async fn fetch(
    client: &Client,
    obj: &S3Object,
    staging: &Staging,
    limit: u64,
    config_file: &str,
) -> Result<Fetched, ImportError> {
    let incoming = staging.incoming();
    if obj.key.is_empty() || obj.key.ends_with('/') {
        return fetch_folder(client, obj, &obj.key, &incoming, limit, config_file).await;
    }
    let response = send(client, obj, &obj.key, &[]).await?;
    let status = response.status();
    if !status.is_success() && status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED
    {
        // Maybe a folder written without its trailing slash (S3 answers 404 for it; stores
        // backed by a file system may answer otherwise).
        let prefix = format!("{}/", obj.key);
        if list(client, obj, &prefix)
            .await
            .is_ok_and(|keys| !keys.is_empty())
        {
            return fetch_folder(client, obj, &prefix, &incoming, limit, config_file).await;
        }
    }
    let response = check(response, obj).await?;
    let bytes = save_body(response, &obj.to_string(), &incoming, limit, config_file).await?;
    Ok(Fetched {
        bytes,
        is_dir: false,
    })
}

async fn fetch_folder(
    client: &Client,
    obj: &S3Object,
    prefix: &str,
    incoming: &Path,
    limit: u64,
    config_file: &str,
) -> Result<Fetched, ImportError> {
    let keys = list(client, obj, prefix).await?;
    let files: Vec<(String, PathBuf)> = keys
        .into_iter()
        .filter(|k| !k.ends_with('/')) // folder markers some tools write
        .map(|k| {
            let rel = safe_relative(&k[prefix.len()..]).map_err(|why| {
                ImportError::UnsafePath(format!("{}://{}/{k}: {why}", obj.scheme, obj.bucket))
            })?;
            Ok((k, rel))
        })
        .collect::<Result<_, ImportError>>()?;
    if files.is_empty() {
        return Err(ImportError::S3 {
            location: format!("{}://{}/{prefix}", obj.scheme, obj.bucket),
            message: "no objects under this prefix; check the path".into(),
        });
    }
    std::fs::create_dir_all(incoming).map_err(|source| ImportError::Io {
        path: incoming.to_path_buf(),
        source,
    })?;
    let mut total = 0;
    for (key, rel) in files {
        let response = check(send(client, obj, &key, &[]).await?, obj).await?;
        let label = format!("{}://{}/{key}", obj.scheme, obj.bucket);
        let dest = incoming.join(rel);
        total += save_body(response, &label, &dest, limit - total, config_file)
            .await
            .map_err(|e| match e {
                ImportError::TooLarge { config, .. } => ImportError::TooLarge {
                    source_name: format!("{}://{}/{prefix}", obj.scheme, obj.bucket),
                    limit,
                    config,
                },
                other => other,
            })?;
    }
    Ok(Fetched {
        bytes: total,
        is_dir: true,
    })
}

/// Keys below `prefix` (ListObjectsV2, all pages).
async fn list(client: &Client, obj: &S3Object, prefix: &str) -> Result<Vec<String>, ImportError> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut query: Vec<(&str, &str)> = vec![("list-type", "2"), ("prefix", prefix)];
        if let Some(t) = &token {
            query.push(("continuation-token", t));
        }
        let response = check(send(client, obj, "", &query).await?, obj).await?;
        // A page holds at most 1000 keys (a few hundred KiB); more is not a listing.
        let body = text_capped(response, 8 << 20)
            .await
            .map_err(|e| network(&obj.to_string(), &e))?;
        let doc = roxmltree::Document::parse(&body).map_err(|e| ImportError::S3 {
            location: obj.to_string(),
            message: format!("the store's object listing is not XML ({e})"),
        })?;
        let text_of = |name: &str| {
            doc.root_element()
                .children()
                .find(|n| n.has_tag_name(name))
                .and_then(|n| n.text())
                .map(str::to_string)
        };
        for contents in doc
            .root_element()
            .children()
            .filter(|n| n.has_tag_name("Contents"))
        {
            if let Some(key) = contents
                .children()
                .find(|n| n.has_tag_name("Key"))
                .and_then(|n| n.text())
            {
                keys.push(key.to_string());
            }
        }
        token = text_of("NextContinuationToken");
        if text_of("IsTruncated").as_deref() != Some("true") || token.is_none() {
            return Ok(keys);
        }
    }
}

/// Sends a signed (or, without credentials, anonymous) GET for `key` with `query`.
async fn send(
    client: &Client,
    obj: &S3Object,
    key: &str,
    query: &[(&str, &str)],
) -> Result<Response, ImportError> {
    let url = object_url(obj, key, query)?;
    let request = client.get(url.clone());
    signed(request, obj, &url, "GET", sigv4::EMPTY_PAYLOAD_SHA256)
        .send()
        .await
        .map_err(|e| network(&obj.to_string(), &e))
}

/// Uploads `file` as `obj` (one signed PUT, streamed from disk: S3 takes objects up to 5 GiB
/// this way). The body's hash is signed, so it is read once before sending.
pub async fn put(client: &Client, obj: &S3Object, file: &Path) -> Result<(), ImportError> {
    let failed = |e: String| ImportError::BadSource(format!("cannot write {obj}: {e}"));
    let hashed = file.to_path_buf();
    let (size, hash) = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, String)> {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        let mut f = std::fs::File::open(&hashed)?;
        let mut buf = vec![0u8; 256 << 10];
        let mut size = 0u64;
        loop {
            let n = std::io::Read::read(&mut f, &mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        Ok((size, hex::encode(hasher.finalize())))
    })
    .await
    .map_err(|e| failed(e.to_string()))?
    .map_err(|e| failed(e.to_string()))?;
    let url = object_url(obj, &obj.key, &[])?;
    let body = tokio::fs::File::open(file)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let request = client
        .put(url.clone())
        .header(reqwest::header::CONTENT_LENGTH, size)
        .body(reqwest::Body::from(body));
    let response = signed(request, obj, &url, "PUT", &hash)
        .send()
        .await
        .map_err(|e| network(&obj.to_string(), &e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    let code = text
        .split("<Code>")
        .nth(1)
        .and_then(|t| t.split("</Code>").next())
        .unwrap_or("");
    Err(failed(format!("the store answered {status} {code}")))
}

/// `request` with SigV4 headers when there are credentials (anonymous otherwise).
fn signed(
    mut request: reqwest::RequestBuilder,
    obj: &S3Object,
    url: &Url,
    method: &str,
    payload: &str,
) -> reqwest::RequestBuilder {
    let Some(creds) = &obj.credentials else {
        return request;
    };
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let signing = sigv4::Request {
        method,
        host: &host,
        uri: url.path(),
        query: url.query().unwrap_or(""),
        headers: &[],
        region: &obj.region,
        service: "s3",
        payload,
    };
    for (name, value) in sigv4::sign(&signing, creds, chrono::Utc::now()) {
        request = request.header(name, value);
    }
    request
}

/// The request URL in canonical form: the path and the sorted query are already encoded the
/// way SigV4 signs them, so what is sent is exactly what was signed.
pub fn object_url(obj: &S3Object, key: &str, query: &[(&str, &str)]) -> Result<Url, ImportError> {
    let ep = &obj.endpoint;
    let host = ep.host_str().unwrap_or_default();
    let port = ep.port().map(|p| format!(":{p}")).unwrap_or_default();
    let base_path = ep.path().trim_end_matches('/');
    let key = uri_encode(key, true);
    let (authority, path) = match obj.addressing {
        Addressing::Path => (
            format!("{host}{port}"),
            format!("{base_path}/{}/{key}", obj.bucket),
        ),
        Addressing::Virtual => (
            format!("{}.{host}{port}", obj.bucket),
            format!("{base_path}/{key}"),
        ),
    };
    let mut pairs: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    let query = if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    };
    let text = format!("{}://{authority}{path}{query}", ep.scheme());
    Url::parse(&text)
        .map_err(|e| ImportError::BadSource(format!("cannot form a URL for {obj}: {e}")))
}

/// Turns an S3 error response into a message that says what to fix.
async fn check(response: Response, obj: &S3Object) -> Result<Response, ImportError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = text_capped(response, 64 << 10).await.unwrap_or_default();
    let (code, detail) = roxmltree::Document::parse(&body)
        .ok()
        .map(|doc| {
            let field = |name: &str| {
                doc.descendants()
                    .find(|n| n.has_tag_name(name))
                    .and_then(|n| n.text())
                    .unwrap_or_default()
                    .to_string()
            };
            (field("Code"), field("Message"))
        })
        .unwrap_or_default();
    let anonymous = obj.credentials.is_none();
    let message = match code.as_str() {
        "NoSuchKey" => "no such key; check the path (keys are case-sensitive)".to_string(),
        "NoSuchBucket" => format!("no such bucket {:?} at {}", obj.bucket, obj.endpoint),
        // MinIO and s3s say NotSignedUp where AWS says InvalidAccessKeyId.
        "InvalidAccessKeyId" | "NotSignedUp" => format!(
            "the access key is not known to {} ({code}); check AWS_ACCESS_KEY_ID or --credentials-file",
            obj.endpoint
        ),
        "SignatureDoesNotMatch" => "the secret key does not match the access key (SignatureDoesNotMatch); check AWS_SECRET_ACCESS_KEY or --credentials-file".to_string(),
        _ if anonymous && (status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED) => {
            "access denied to an anonymous request; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or pass --credentials-file".to_string()
        }
        "AccessDenied" => "access denied; these credentials may not read it".to_string(),
        _ if status == StatusCode::NOT_FOUND => "not found; check the bucket and key".to_string(),
        "" => format!("HTTP {status}"),
        _ => format!("HTTP {status} {code}: {detail}"),
    };
    Err(ImportError::S3 {
        location: obj.to_string(),
        message,
    })
}

/// A folder-relative path from an object key, or why it is unsafe.
pub fn safe_relative(rel: &str) -> Result<PathBuf, String> {
    if rel.is_empty() || rel.starts_with('/') {
        return Err("the key is not below the folder".into());
    }
    let mut out = PathBuf::new();
    for segment in rel.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(format!(
                "the key has a {segment:?} segment, which could escape the folder"
            ));
        }
        if segment.contains('\\') || segment.contains('\0') {
            return Err("the key has a backslash or NUL, which could escape the folder".into());
        }
        out.push(segment);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::source::{S3Options, Source};

    fn obj(text: &str, endpoint: Option<&str>, addressing: Option<Addressing>) -> S3Object {
        let opts = S3Options {
            endpoint: endpoint.map(str::to_string),
            addressing,
            region: Some("ap-guangzhou".into()),
            ..S3Options::default()
        };
        match Source::parse(text, &opts, &|_| None).unwrap() {
            Source::S3(o) => o,
            _ => unreachable!(),
        }
    }

    #[test]
    fn urls_for_each_addressing_style() {
        let o = obj(
            "s3://models/iris v1.pmml",
            Some("http://127.0.0.1:9000"),
            None,
        );
        assert_eq!(
            object_url(&o, &o.key, &[]).unwrap().as_str(),
            "http://127.0.0.1:9000/models/iris%20v1.pmml"
        );
        let o = obj(
            "s3://models/a/b.onnx",
            Some("http://store.test:9000"),
            Some(Addressing::Virtual),
        );
        assert_eq!(
            object_url(&o, &o.key, &[("prefix", "a/"), ("list-type", "2")])
                .unwrap()
                .as_str(),
            "http://models.store.test:9000/a/b.onnx?list-type=2&prefix=a%2F"
        );
        let o = obj("cos://models-1250000000/iris.pmml", None, None);
        assert_eq!(
            object_url(&o, &o.key, &[]).unwrap().as_str(),
            "https://models-1250000000.cos.ap-guangzhou.myqcloud.com/iris.pmml"
        );
    }

    #[test]
    fn folder_keys_that_escape_are_refused() {
        assert_eq!(
            safe_relative("6/graph.json").unwrap(),
            PathBuf::from("6/graph.json")
        );
        for bad in [
            "../etc/passwd",
            "a/../../b",
            "/abs",
            "a//b",
            "./a",
            "a\\..\\b",
            "",
        ] {
            assert!(safe_relative(bad).is_err(), "{bad:?} accepted");
        }
    }
}

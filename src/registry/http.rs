//! Streaming downloads over HTTP(S), used for `http(s)://` sources and for S3 objects.
//!
//! Bodies are streamed to disk, never held in memory, and checked against the size limit both
//! up front (Content-Length) and as bytes arrive (servers lie or omit it). A body that ends
//! before its announced length is an error, not a short model. A stalled body is abandoned
//! after the client's read timeout.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Client, Response, Url};

use super::ImportError;
use super::artifacts::CappedFile;
use crate::config::ImportSettings;

/// The client imports use: rustls, bounded connect and read times, no proxies from the
/// environment surprises beyond reqwest's defaults.
pub fn client(settings: &ImportSettings) -> Result<Client, ImportError> {
    Client::builder()
        .connect_timeout(Duration::from_secs(settings.connect_timeout_secs))
        .read_timeout(Duration::from_secs(settings.read_timeout_secs))
        .user_agent(concat!("modeldeck/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ImportError::Network {
            url: String::new(),
            detail: e.to_string(),
        })
}

/// Downloads `url` into `dest`; returns the number of bytes.
pub async fn download(
    client: &Client,
    url: &Url,
    label: &str,
    dest: &Path,
    limit: u64,
    config_file: &str,
) -> Result<u64, ImportError> {
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| network(label, &e))?;
    if !response.status().is_success() {
        return Err(ImportError::HttpStatus {
            url: label.to_string(),
            status: response.status().to_string(),
        });
    }
    save_body(response, label, dest, limit, config_file).await
}

/// Streams a successful response's body into `dest`.
pub async fn save_body(
    response: Response,
    label: &str,
    dest: &Path,
    limit: u64,
    config_file: &str,
) -> Result<u64, ImportError> {
    let too_large = || ImportError::TooLarge {
        source_name: label.to_string(),
        limit,
        config: config_file.to_string(),
    };
    let expected = response.content_length();
    if expected.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut file = CappedFile::create(dest, limit)?;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                return Err(match expected {
                    Some(expected) if !e.is_timeout() => ImportError::Truncated {
                        url: label.to_string(),
                        got: file.written(),
                        expected,
                    },
                    _ => network(label, &e),
                });
            }
        };
        if !file.write(&chunk)? {
            return Err(too_large());
        }
    }
    let got = file.finish()?;
    match expected {
        Some(expected) if got != expected => Err(ImportError::Truncated {
            url: label.to_string(),
            got,
            expected,
        }),
        _ => Ok(got),
    }
}

/// One line that says what went wrong on the network, without reqwest's nested chain.
/// A small answer (an S3 listing page or error document) as text, read up to `limit` bytes:
/// what a remote server sends is as untrusted as what a client sends.
pub async fn text_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<String, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if chunk.len() >= room {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

pub fn network(label: &str, e: &reqwest::Error) -> ImportError {
    let detail = if e.is_timeout() {
        "the server stopped sending (timed out); check that it is up, or raise import.read_timeout_secs".to_string()
    } else if e.is_connect() {
        format!("cannot connect ({})", root_cause(e))
    } else {
        root_cause(e)
    };
    ImportError::Network {
        url: label.to_string(),
        detail,
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

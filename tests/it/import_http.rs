//! `models import https://…` against a real HTTP server on loopback that misbehaves on
//! purpose: error statuses, bodies cut short, slow bodies, stalled bodies, oversized bodies.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{DataDir, assert_refused, repo_path, sha256_hex};

/// A hand-written HTTP/1.1 server, so that it can break the protocol the ways real servers do.
async fn serve(model: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let model = model.clone();
            tokio::spawn(async move {
                let _ = answer(socket, &model).await;
            });
        }
    });
    format!("http://{addr}")
}

async fn answer(mut socket: TcpStream, model: &[u8]) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if socket.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let ok = |len: usize| {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
    };
    match path.split('?').next().unwrap_or("") {
        "/iris.pmml" => {
            socket.write_all(ok(model.len()).as_bytes()).await?;
            socket.write_all(model).await?;
        }
        "/missing.pmml" => {
            socket.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found").await?;
        }
        "/error.pmml" => {
            socket.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await?;
        }
        "/truncated.pmml" => {
            socket.write_all(ok(model.len()).as_bytes()).await?;
            socket.write_all(&model[..model.len() / 2]).await?;
        }
        "/slow.pmml" => {
            // The whole body arrives, a piece at a time, each well inside the read timeout.
            socket.write_all(ok(model.len()).as_bytes()).await?;
            for piece in model.chunks(model.len() / 8 + 1) {
                socket.write_all(piece).await?;
                socket.flush().await?;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        }
        "/stalled.pmml" => {
            socket.write_all(ok(model.len()).as_bytes()).await?;
            socket.write_all(&model[..100]).await?;
            socket.flush().await?;
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        "/huge.pmml" => {
            socket.write_all(ok(10 << 30).as_bytes()).await?;
        }
        "/unannounced.pmml" => {
            // No Content-Length: the limit has to be enforced while streaming.
            socket
                .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                .await?;
            for _ in 0..64 {
                if socket.write_all(&[b' '; 1024]).await.is_err() {
                    break;
                }
            }
        }
        _ => {
            socket
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await?;
        }
    }
    socket.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sources_download_or_fail_cleanly() {
    let model = std::fs::read(repo_path("assets/iris/iris.pmml")).unwrap();
    let base = serve(model.clone()).await;
    let dd = DataDir::new();
    dd.configure("[import]\nread_timeout_secs = 1\nmax_bytes = 20000\n");

    let v = dd
        .import(&format!("{base}/iris.pmml?X-Amz-Signature=secret"), "iris")
        .await;
    assert_eq!(
        (v["version"].as_u64(), v["type"].as_str()),
        (Some(1), Some("pmml"))
    );
    assert_eq!(v["sha256"], sha256_hex(&model).as_str());
    let shown = dd.json(&["models", "show", "iris", "--json"]).await;
    let source = shown["versions"][0]["source"].as_str().unwrap();
    assert_eq!(
        source,
        format!("{base}/iris.pmml"),
        "query strings can carry secrets"
    );

    let v = dd.import(&format!("{base}/slow.pmml"), "iris").await;
    assert_eq!(v["version"], 2);
    assert_eq!(v["sha256"], sha256_hex(&model).as_str());

    let none: &[(&str, &str)] = &[];
    let import = |path: &str| {
        vec![
            "models".to_string(),
            "import".into(),
            format!("{base}{path}"),
            "--name".into(),
            "iris".into(),
        ]
    };
    let announced = format!("of {} bytes", model.len());
    let too_large = "larger than the import limit of 20000 bytes";
    for (path, expect) in [
        ("/missing.pmml", vec!["answered HTTP 404 Not Found"]),
        ("/error.pmml", vec!["answered HTTP 503"]),
        (
            "/truncated.pmml",
            vec!["cut short after", announced.as_str()],
        ),
        (
            "/stalled.pmml",
            vec!["timed out", "import.read_timeout_secs"],
        ),
        ("/huge.pmml", vec![too_large]),
        ("/unannounced.pmml", vec![too_large]),
    ] {
        let args = import(path);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_refused(&dd, &args, none, &expect).await;
    }

    // Nobody listening.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    assert_refused(
        &dd,
        &[
            "models",
            "import",
            &format!("http://{addr}/iris.pmml"),
            "--name",
            "iris",
        ],
        none,
        &["cannot connect"],
    )
    .await;
    assert_refused(
        &dd,
        &["models", "import", "http://", "--name", "iris"],
        none,
        &["not a valid URL"],
    )
    .await;
}

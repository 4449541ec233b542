//! Operating a server: `modeldeck stop`, the identity check that keeps a token from reaching
//! another data directory's server, the error contract (status, code, field), and a log that
//! records every change — refused ones too — with no secrets and no colour codes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{DataDir, repo_path, stderr, stdout};
use crate::server::{Server, serving};

#[tokio::test]
async fn stop_drains_the_server_and_reports() {
    let dir = DataDir::new();
    let out = dir.run(&["stop"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("no server is running"),
        "{}",
        stdout(&out)
    );

    let (server, _key) = serving(&dir, "assets/iris/iris.pmml", "iris").await;
    // `services show` says how the gateway serves it and what the model takes.
    let shown = dir.ok(&["services", "show", "iris"]).await;
    assert!(shown.contains("state    ready"), "{shown}");
    assert!(shown.contains("inputs   sepal_width (float)"), "{shown}");
    let pid = server.child.id().unwrap();
    let mut child = server.child;
    // Three at once (two people on call): every one succeeds, one of them did the stopping.
    let (a, b, c) = tokio::join!(
        dir.run(&["stop", "--json"]),
        dir.run(&["stop", "--json"]),
        dir.run(&["stop", "--json"])
    );
    let mut stopped = 0;
    for out in [a, b, c] {
        assert!(out.status.success(), "{}", stderr(&out));
        let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
        if report["stopped"] == json!(pid) {
            stopped += 1;
        } else {
            assert_eq!(report["running"], false, "{report}");
        }
    }
    assert!(stopped >= 1, "nobody reported the stop");
    let status = child.wait().await.unwrap();
    assert!(status.success(), "the server exits cleanly: {status}");
    assert!(
        !dir.path.join("server.json").exists(),
        "server.json is removed"
    );
    // The data directory is free again: a command runs in-process.
    let list = dir.json(&["services", "list", "--json"]).await;
    assert_eq!(
        list[0]["name"], "iris",
        "nothing acknowledged was lost: {list}"
    );
    let shown = dir.json(&["services", "show", "iris", "--json"]).await;
    assert!(
        shown["state"].as_str().unwrap().starts_with("not served"),
        "{shown}"
    );
    assert_eq!(
        shown["signature"]["inputs"][0]["name"], "sepal_width",
        "{shown}"
    );
}

#[tokio::test]
async fn stop_needs_an_admin() {
    let dir = DataDir::new();
    let server = Server::start(&dir).await;
    let created = dir
        .json(&["tokens", "create", "ops", "--scope", "operator", "--json"])
        .await;
    let token = created["token"].as_str().unwrap();
    let (status, v) = server.api(Method::POST, "stop", Some(token), None).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );
    let (status, v) = server.api(Method::POST, "stop", None, None).await;
    assert_eq!(status, 401, "{v}");
    assert_eq!(server.get("status").await["services"], 0, "still serving");
    server.stop().await;
}

#[tokio::test]
async fn a_token_is_sent_only_to_the_data_directorys_own_server() {
    let mine = DataDir::new();
    let other = DataDir::new();
    let a = Server::start(&mine).await;
    let b = Server::start(&other).await;
    // /identity is the one call without a token, and says only which directory it serves.
    let (status, id) = b.api(Method::GET, "identity", None, None).await;
    assert_eq!(status, 200, "{id}");
    let keys: Vec<&String> = id.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "version"], "{id}");
    let other_id = std::fs::read_to_string(other.path.join("id")).unwrap();
    assert_eq!(id["id"], other_id.trim());
    // Point this directory's server.json at the other server (as when another directory's
    // server took the port after a restart): the CLI refuses instead of sending the token.
    let info = mine.path.join("server.json");
    let mut published: Value =
        serde_json::from_str(&std::fs::read_to_string(&info).unwrap()).unwrap();
    published["control"] = json!(b.control);
    std::fs::write(&info, published.to_string()).unwrap();
    let out = mine.run(&["models", "list", "--json"]).await;
    assert!(!out.status.success());
    let err: Value = serde_json::from_str(stderr(&out).trim()).unwrap();
    assert_eq!(err["error"]["code"], "wrong_server", "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another data directory"),
        "{err}"
    );
    let log = std::fs::read_to_string(other.scratch.join("serve.log")).unwrap();
    assert!(
        !log.contains("unauthorized"),
        "the other server saw a token attempt: {log}"
    );
    a.stop().await;
    b.stop().await;
}

/// A call and what it must answer: method, path, body; status, code, field at fault.
type Case = (
    Method,
    &'static str,
    Option<Value>,
    u16,
    &'static str,
    Option<&'static str>,
);

#[tokio::test]
async fn errors_carry_their_status_code_and_field() {
    let dir = DataDir::new();
    let (server, _key) = serving(&dir, "assets/iris/iris.pmml", "iris").await;
    let t = Some(server.token.as_str());
    let cases: Vec<Case> = vec![
        (Method::GET, "services/nosuch", None, 404, "not_found", None),
        (
            Method::GET,
            "models/Bad%20Name",
            None,
            400,
            "invalid_name",
            None,
        ),
        (
            Method::POST,
            "services",
            Some(json!({"name": "iris", "model": "iris"})),
            409,
            "exists",
            None,
        ),
        (
            Method::POST,
            "services",
            Some(json!({"name": "x", "model": "iris", "timeout_ms": 1e30})),
            400,
            "invalid_setting",
            Some("timeout_ms"),
        ),
        (
            Method::POST,
            "services",
            Some(json!({"name": "x", "model": "iris:"})),
            400,
            "invalid_field",
            Some("model"),
        ),
        (Method::DELETE, "models/iris", None, 409, "in_service", None),
        (
            Method::POST,
            "tokens",
            Some(json!({"name": "x", "scope": "root"})),
            400,
            "invalid_field",
            Some("scope"),
        ),
        (
            Method::PUT,
            "services",
            None,
            405,
            "method_not_allowed",
            None,
        ),
    ];
    let token_file = dir.path.join("control.token").display().to_string();
    let cases = cases.into_iter().chain([
        // The data directory holds the tokens: never an import source, nor /proc.
        (
            Method::POST,
            "models/leak/versions",
            Some(json!({"source": token_file, "type": "upstream"})),
            400,
            "invalid_field",
            Some("source"),
        ),
        (
            Method::POST,
            "models/leak/versions",
            Some(json!({"source": "/proc/self/environ"})),
            400,
            "invalid_field",
            Some("source"),
        ),
        (
            Method::GET,
            "events?since=x",
            None,
            400,
            "invalid_field",
            Some("since"),
        ),
    ]);
    for (method, path, body, status, code, field) in cases {
        let (got, v) = server.api(method.clone(), path, t, body).await;
        assert_eq!(got, status, "{method} {path}: {v}");
        assert_eq!(v["error"]["code"], code, "{method} {path}: {v}");
        assert_eq!(v["error"]["field"].as_str(), field, "{method} {path}: {v}");
    }
    // An upload's description is checked before its body is taken.
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/models/up/versions?filename=m.pmml&description=a%0Ab",
            server.control
        ))
        .bearer_auth(&server.token)
        .header("content-type", "application/octet-stream")
        .body("<PMML/>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let v: Value = response.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_text", "{v}");
    // A file on the server that does not import is refused without a word of its content.
    let secret = dir.scratch.join("secrets.toml");
    std::fs::write(&secret, "hunter2_secret_key = \"s3cr3tvalue\"\n").unwrap();
    for kind in [None, Some("upstream"), Some("pmml")] {
        let mut body = json!({"source": secret.display().to_string()});
        if let Some(k) = kind {
            body["type"] = json!(k);
        }
        let (status, op) = server
            .api(
                Method::POST,
                "models/leak/versions?wait=true",
                t,
                Some(body),
            )
            .await;
        assert_eq!(
            (status, op["state"].as_str()),
            (202, Some("failed")),
            "{op}"
        );
        let text = op.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("s3cr3t"),
            "{kind:?}: {text}"
        );
    }
    // A parser's complaint never echoes the value it choked on (secrets travel in bodies).
    let (status, v) = server
        .api(
            Method::POST,
            "models/n3/versions",
            t,
            Some(json!({"source": "s3://b/k.pmml", "credentials": "AKIAEXAMPLE:wJalrSECRET"})),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(!v.to_string().contains("wJalrSECRET"), "{v}");
    server.stop().await;
    let log = std::fs::read_to_string(dir.scratch.join("serve.log")).unwrap();
    assert!(!log.contains("wJalrSECRET"), "a secret reached the log");
    assert!(
        !log.contains("hunter2"),
        "a server file's content reached the log"
    );
    // Commands act on the data directory's server; --connect is the console's.
    let out = dir
        .run(&[
            "--connect",
            "http://127.0.0.1:9",
            "--token-file",
            "/dev/null",
            "stop",
            "--json",
        ])
        .await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("\"usage\""), "{}", stderr(&out));
}

#[tokio::test]
async fn the_log_records_every_change_and_refusal_without_secrets() {
    let dir = DataDir::new();
    dir.configure("[log]\naccess = true\n");
    let (server, key) = serving(&dir, "assets/iris/iris.pmml", "iris").await;
    let t = Some(server.token.as_str());
    let (status, _) = server
        .api(Method::POST, "services/iris/rotate-key", t, None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .api(
            Method::POST,
            "services",
            t,
            Some(json!({"name": "iris", "model": "iris"})),
        )
        .await;
    assert_eq!(status, 409);
    let (status, created) = server
        .api(
            Method::POST,
            "tokens",
            t,
            Some(json!({"name": "ci", "scope": "viewer"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = server.api(Method::DELETE, "tokens/ci", t, None).await;
    assert_eq!(status, 200);
    // A refusal whose reason echoes what was sent cannot forge a log line or colour the log.
    let forged = "x\n2026-12-01T06:49:11Z  INFO change actor=local-admin kind=token.created subject=FORGED\u{1b}[31m";
    let (status, _) = server
        .api(
            Method::POST,
            "models/m2/versions",
            t,
            Some(json!({"source": forged})),
        )
        .await;
    assert_eq!(status, 400);
    let body = r#"{"instances":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}"#;
    crate::server::post(
        &format!("{}/v1/models/iris:predict", server.gateway),
        None,
        Some("wrong-key"),
        body,
    )
    .await;
    let admin = server.token.clone();
    server.stop().await;
    let log = std::fs::read_to_string(dir.scratch.join("serve.log")).unwrap();
    for kind in ["service.key_rotated", "token.created", "token.revoked"] {
        assert!(log.contains(kind), "no {kind} line: {log}");
    }
    assert!(
        log.lines().any(|l| l.contains("change refused")
            && l.contains("exists")
            && l.contains("actor=local-admin")),
        "the refused deploy is not logged with who and why: {log}"
    );
    assert!(
        log.lines().any(|l| l.contains("request")
            && l.contains("status=401")
            && l.contains("client=127.0.0.1:")),
        "no access log line: {log}"
    );
    for secret in [
        key.as_str(),
        admin.as_str(),
        created["token"].as_str().unwrap(),
    ] {
        assert!(!log.contains(secret), "a secret is in the log");
    }
    assert!(!log.contains('\u{1b}'), "colour codes in a log file");
    assert!(
        log.lines()
            .filter(|l| l.contains("FORGED"))
            .all(|l| l.contains("change refused")),
        "a forged line: {log}"
    );
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let dir = DataDir::new();
    let mut cmd = Server::command(&dir);
    cmd.args(["--log-format", "json"]);
    let server = Server::spawned(&dir, cmd.spawn().unwrap()).await;
    dir.import(repo_path("assets/iris/iris.pmml").to_str().unwrap(), "iris")
        .await;
    server.stop().await;
    let log = std::fs::read_to_string(dir.scratch.join("serve.log")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["kind"] == "model.imported"),
        "{log}"
    );
}

/// A listener that knows the directory's id (it is no secret: `/identity` tells anyone) and
/// took the server's port: it cannot answer the challenge, so it never sees the token.
#[tokio::test]
async fn a_server_that_only_repeats_the_id_gets_no_token() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = DataDir::new();
    let server = Server::start(&dir).await;
    let (_, real) = server.api(Method::GET, "identity", None, None).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let body = json!({"id": real["id"], "version": real["version"], "proof": "00"}).to_string();
    let impostor = tokio::spawn(async move {
        let mut seen = Vec::new();
        // Answers every request with the replayed identity; records what it was sent.
        while let Ok(Ok((mut socket, _))) =
            tokio::time::timeout(std::time::Duration::from_secs(5), listener.accept()).await
        {
            let mut buf = vec![0u8; 8192];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
        seen
    });
    let info = dir.path.join("server.json");
    let mut published: Value =
        serde_json::from_str(&std::fs::read_to_string(&info).unwrap()).unwrap();
    published["control"] = json!(format!("http://{address}"));
    std::fs::write(&info, published.to_string()).unwrap();
    let out = dir.run(&["services", "list", "--json"]).await;
    assert!(!out.status.success());
    let err: Value = serde_json::from_str(stderr(&out).trim()).unwrap();
    assert_eq!(err["error"]["code"], "wrong_server", "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not prove"),
        "{err}"
    );
    let seen = impostor.await.unwrap();
    assert!(!seen.is_empty(), "the CLI never asked the impostor");
    assert!(
        seen.iter()
            .all(|r| !r.contains(&server.token) && !r.to_lowercase().contains("authorization")),
        "the token reached the impostor: {seen:?}"
    );
    server.stop().await;
}

/// `--connect` has no data directory to name the server it expects, but the server must still
/// prove it holds the token before the console sends it.
#[tokio::test]
async fn a_remote_console_sends_its_token_only_to_a_server_that_proves_it_holds_it() {
    let dir = DataDir::new();
    let server = Server::start(&dir).await;
    let wrong = dir.scratch.join("wrong.token");
    std::fs::write(&wrong, "mdt_00000000000000000000000000000000\n").unwrap();
    let out = tokio::process::Command::new(crate::common::BIN)
        .args(["--connect", &server.control, "--token-file"])
        .arg(&wrong)
        .env("HOME", &dir.scratch)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("does not prove it holds this token"),
        "{}",
        stderr(&out)
    );
    // With the right token the check passes, and the console goes on to want a terminal.
    let right = dir.scratch.join("right.token");
    std::fs::write(&right, &server.token).unwrap();
    let out = tokio::process::Command::new(crate::common::BIN)
        .args(["--connect", &server.control, "--token-file"])
        .arg(&right)
        .env("HOME", &dir.scratch)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!stderr(&out).contains("does not prove"), "{}", stderr(&out));
    assert!(stderr(&out).contains("terminal"), "{}", stderr(&out));
    server.stop().await;
}

/// `modeldeck … | head -1`: a reader that goes away ends the command quietly, as it ends any
/// Unix tool, instead of a panic with a backtrace.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let dir = DataDir::new();
    let mut child = std::process::Command::new(crate::common::BIN)
        .arg("--data-dir")
        .arg(&dir.path)
        .args(["models", "list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
}

//! Upstream versions against real servers: KServe's model server (V1 and V2) and MLServer
//! (V2) started by the tests (tests/peers/README.md), and a small HTTP/1.1 + HTTP/2 server of
//! our own where a test must see what the upstream received (auth headers) or control its
//! timing (a slow upstream).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::common::{DataDir, repo_path, stderr};
use crate::peers::{self, free_port};
use crate::server::{Server, post, wait_ready};

const ROW: &str = "[6.8,2.8,4.8,1.4]";

/// Writes an upstream file to the scratch folder and imports it as model `name`.
async fn import_upstream(dir: &DataDir, name: &str, toml: &str) -> Value {
    let path = dir.scratch.join(format!("{name}.upstream.toml"));
    std::fs::write(&path, toml).unwrap();
    dir.import(path.to_str().unwrap(), name).await
}

async fn deploy(dir: &DataDir, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["services", "deploy", name, "--model", name, "--json"];
    args.extend(extra);
    dir.json(&args).await["key"].as_str().unwrap().to_string()
}

fn v2_body(rows: &[&str]) -> String {
    let data: Vec<String> = rows
        .iter()
        .map(|r| r.trim_matches(['[', ']']).to_string())
        .collect();
    format!(
        r#"{{"id":"req-7","inputs":[{{"name":"input-0","shape":[{},4],"datatype":"FP64","data":[{}]}}]}}"#,
        rows.len(),
        data.join(",")
    )
}

#[tokio::test]
async fn kserve_v1_upstream_passes_through_translates_v2_callers_and_splits_with_a_native_version()
{
    let dir = DataDir::new();
    let Some(peer) = peers::kserve(&dir.scratch).await else {
        return;
    };
    // v1 native PMML, v2 the same iris model on KServe.
    dir.import(
        repo_path("assets/iris-lr/iris-lr.pmml").to_str().unwrap(),
        "iris",
    )
    .await;
    let key = deploy(&dir, "iris", &[]).await;
    let imported = import_upstream(
        &dir,
        "iris",
        &format!(
            "protocol = \"kserve-v1\"\nurl = \"{}\"\nmodel = \"iris\"\n",
            peer.url
        ),
    )
    .await;
    assert_eq!(imported["version"], 2, "{imported}");
    dir.ok(&["services", "add-version", "iris"]).await;
    let server = Server::start(&dir).await;
    wait_ready(&server.gateway, "iris", &key).await;
    let gw = &server.gateway;

    // V1 → V1: the body goes through untouched, and the answer is KServe's own.
    let body = format!(r#"{{"instances":[{ROW},[5.1,3.5,1.4,0.2]]}}"#);
    let direct: Value = reqwest::Client::new()
        .post(format!("{}/v1/models/iris:predict", peer.url))
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!("{gw}/v1/models/iris/versions/2:predict");
    let (status, v, version) = post(&url, None, Some(&key), &body).await;
    assert_eq!((status, version.as_deref()), (200, Some("2")), "{v}");
    assert_eq!(v, direct);
    assert_eq!(v, json!({"predictions": [1, 0]}));

    // A V2 caller reaches the V1 upstream through translation, and gets V2 back.
    let url = format!("{gw}/v2/models/iris/versions/2/infer");
    let (status, v, _) = post(
        &url,
        None,
        Some(&key),
        &v2_body(&[ROW, "[5.1,3.5,1.4,0.2]"]),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["id"], "req-7");
    assert_eq!(v["model_name"], "iris");
    assert_eq!(
        v["outputs"][0],
        json!({"name": "output-0", "shape": [2], "datatype": "INT64", "data": [1, 0]})
    );
    // An upstream's own refusal keeps its status and words.
    let (status, v, _) = post(
        &format!("{gw}/v1/models/iris/versions/2:predict"),
        None,
        Some(&key),
        r#"{"instances":[[1,2]]}"#,
    )
    .await;
    assert!(status >= 400, "{status} {v}");
    assert!(v["error"].as_str().is_some(), "{v}");

    // A split between the native version and the upstream: both answer.
    dir.ok(&["services", "traffic", "iris", "1=50", "2=50"])
        .await;
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..20 {
        let (status, v, version) = post(
            &format!("{gw}/v1/models/iris:predict"),
            None,
            Some(&key),
            &format!(r#"{{"instances":[{ROW}]}}"#),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        *seen.entry(version.unwrap()).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen["1"] + seen["2"], 20);

    // Counted like any version: its requests and their latency.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", server.control))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = metrics.lines().any(|l| {
        l.starts_with("modeldeck_requests_total{")
            && l.contains("service=\"iris\"")
            && l.contains("version=\"2\"")
            && l.contains("code=\"2xx\"")
    });
    assert!(counted, "{metrics}");

    saved_model_is_served_by_the_upstream_its_deploy_names(&dir, &server, &peer.url, &direct).await;

    // The upstream goes down: its version answers 503 naming it; the native one still serves.
    let upstream_url = peer.url.clone();
    drop(peer);
    let (status, v, version) = post(
        &format!("{gw}/v1/models/iris/versions/2:predict"),
        None,
        Some(&key),
        &format!(r#"{{"instances":[{ROW}]}}"#),
    )
    .await;
    assert_eq!((status, version.as_deref()), (503, Some("2")), "{v}");
    let message = v["error"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "upstream {upstream_url} (model iris) is unreachable"
        )),
        "{message}"
    );
    let (status, _, _) = post(
        &format!("{gw}/v1/models/iris/versions/1:predict"),
        None,
        Some(&key),
        &format!(r#"{{"instances":[{ROW}]}}"#),
    )
    .await;
    assert_eq!(status, 200);
    // And the control API (the console's source) shows it down, with the reason.
    let view = server.get("services/iris").await;
    assert_eq!(view["upstreams"][0]["health"], "down", "{view}");
    assert_eq!(view["state"], "upstream down", "{view}");
    // The change is an audit event with the reason (which also wakes the console).
    // (The SavedModel part above left a service whose upstream is down too: iris's is sought.)
    let iris_down = |events: &Value| {
        events["events"].as_array().and_then(|all| {
            all.iter()
                .find(|e| e["kind"] == "upstream.down" && e["subject"] == "iris")
                .cloned()
        })
    };
    let mut events = Value::Null;
    for _ in 0..100 {
        events = server.get("events?since=0&limit=1000").await;
        if iris_down(&events).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let down = iris_down(&events).unwrap_or_else(|| panic!("no upstream.down event: {events}"));
    assert_eq!(
        (down["subject"].as_str(), down["detail"]["version"].as_u64()),
        (Some("iris"), Some(2)),
        "{down}"
    );
}

/// A SavedModel in the repository runs on the TF Serving-compatible server its deploy names
/// (here KServe, which answers TF Serving's REST API); without one, the deploy says what to
/// add, and so does a version joining the service until `models upstream` names its server.
async fn saved_model_is_served_by_the_upstream_its_deploy_names(
    dir: &DataDir,
    server: &Server,
    upstream: &str,
    direct: &Value,
) {
    let saved = dir.scratch.join("flowers-export");
    modeldeck::registry::formats::savedmodel::testing::write(&saved, 3).unwrap();
    let imported = dir.import(saved.to_str().unwrap(), "flowers").await;
    assert_eq!(imported["type"], "savedmodel", "{imported}");

    let out = dir
        .run(&["services", "deploy", "flowers", "--model", "flowers"])
        .await;
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("flowers:1 is a TensorFlow SavedModel") && err.contains("--upstream URL"),
        "{err}"
    );
    let served_by = format!("{upstream}/v1/models/iris");
    let key = deploy(dir, "flowers", &["--upstream", &served_by]).await;
    wait_ready(&server.gateway, "flowers", &key).await;
    let body = format!(r#"{{"instances":[{ROW},[5.1,3.5,1.4,0.2]]}}"#);
    let (status, v, version) = post(
        &format!("{}/v1/models/flowers:predict", server.gateway),
        None,
        Some(&key),
        &body,
    )
    .await;
    assert_eq!((status, version.as_deref()), (200, Some("1")), "{v}");
    assert_eq!(&v, direct);
    let view = server.get("services/flowers").await;
    assert_eq!(view["upstreams"][0]["health"], "up", "{view}");

    // A second version joins only once its server is named.
    let saved2 = dir.scratch.join("flowers-export-2");
    modeldeck::registry::formats::savedmodel::testing::write(&saved2, 4).unwrap();
    dir.import(saved2.to_str().unwrap(), "flowers").await;
    let out = dir.run(&["services", "add-version", "flowers"]).await;
    let err = stderr(&out);
    assert!(
        !out.status.success() && err.contains("modeldeck models upstream flowers:2"),
        "{err}"
    );
    let said = dir
        .ok(&["models", "upstream", "flowers:2", &served_by])
        .await;
    assert_eq!(said.trim(), format!("flowers:2 is served by {served_by}"));
    dir.ok(&["services", "add-version", "flowers"]).await;
    dir.ok(&["services", "traffic", "flowers", "1=0", "2=100"])
        .await;
    let (status, v, version) = post(
        &format!("{}/v1/models/flowers:predict", server.gateway),
        None,
        Some(&key),
        &body,
    )
    .await;
    assert_eq!((status, version.as_deref()), (200, Some("2")), "{v}");
    assert_eq!(&v, direct);

    // A version in service keeps its server; the repository lists who serves what.
    let out = dir
        .run(&["models", "upstream", "flowers:1", "http://127.0.0.1:9/"])
        .await;
    assert!(
        !out.status.success()
            && stderr(&out).contains("keeps that upstream while a service holds it"),
        "{}",
        stderr(&out)
    );
    let shown = dir.ok(&["models", "show", "flowers"]).await;
    assert!(
        shown.contains(&format!("flowers:1 is served by {served_by}")),
        "{shown}"
    );
    let shown = dir.json(&["models", "show", "flowers", "--json"]).await;
    assert_eq!(shown["versions"][0]["type"], "savedmodel", "{shown}");

    // A server that answers "no such model" is not thereby up: the probe's down stands.
    let ghost = dir.scratch.join("ghost-export");
    modeldeck::registry::formats::savedmodel::testing::write(&ghost, 1).unwrap();
    dir.import(ghost.to_str().unwrap(), "ghost").await;
    let key = deploy(dir, "ghost", &["--upstream", upstream]).await;
    let health = || async {
        server.get("services/ghost").await["upstreams"][0]["health"]
            .as_str()
            .map(str::to_string)
    };
    for _ in 0..100 {
        if health().await.as_deref() == Some("down") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(health().await.as_deref(), Some("down"));
    let (status, v, _) = post(
        &format!("{}/v1/models/ghost:predict", server.gateway),
        None,
        Some(&key),
        &body,
    )
    .await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(health().await.as_deref(), Some("down"));
    // And the Open Inference Protocol's readiness says so, as TF Serving's status does.
    let ready = reqwest::Client::new()
        .get(format!("{}/v2/models/ghost/ready", server.gateway))
        .header("Authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
}

#[tokio::test]
async fn mlserver_v2_upstream_passes_through_and_v1_callers_are_translated() {
    let dir = DataDir::new();
    let Some(peer) = peers::mlserver(&dir.scratch).await else {
        return;
    };
    import_upstream(
        &dir,
        "flowers",
        &format!(
            "protocol = \"kserve-v2\"\nurl = \"{}\"\nmodel = \"iris\"\n",
            peer.url
        ),
    )
    .await;
    let key = deploy(&dir, "flowers", &[]).await;
    let server = Server::start(&dir).await;
    wait_ready(&server.gateway, "flowers", &key).await;
    let gw = &server.gateway;

    // V2 → V2, untouched: MLServer's own answer (its model name, its output names).
    let (status, v, version) = post(
        &format!("{gw}/v2/models/flowers/infer"),
        None,
        Some(&key),
        &v2_body(&[ROW, "[5.1,3.5,1.4,0.2]"]),
    )
    .await;
    assert_eq!((status, version.as_deref()), (200, Some("1")), "{v}");
    assert_eq!(v["model_name"], "iris", "{v}");
    assert_eq!(v["outputs"][0]["data"], json!([1, 0]), "{v}");

    // A TF Serving caller reaches the V2 upstream: rows in, predictions out, each row the
    // tensor's row (MLServer answers shape [2, 1]).
    let (status, v, _) = post(
        &format!("{gw}/v1/models/flowers:predict"),
        None,
        Some(&key),
        &format!(r#"{{"instances":[{ROW},[5.1,3.5,1.4,0.2]]}}"#),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, json!({"predictions": [[1], [0]]}));
    // The columnar form comes back as outputs.
    let (status, v, _) = post(
        &format!("{gw}/v1/models/flowers:predict"),
        None,
        Some(&key),
        &format!(r#"{{"inputs":[{ROW}]}}"#),
    )
    .await;
    assert_eq!((status, &v), (200, &json!({"outputs": [[1]]})), "{v}");
    // Bad input is the caller's 400, said before anything reaches the upstream.
    let (status, v, _) = post(
        &format!("{gw}/v1/models/flowers:predict"),
        None,
        Some(&key),
        r#"{"instances":[[1,2],[3]]}"#,
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("ragged"), "{v}");

    let view = server.get("services/flowers").await;
    assert_eq!(view["upstreams"][0]["health"], "up", "{view}");

    // A batch job scores through the upstream service: the file's columns, in order, are each
    // record's values; the prediction is one column.
    let input = dir.scratch.join("flowers.csv");
    std::fs::write(
        &input,
        "sl,sw,pl,pw\n6.8,2.8,4.8,1.4\n5.1,3.5,1.4,0.2\n7.7,3.0,6.1,2.3\n",
    )
    .unwrap();
    let output = dir.scratch.join("scored.csv");
    let (input, output) = (input.to_str().unwrap(), output.to_str().unwrap());
    dir.ok(&[
        "jobs",
        "create",
        "score-flowers",
        "--service",
        "flowers",
        "--input",
        input,
        "--output",
        output,
    ])
    .await;
    // A once-job with no start time runs as it is created.
    let mut run = Value::Null;
    for _ in 0..300 {
        run = dir.json(&["jobs", "runs", "score-flowers", "--json"]).await[0].clone();
        if matches!(run["state"].as_str(), Some("completed" | "failed")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        (run["state"].as_str(), run["rows_scored"].as_u64()),
        (Some("completed"), Some(3)),
        "{run}"
    );
    let scored = std::fs::read_to_string(output).unwrap();
    let column: Vec<&str> = scored
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    assert_eq!(scored.lines().next().unwrap(), "prediction", "{scored}");
    assert_eq!(column, ["[1]", "[0]", "[2]"], "{scored}");
    // A job cannot score the upstream model itself: it has no runtime here.
    let out = dir
        .run(&[
            "jobs", "create", "direct", "--model", "flowers", "--input", input, "--output", output,
        ])
        .await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--service"), "{}", stderr(&out));
}

/// What our own upstream saw of each request: the path, the HTTP version and the headers.
type Seen = Arc<Mutex<Vec<(String, http::Version, http::HeaderMap)>>>;

/// An upstream speaking TF Serving's `:predict` over HTTP/1.1 and HTTP/2 (h2c): `m` answers
/// at once, `slow` after five seconds.
async fn echo_upstream() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let log = Arc::clone(&log);
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let log = Arc::clone(&log);
                    async move {
                        let path = req.uri().path().to_string();
                        log.lock().unwrap().push((
                            path.clone(),
                            req.version(),
                            req.headers().clone(),
                        ));
                        if path.contains("/slow") {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                        }
                        let answer = if path.ends_with(":predict") {
                            r#"{"predictions":[42]}"#
                        } else {
                            r#"{"model_version_status":[{"version":"1","state":"AVAILABLE"}]}"#
                        };
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(answer))))
                    }
                });
            tokio::spawn(async move {
                let _ = ConnBuilder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn auth_comes_from_a_stored_secret_over_http2_is_never_logged_and_timeouts_and_outages_are_named()
 {
    let dir = DataDir::new();
    let (url, seen) = echo_upstream().await;
    import_upstream(
        &dir,
        "echo",
        &format!("protocol = \"tfserving\"\nurl = \"{url}\"\nmodel = \"m\"\nhttp2 = true\nauth_secret = \"echo-token\"\n"),
    )
    .await;
    // Deploying before the secret exists says what to do.
    let out = dir
        .run(&["services", "deploy", "echo", "--model", "echo"])
        .await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("modeldeck secrets set echo-token"), "{err}");
    // A secret comes from a variable or a file, never an argument.
    let out = dir
        .run_env(
            &["secrets", "set", "echo-token", "--from-env", "ECHO_TOKEN"],
            &[("ECHO_TOKEN", "Bearer s3cr3t-first")],
        )
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let key = deploy(&dir, "echo", &[]).await;
    import_upstream(
        &dir,
        "slow",
        &format!("protocol = \"tfserving\"\nurl = \"{url}\"\nmodel = \"slow\"\n"),
    )
    .await;
    let slow_key = deploy(&dir, "slow", &["--timeout-ms", "300"]).await;
    let closed = free_port();
    import_upstream(
        &dir,
        "gone",
        &format!("protocol = \"kserve-v1\"\nurl = \"http://127.0.0.1:{closed}\"\nmodel = \"m\"\n"),
    )
    .await;
    let gone_key = deploy(&dir, "gone", &[]).await;

    let server = Server::start(&dir).await;
    wait_ready(&server.gateway, "echo", &key).await;
    let gw = &server.gateway;
    let call = |name: &'static str, key: String| {
        let url = format!("{gw}/v1/models/{name}:predict");
        async move { post(&url, None, Some(&key), r#"{"instances":[[1]]}"#).await }
    };

    let (status, v, _) = call("echo", key.clone()).await;
    assert_eq!((status, &v), (200, &json!({"predictions": [42]})), "{v}");
    let (path, version, headers) = seen
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(p, ..)| p.ends_with(":predict"))
        .cloned()
        .unwrap();
    assert_eq!(path, "/v1/models/m:predict");
    assert_eq!(version, http::Version::HTTP_2);
    assert_eq!(headers["authorization"], "Bearer s3cr3t-first");
    assert!(
        !format!("{headers:?}").contains(&key),
        "the caller's key went upstream: {headers:?}"
    );

    // An operator may deploy, but not a version that sends a secret to where it says: that
    // would hand them the secret.
    let op = dir
        .json(&["tokens", "create", "eve", "--scope", "operator", "--json"])
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, v) = server
        .api(
            reqwest::Method::POST,
            "services",
            Some(&op),
            Some(json!({"name": "echo2", "model": "echo"})),
        )
        .await;
    assert_eq!(status, 403, "{v}");
    assert!(v.to_string().contains("needs an admin token"), "{v}");
    // Nor by way of a version joining a service it may change: a canary adds its candidate.
    import_upstream(
        &dir,
        "slow",
        &format!("protocol = \"tfserving\"\nurl = \"{url}\"\nmodel = \"m\"\nauth_secret = \"echo-token\"\n"),
    )
    .await;
    let canary = json!({"op": "canary_start", "to": 2, "steps": "5,25,50,100", "interval_secs": 60,
        "min_requests": 200, "max_error_pct": 1, "max_p99_ms": 500});
    for call in [
        canary,
        json!({"op": "add_version", "version": 2}),
        json!({"op": "upgrade", "to": 2}),
    ] {
        let (status, v) = server
            .api(
                reqwest::Method::POST,
                "services/slow/traffic",
                Some(&op),
                Some(call.clone()),
            )
            .await;
        assert_eq!(status, 403, "{call}: {v}");
    }

    // A rotated secret is sent from the next request on, with no redeploy.
    let file = dir.scratch.join("token");
    std::fs::write(&file, "Bearer s3cr3t-second\n").unwrap();
    dir.ok(&[
        "secrets",
        "set",
        "echo-token",
        "--from-file",
        file.to_str().unwrap(),
    ])
    .await;
    let (status, _, _) = call("echo", key.clone()).await;
    assert_eq!(status, 200);
    let last = seen
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(p, ..)| p.ends_with(":predict"))
        .cloned()
        .unwrap();
    assert_eq!(last.2["authorization"], "Bearer s3cr3t-second");

    // A slow upstream is cut at the service's timeout, and says so.
    let (status, v, _) = call("slow", slow_key).await;
    assert_eq!(status, 504, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("did not answer within 300 ms"),
        "{v}"
    );
    // One that is down is named; the others are unaffected.
    let (status, v, _) = call("gone", gone_key).await;
    assert_eq!(status, 503, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains(&format!(
            "upstream http://127.0.0.1:{closed} (model m) is unreachable"
        )),
        "{v}"
    );
    let (status, _, _) = call("echo", key.clone()).await;
    assert_eq!(status, 200);

    // A secret a live service sends cannot be removed from under it.
    let out = dir.run(&["secrets", "rm", "echo-token"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("service echo sends secret"),
        "{}",
        stderr(&out)
    );
    let (status, _, _) = call("echo", key.clone()).await;
    assert_eq!(status, 200);

    // The values never appear in what modeldeck writes or answers.
    let listed = dir.ok(&["secrets", "list", "--json"]).await;
    let events = server.get("events?since=0&limit=1000").await;
    server.stop().await;
    let log = std::fs::read_to_string(dir.scratch.join("serve.log")).unwrap();
    for text in [&listed, &events.to_string(), &log] {
        assert!(!text.contains("s3cr3t"), "a secret leaked: {text}");
    }
    assert!(events.to_string().contains("secret.replaced"), "{events}");
}

/// Without a server running: a SavedModel imports (the highest numbered export), and a deploy
/// that names no upstream, names one for a model modeldeck runs itself, or names one that is
/// malformed or sends a missing secret is refused with nothing written.
#[tokio::test]
async fn saved_model_deploys_that_name_no_usable_upstream_are_refused_whole() {
    let dir = DataDir::new();
    let saved = dir.scratch.join("resnet");
    modeldeck::registry::formats::savedmodel::testing::write(&saved, 1).unwrap();
    modeldeck::registry::formats::savedmodel::testing::write(&saved, 7).unwrap();
    let imported = dir.import(saved.to_str().unwrap(), "resnet").await;
    assert_eq!(imported["type"], "savedmodel", "{imported}");
    let shown = dir.json(&["models", "show", "resnet", "--json"]).await;
    assert_eq!(
        shown["versions"][0]["source"]
            .as_str()
            .map(|s| s.ends_with("(SavedModel version 7; signatures serving_default)")),
        Some(true),
        "{shown}"
    );
    dir.import(repo_path("assets/iris/iris.pmml").to_str().unwrap(), "iris")
        .await;
    let secretive = dir.scratch.join("tfs.upstream.toml");
    std::fs::write(
        &secretive,
        "protocol = \"tfserving\"\nurl = \"http://127.0.0.1:9\"\nmodel = \"resnet\"\nauth_secret = \"tfs-token\"\n",
    )
    .unwrap();
    let secretive = secretive.to_str().unwrap();
    for (args, expect) in [
        (
            vec!["services", "deploy", "rn", "--model", "resnet"],
            "resnet:1 is a TensorFlow SavedModel, which modeldeck does not run itself",
        ),
        (
            vec![
                "services",
                "deploy",
                "rn",
                "--model",
                "iris",
                "--upstream",
                "http://127.0.0.1:9",
            ],
            "iris:1 is a pmml model, which modeldeck serves itself: leave --upstream out",
        ),
        (
            vec![
                "services",
                "deploy",
                "rn",
                "--model",
                "resnet",
                "--upstream",
                "http://h/v1/models/a/b",
            ],
            "after /v1/models/ comes the model's name",
        ),
        (
            vec![
                "services",
                "deploy",
                "rn",
                "--model",
                "resnet",
                "--upstream",
                secretive,
            ],
            "secret \"tfs-token\", which is not in the store",
        ),
        (
            vec!["models", "upstream", "iris:1", "http://127.0.0.1:9"],
            "iris:1 is a pmml model",
        ),
    ] {
        crate::common::assert_refused(&dir, &args, &[], &[expect]).await;
    }
    let listed = dir.json(&["services", "list", "--json"]).await;
    assert_eq!(listed, json!([]), "a refused deploy left a service");

    // Named, it deploys; the version records who serves it, across a restart of the store.
    let key = deploy(
        &dir,
        "resnet",
        &["--upstream", "http://127.0.0.1:9/v1/models/rn50"],
    )
    .await;
    assert_eq!(key.len(), 32);
    let shown = dir.json(&["models", "show", "resnet", "--json"]).await;
    assert_eq!(
        shown["versions"][0]["served_by"]["url"], "http://127.0.0.1:9/v1/models/rn50",
        "{shown}"
    );
    let show = dir.ok(&["services", "show", "resnet"]).await;
    assert!(show.contains("runtime  upstream/"), "{show}");

    // Naming another version's server twice keeps one file for it, and removing the version
    // takes that file too; the first deploy's file stays while its service holds it.
    let upstream_files = || {
        std::fs::read_dir(dir.path.join("artifacts"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().join("upstream.toml").exists())
            .count()
    };
    assert_eq!(upstream_files(), 1);
    dir.import(saved.to_str().unwrap(), "resnet").await;
    dir.ok(&[
        "models",
        "upstream",
        "resnet:2",
        "http://127.0.0.1:9/v1/models/a",
    ])
    .await;
    assert_eq!(upstream_files(), 2);
    dir.ok(&[
        "models",
        "upstream",
        "resnet:2",
        "http://127.0.0.1:9/v1/models/b",
    ])
    .await;
    assert_eq!(upstream_files(), 2, "the replaced upstream file stayed");
    dir.ok(&["models", "rm", "resnet:2"]).await;
    assert_eq!(
        upstream_files(),
        1,
        "the removed version's upstream file stayed"
    );

    // A folder holding the data directory is never imported (it would copy itself), however
    // it is spelled: through the staging folder, which exists only while an import runs, too.
    let above = dir.path.parent().unwrap().to_str().unwrap().to_string();
    let through_staging = format!("{}/tmp/..", dir.path.display());
    for spelling in [&above, &through_staging] {
        crate::common::assert_refused(
            &dir,
            &["models", "import", spelling, "--name", "x"],
            &[],
            &["in or above the data directory"],
        )
        .await;
    }
}

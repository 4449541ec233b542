//! Names are names, never paths: every command that takes a name refuses one that is not
//! valid for its kind (`../`, `/`, `%2f`), before it reaches a URL, whether a server runs or
//! not; and the control API refuses a path whose segments are not valid names.

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::common::{DataDir, repo_path, stderr};
use crate::hostile::{read_until_closed, send};
use crate::server::Server;

const BAD: [&str; 6] = [
    "../models/relp",
    "../services/victim",
    "../tokens/keeper",
    "a/b",
    "a%2fb",
    "..",
];

/// What a data directory holds: models, services and tokens, as listed.
async fn state(dir: &DataDir) -> (Value, Value, Vec<String>) {
    let models = dir.json(&["models", "list", "--json"]).await;
    let services = dir.json(&["services", "list", "--json"]).await;
    let tokens = dir.json(&["tokens", "list", "--json"]).await;
    let live: Vec<String> = tokens
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["revoked_at"].is_null())
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    (models, services, live)
}

async fn refuse_every_bad_name(dir: &DataDir) {
    let iris = repo_path("assets/iris/iris.pmml").display().to_string();
    let before = state(dir).await;
    for bad in BAD {
        let commands: Vec<Vec<&str>> = vec![
            vec!["models", "show", bad],
            vec!["models", "rm", bad],
            vec!["models", "import", &iris, "--name", bad],
            vec!["services", "show", bad],
            vec!["services", "rm", bad],
            vec!["services", "rotate-key", bad],
            vec!["services", "deploy", bad, "--model", "relp"],
            vec!["services", "deploy", "fresh", "--model", bad],
            vec!["tokens", "create", bad],
            vec!["tokens", "revoke", bad],
        ];
        for args in commands {
            let out = dir.run(&args).await;
            let err = stderr(&out);
            assert!(!out.status.success(), "{args:?} succeeded");
            assert!(
                err.contains("illegal") || err.contains("invalid"),
                "{args:?}: {err}"
            );
        }
    }
    assert_eq!(state(dir).await, before, "a refused name changed something");
}

async fn setup(dir: &DataDir) {
    let iris = repo_path("assets/iris/iris.pmml").display().to_string();
    dir.import(&iris, "relp").await;
    dir.ok(&["services", "deploy", "victim", "--model", "relp"])
        .await;
    dir.ok(&["tokens", "create", "keeper", "--scope", "viewer"])
        .await;
}

#[tokio::test]
async fn commands_refuse_names_that_are_paths_with_a_server() {
    let dir = DataDir::new();
    let s = Server::start(&dir).await;
    setup(&dir).await;
    refuse_every_bad_name(&dir).await;

    // The API itself, sent raw (URL parsers would resolve dot segments before sending): a
    // segment that is not a name is refused, encoded or not, and `..` routes nowhere.
    let raw = |path: &str| {
        let head = format!(
            "DELETE /api/v1/{path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 0\r\nConnection: close",
            s.token
        );
        let control = s.control.clone();
        async move {
            let mut conn = send(&control, &head, b"").await;
            conn.flush().await.unwrap();
            read_until_closed(&mut conn, std::time::Duration::from_secs(5))
                .await
                .0
        }
    };
    for path in [
        "services/..%2fmodels%2frelp",
        "models/relp%2f",
        "models/%2e%2e",
        "tokens/..%2Fservices%2Fvictim",
    ] {
        let response = raw(path).await;
        assert!(response.starts_with("HTTP/1.1 400"), "{path}: {response}");
        assert!(response.contains("invalid_name"), "{path}: {response}");
    }
    let response = raw("services/../models/relp").await;
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    let models = dir.json(&["models", "list", "--json"]).await;
    assert_eq!(models[0]["name"], "relp", "nothing was deleted");
    assert!(s.stop().await.success());
}

#[tokio::test]
async fn commands_refuse_names_that_are_paths_without_a_server() {
    let dir = DataDir::new();
    setup(&dir).await;
    refuse_every_bad_name(&dir).await;
}

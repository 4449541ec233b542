//! The SQLite store on real files: migrations, re-opening, constraints, refusing files that
//! are not ours, and the audit trail.

use modeldeck::domain::ModelKind;
use modeldeck::store::{NewVersion, Store, StoreError, schema};
use rusqlite::Connection;

use crate::common::{DataDir, repo_path};

fn version(name: &str, sha: &str) -> NewVersion {
    NewVersion {
        name: name.into(),
        kind: ModelKind::Pmml,
        sha256: sha.into(),
        size: 10,
        artifact: format!("artifacts/{sha}/model.pmml"),
        source: "test".into(),
        description: String::new(),
    }
}

const SHA: &str = "6e59894dfb64c31c02c7722aa0447a165119f4e8849e33971899e1795d898597";

#[tokio::test]
async fn fresh_file_is_migrated_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("modeldeck.db");
    {
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), schema::SCHEMA_VERSION);
        let v = store
            .register_version("alice", version("iris", SHA))
            .await
            .unwrap();
        assert_eq!(v.version, 1);
        assert_eq!(
            store
                .register_version("bob", version("iris", SHA))
                .await
                .unwrap()
                .version,
            2
        );
    }
    let raw = Connection::open(&path).unwrap();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let app: i32 = raw
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app, schema::APPLICATION_ID);
    let tables: Vec<String> = raw
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in [
        "deployments",
        "events",
        "jobs",
        "metric_rollups",
        "model_versions",
        "models",
        "runs",
        "services",
        "tokens",
        "traffic_changes",
    ] {
        assert!(
            tables.iter().any(|x| x == t),
            "missing table {t}: {tables:?}"
        );
    }
    drop(raw);

    let store = Store::open(&path).unwrap();
    let versions = store.model_versions("iris").unwrap().unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    let events = store.events_since(0).unwrap();
    assert_eq!(events.len(), 2);
    let first = &events[0];
    assert_eq!(
        (
            first.actor.as_str(),
            first.kind.as_str(),
            first.subject.as_str()
        ),
        ("alice", "model.imported", "iris:1")
    );
    assert_eq!(first.detail["sha256"], SHA);
    assert_eq!(store.revision().unwrap(), events[1].revision);
}

#[tokio::test]
async fn constraint_violations_are_errors_and_roll_back_the_whole_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("modeldeck.db")).unwrap();
    let err = store
        .register_version("t", version("iris", "not-a-digest"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");
    assert!(err.to_string().contains("refused by the database"), "{err}");
    // The model row created earlier in the same transaction, and its event, are gone too.
    assert!(store.list_models().unwrap().is_empty());
    assert_eq!(store.revision().unwrap(), 0);
}

/// A version a live service routes to cannot be removed — by the control layer's check, and by
/// the database's own trigger underneath it.
#[tokio::test]
async fn versions_in_service_cannot_be_removed() {
    let dd = DataDir::new();
    let iris = repo_path("assets/iris/iris.pmml").display().to_string();
    dd.ok(&["models", "import", &iris, "--name", "iris"]).await;
    dd.ok(&["models", "import", &iris, "--name", "iris"]).await;
    // Services arrive with a later issue; until then the test writes the rows itself.
    let raw = Connection::open(dd.path.join("modeldeck.db")).unwrap();
    raw.execute_batch(
        "INSERT INTO services (name, host, model_id, model_name, access_key, runtime, threads, concurrency, timeout_ms, max_batch_rows, created_at)
           SELECT 'iris-svc', 'iris-svc.modeldeck.local', id, 'iris', 'k', 'pmml', 1, 1, 1000, 100, '2026-01-01T00:00:00Z' FROM models WHERE name = 'iris';
         INSERT INTO deployments (service_id, version_id, model_name, version, weight, created_at)
           SELECT s.id, v.id, 'iris', 2, 100, '2026-01-01T00:00:00Z' FROM services s, model_versions v WHERE v.version = 2;",
    )
    .unwrap();
    drop(raw);

    let list = dd.json(&["models", "list", "--json"]).await;
    assert_eq!(list[0]["used_by"], serde_json::json!(["iris-svc"]));
    let shown = dd.ok(&["models", "show", "iris"]).await;
    assert!(shown.contains("iris-svc (100%)"), "{shown}");

    for target in ["iris:2", "iris"] {
        let out = dd.run(&["models", "rm", target]).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains("in service (version 2 by iris-svc)")
                && err.contains("delete those services first"),
            "{err}"
        );
    }
    assert_eq!(
        dd.json(&["models", "show", "iris", "--json"]).await["versions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Version 1 is not in service and goes.
    dd.ok(&["models", "rm", "iris:1"]).await;

    let raw = Connection::open(dd.path.join("modeldeck.db")).unwrap();
    let err = raw
        .execute("DELETE FROM model_versions WHERE version = 2", [])
        .unwrap_err();
    assert!(
        err.to_string().contains("model version is in service"),
        "{err}"
    );
}

#[test]
fn files_that_are_not_ours_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();

    let text = dir.path().join("text.db");
    std::fs::write(&text, b"these are somebody's notes, not a database\n").unwrap();
    let err = Store::open(&text).err().expect("text accepted");
    assert!(err.to_string().contains("not an SQLite database"), "{err}");
    assert_eq!(
        std::fs::read(&text).unwrap(),
        b"these are somebody's notes, not a database\n"
    );

    let foreign = dir.path().join("foreign.db");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE ledger (amount INTEGER); INSERT INTO ledger VALUES (42);")
        .unwrap();
    let before = std::fs::read(&foreign).unwrap();
    let err = Store::open(&foreign).err().expect("foreign db accepted");
    assert!(
        err.to_string()
            .contains("SQLite database of another program")
            && err.to_string().contains("left untouched"),
        "{err}"
    );
    assert_eq!(std::fs::read(&foreign).unwrap(), before);

    let newer = dir.path().join("newer.db");
    let c = Connection::open(&newer).unwrap();
    c.pragma_update(None, "application_id", schema::APPLICATION_ID)
        .unwrap();
    c.pragma_update(None, "user_version", 99).unwrap();
    drop(c);
    let before = std::fs::read(&newer).unwrap();
    let err = Store::open(&newer).err().expect("newer db accepted");
    assert!(
        err.to_string().contains("schema version 99")
            && err.to_string().contains("upgrade modeldeck"),
        "{err}"
    );
    assert_eq!(std::fs::read(&newer).unwrap(), before);
}

/// The CLI refuses the same way, and says so in one line.
#[tokio::test]
async fn cli_refuses_a_foreign_database() {
    let dd = DataDir::new();
    std::fs::create_dir_all(&dd.path).unwrap();
    std::fs::write(dd.path.join("modeldeck.db"), b"hello").unwrap();
    let out = dd.run(&["models", "list"]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.starts_with("error: ") && err.contains("is not a modeldeck database"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dd.path.join("modeldeck.db")).unwrap(),
        b"hello"
    );
}

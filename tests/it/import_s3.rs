//! `models import s3://…` against a real S3 API server (s3s-fs, which checks SigV4 signatures)
//! started on loopback by the test.

use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::host::MultiDomain;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

use crate::common::{DataDir, assert_refused, copy_dir, repo_path, sha256_hex};

pub const ACCESS_KEY: &str = "AKIDMODELDECKTEST";
pub const SECRET_KEY: &str = "s3cr3t/modeldeck+test";

/// Starts an S3 server whose buckets are the folders of `root`; returns its endpoint URL.
pub async fn start_s3(root: &Path, domain: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fs = s3s_fs::FileSystem::new(root).unwrap();
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    // Host headers carry the port: `bucket.s3.test:PORT` is virtual-hosted, `127.0.0.1:PORT`
    // path-style.
    let domains = [
        format!("{domain}:{}", addr.port()),
        format!("127.0.0.1:{}", addr.port()),
    ];
    builder.set_host(MultiDomain::new(&domains).unwrap());
    let service = builder.build();
    tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let conn = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(conn);
        }
    });
    format!("http://127.0.0.1:{}", addr.port())
}

fn bucket_root(dd: &DataDir) -> std::path::PathBuf {
    let root = dd.scratch.join("s3");
    let bucket = root.join("models");
    std::fs::create_dir_all(bucket.join("iris")).unwrap();
    std::fs::copy(
        repo_path("assets/iris/iris.pmml"),
        bucket.join("iris/v1.pmml"),
    )
    .unwrap();
    copy_dir(
        &repo_path("tests/fixtures/angel/lr"),
        &bucket.join("angel/lr"),
    );
    root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_objects_and_folders_import_with_signed_requests() {
    let dd = DataDir::new();
    let endpoint = start_s3(&bucket_root(&dd), "s3.test").await;
    let env = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];
    let run = |args: &'static [&'static str]| {
        let dd = &dd;
        async move {
            let out = dd.run_env(args, &env).await;
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        }
    };
    let v = run(&[
        "models",
        "import",
        "s3://models/iris/v1.pmml",
        "--name",
        "iris",
        "--json",
    ])
    .await;
    let local = std::fs::read(repo_path("assets/iris/iris.pmml")).unwrap();
    assert_eq!(v["sha256"], sha256_hex(&local).as_str());
    assert_eq!(v["type"], "pmml");

    // A folder, with and without the trailing slash.
    let v = run(&[
        "models",
        "import",
        "s3://models/angel/lr/",
        "--name",
        "lr",
        "--json",
    ])
    .await;
    assert_eq!(
        (v["type"].as_str(), v["version"].as_u64()),
        (Some("angel"), Some(1))
    );
    let v2 = run(&[
        "models",
        "import",
        "s3://models/angel/lr",
        "--name",
        "lr",
        "--json",
    ])
    .await;
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["sha256"], v["sha256"], "same folder, same digest");

    // The same folder from disk has the same digest too: content, not origin, names it.
    let from_disk = dd
        .import(repo_path("tests/fixtures/angel/lr").to_str().unwrap(), "lr")
        .await;
    assert_eq!(from_disk["sha256"], v["sha256"]);

    // A credentials file instead of the environment.
    let creds = dd.scratch.join("credentials");
    std::fs::write(
        &creds,
        format!("[ci]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"),
    )
    .unwrap();
    let out = dd
        .run_env(
            &[
                "models",
                "import",
                "s3://models/iris/v1.pmml",
                "--name",
                "iris",
                "--credentials-file",
                creds.to_str().unwrap(),
                "--profile",
                "ci",
                "--json",
            ],
            &[("AWS_ENDPOINT_URL", endpoint.as_str())],
        )
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_failures_name_the_problem_and_register_nothing() {
    let dd = DataDir::new();
    let endpoint = start_s3(&bucket_root(&dd), "s3.test").await;
    dd.ok(&["models", "list"]).await;
    let ep = endpoint.as_str();
    let good = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_ENDPOINT_URL", ep),
    ];
    let import = |src: &'static str| ["models", "import", src, "--name", "iris"];

    let wrong_secret = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
        ("AWS_ENDPOINT_URL", ep),
    ];
    assert_refused(
        &dd,
        &import("s3://models/iris/v1.pmml"),
        &wrong_secret,
        &["s3://models/iris/v1.pmml", "AWS_SECRET_ACCESS_KEY"],
    )
    .await;

    let unknown_key = [
        ("AWS_ACCESS_KEY_ID", "AKIDNOBODY"),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_ENDPOINT_URL", ep),
    ];
    assert_refused(
        &dd,
        &import("s3://models/iris/v1.pmml"),
        &unknown_key,
        &["access key is not known", "AWS_ACCESS_KEY_ID"],
    )
    .await;

    let anonymous = [("AWS_ENDPOINT_URL", ep)];
    assert_refused(
        &dd,
        &import("s3://models/iris/v1.pmml"),
        &anonymous,
        &["anonymous", "AWS_ACCESS_KEY_ID"],
    )
    .await;

    assert_refused(
        &dd,
        &import("s3://models/iris/v9.pmml"),
        &good,
        &["s3://models/iris/v9.pmml", "no such key"],
    )
    .await;
    // s3s-fs answers NoSuchKey where AWS answers NoSuchBucket; either way the location is named.
    assert_refused(
        &dd,
        &import("s3://nobucket/iris/v1.pmml"),
        &good,
        &["s3://nobucket/iris/v1.pmml", "no such"],
    )
    .await;
    assert_refused(
        &dd,
        &import("s3://models/nothing/"),
        &good,
        &["no objects under this prefix"],
    )
    .await;

    let half = [("AWS_ACCESS_KEY_ID", ACCESS_KEY), ("AWS_ENDPOINT_URL", ep)];
    assert_refused(
        &dd,
        &import("s3://models/iris/v1.pmml"),
        &half,
        &[
            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
            "set both",
        ],
    )
    .await;
    assert_refused(&dd, &import("cos://models/iris/v1.pmml"), &good, &["APPID"]).await;
}

/// Virtual-hosted addressing (`bucket.endpoint`) needs a name that resolves to loopback;
/// the library's HTTP client takes a resolver override, which the CLI has no need for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_hosted_addressing_reaches_the_bucket() {
    use modeldeck::control::{Core, ImportRequest, Role};
    use modeldeck::registry::{Addressing, S3Options, Source};

    let dd = DataDir::new();
    let endpoint = start_s3(&bucket_root(&dd), "s3.test").await;
    let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
    let opts = S3Options {
        endpoint: Some(format!("http://s3.test:{port}")),
        addressing: Some(Addressing::Virtual),
        region: Some("us-east-1".into()),
        ..S3Options::default()
    };
    let env = |k: &str| match k {
        "AWS_ACCESS_KEY_ID" => Some(ACCESS_KEY.to_string()),
        "AWS_SECRET_ACCESS_KEY" => Some(SECRET_KEY.to_string()),
        _ => None,
    };
    let source = Source::parse("s3://models/iris/v1.pmml", &opts, &env).unwrap();
    let data_dir = modeldeck::config::DataDir::open(Some(&dd.path)).unwrap();
    let mut core = Core::open(data_dir, Role::Server).unwrap();
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    core.set_http_client(
        reqwest::Client::builder()
            .resolve("models.s3.test", loopback)
            .build()
            .unwrap(),
    );
    let request = ImportRequest {
        source,
        name: "iris".into(),
        kind: None,
        description: String::new(),
        label: None,
        progress: None,
    };
    let v = core.import_model("test", request).await.unwrap();
    assert_eq!(v.kind, modeldeck::domain::ModelKind::Pmml);
    assert_eq!(v.source, "s3://models/iris/v1.pmml");
}

//! `models import` from local files and folders, the repository commands around it, and every
//! bad local input.

use std::os::unix::fs::PermissionsExt;

use crate::common::{DataDir, assert_refused, copy_dir, repo_path, sha256_hex, stderr};

fn iris() -> String {
    repo_path("assets/iris/iris.pmml").display().to_string()
}

#[tokio::test]
async fn versions_increment_and_identical_content_is_stored_once() {
    let dd = DataDir::new();
    let v1 = dd.import(&iris(), "iris").await;
    let expected_sha = sha256_hex(&std::fs::read(iris()).unwrap());
    assert_eq!(v1["name"], "iris");
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["type"], "pmml");
    assert_eq!(v1["sha256"], expected_sha.as_str());
    assert_eq!(v1["size"], std::fs::metadata(iris()).unwrap().len());

    let v2 = dd.import(&iris(), "iris").await;
    assert_eq!(v2["version"], 2);
    let stored: Vec<_> = std::fs::read_dir(dd.path.join("artifacts"))
        .unwrap()
        .collect();
    assert_eq!(stored.len(), 1, "identical content must be stored once");
    let artifact = dd
        .path
        .join("artifacts")
        .join(&expected_sha)
        .join("model.pmml");
    assert_eq!(
        std::fs::read(&artifact).unwrap(),
        std::fs::read(iris()).unwrap()
    );

    let diabetes = repo_path("assets/diabetes/diabetes.pmml")
        .display()
        .to_string();
    dd.ok(&[
        "models",
        "import",
        &diabetes,
        "--name",
        "diabetes",
        "--description",
        "progression",
    ])
    .await;
    let list = dd.json(&["models", "list", "--json"]).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["diabetes", "iris"]);
    assert_eq!(list[0]["description"], "progression");
    assert_eq!(list[1]["latest_version"], 2);
    assert_eq!(list[1]["versions"], 2);

    let table = dd.ok(&["models", "list"]).await;
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("iris") && l.contains("pmml")),
        "{table}"
    );

    // Removing one version keeps the shared artifact; removing the last one deletes it.
    dd.ok(&["models", "rm", "iris:1"]).await;
    assert!(artifact.exists());
    let shown = dd.json(&["models", "show", "iris", "--json"]).await;
    assert_eq!(shown["versions"].as_array().unwrap().len(), 1);
    assert_eq!(shown["versions"][0]["version"], 2);
    // Numbers are not reused while the model lives.
    let v3 = dd.import(&iris(), "iris").await;
    assert_eq!(v3["version"], 3);
    let removed = dd.json(&["models", "rm", "iris", "--json"]).await;
    assert_eq!(removed["removed"].as_array().unwrap().len(), 2);
    assert!(!artifact.exists(), "unreferenced artifact left behind");
    let out = dd.run(&["models", "show", "iris"]).await;
    assert!(
        stderr(&out).contains("no model named \"iris\""),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn data_directory_is_private() {
    let dd = DataDir::new();
    dd.ok(&["models", "import", &iris(), "--name", "iris"])
        .await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dd.path), 0o700);
    assert_eq!(mode(&dd.path.join("modeldeck.db")), 0o600);
    assert_eq!(mode(&dd.path.join("lock")), 0o600);
}

#[tokio::test]
async fn folders_onnx_and_upstream_files_are_detected() {
    let dd = DataDir::new();
    // An Angel Serving base path: the highest numbered version folder is taken.
    let lr = repo_path("tests/fixtures/angel/lr").display().to_string();
    let v = dd.import(&lr, "angel-lr").await;
    assert_eq!(v["type"], "angel");
    let shown = dd.json(&["models", "show", "angel-lr", "--json"]).await;
    let artifact = shown["versions"][0]["artifact"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        dd.path.join(&artifact).join("graph.json").exists(),
        "{artifact}"
    );
    assert!(
        shown["versions"][0]["source"]
            .as_str()
            .unwrap()
            .contains("version 6")
    );
    // A bare version folder.
    let bare = repo_path("tests/fixtures/angel/mlcore-test-lr")
        .display()
        .to_string();
    assert_eq!(dd.import(&bare, "angel-bare").await["type"], "angel");

    let onnx = dd.scratch.join("identity.bin");
    std::fs::write(
        &onnx,
        modeldeck::registry::formats::onnx::testing::identity_model(),
    )
    .unwrap();
    let v = dd.import(onnx.to_str().unwrap(), "identity").await;
    assert_eq!(v["type"], "onnx");

    let upstream = dd.scratch.join("resnet.toml");
    std::fs::write(
        &upstream,
        "protocol = \"tfserving\"\nurl = \"http://tfs.internal:8501\"\nmodel = \"resnet\"\n",
    )
    .unwrap();
    let v = dd.import(upstream.to_str().unwrap(), "resnet").await;
    assert_eq!(v["type"], "upstream");
    let json_upstream = dd.scratch.join("triton.json");
    std::fs::write(
        &json_upstream,
        r#"{"protocol":"kserve-v2","url":"https://triton:8000","model":"m"}"#,
    )
    .unwrap();
    let v = dd.import(json_upstream.to_str().unwrap(), "triton").await;
    assert_eq!(v["type"], "upstream");
}

#[tokio::test]
async fn bad_local_inputs_are_refused_and_register_nothing() {
    let dd = DataDir::new();
    dd.ok(&["models", "import", &iris(), "--name", "iris"])
        .await;
    let s = |p: &std::path::Path| p.display().to_string();
    let pmml = std::fs::read(iris()).unwrap();
    let none: &[(&str, &str)] = &[];

    let empty = dd.scratch.join("empty.pmml");
    std::fs::write(&empty, b"").unwrap();
    assert_refused(
        &dd,
        &["models", "import", &s(&empty), "--name", "x"],
        none,
        &["is empty"],
    )
    .await;

    let cut = dd.scratch.join("cut.pmml");
    std::fs::write(&cut, &pmml[..pmml.len() / 2]).unwrap();
    assert_refused(
        &dd,
        &["models", "import", &s(&cut), "--name", "iris"],
        none,
        &["not a valid pmml model", "malformed"],
    )
    .await;

    let onnx = modeldeck::registry::formats::onnx::testing::identity_model();
    let cut_onnx = dd.scratch.join("cut.onnx");
    std::fs::write(&cut_onnx, &onnx[..onnx.len() - 3]).unwrap();
    assert_refused(
        &dd,
        &["models", "import", &s(&cut_onnx), "--name", "x"],
        none,
        &["not a valid onnx model", "truncated"],
    )
    .await;

    assert_refused(
        &dd,
        &["models", "import", &iris(), "--name", "x", "--type", "onnx"],
        none,
        &["not a valid onnx model", "looks like pmml"],
    )
    .await;
    assert_refused(
        &dd,
        &[
            "models",
            "import",
            &iris(),
            "--name",
            "x",
            "--type",
            "angel",
        ],
        none,
        &["not a valid angel model", "folder"],
    )
    .await;

    let html = dd.scratch.join("page.xml");
    std::fs::write(&html, "<html><body>not a model</body></html>").unwrap();
    assert_refused(
        &dd,
        &["models", "import", &s(&html), "--name", "x"],
        none,
        &["<html>, not <PMML>"],
    )
    .await;

    let text = dd.scratch.join("notes.txt");
    std::fs::write(&text, "just some notes\n").unwrap();
    assert_refused(
        &dd,
        &["models", "import", &s(&text), "--name", "x"],
        none,
        &["not a model modeldeck knows"],
    )
    .await;
    let noise = dd.scratch.join("noise.bin");
    std::fs::write(
        &noise,
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert_refused(
        &dd,
        &["models", "import", &s(&noise), "--name", "x"],
        none,
        &["not a model modeldeck knows"],
    )
    .await;

    for bad in ["Iris", "../etc", "a b", "-x", "", &"a".repeat(64)] {
        let name = format!("--name={bad}");
        assert_refused(
            &dd,
            &["models", "import", &iris(), &name],
            none,
            &["illegal model name"],
        )
        .await;
    }
    assert_refused(
        &dd,
        &["models", "import", "/no/such/model.pmml", "--name", "x"],
        none,
        &["no such file or folder"],
    )
    .await;

    let bad_upstream = dd.scratch.join("bad.toml");
    std::fs::write(
        &bad_upstream,
        "protocol = \"grpc\"\nurl = \"http://x:1\"\nmodel = \"m\"\n",
    )
    .unwrap();
    assert_refused(
        &dd,
        &["models", "import", &s(&bad_upstream), "--name", "x"],
        none,
        &["not a valid upstream model", "grpc"],
    )
    .await;

    // Folders: a link that could escape, a broken SavedModel, something that is not a model at all,
    // and an Angel model with a missing partition file.
    let linked = dd.scratch.join("linked");
    copy_dir(&repo_path("tests/fixtures/angel/mlcore-test-lr"), &linked);
    std::os::unix::fs::symlink("/etc/passwd", linked.join("input_bias/extra")).unwrap();
    assert_refused(
        &dd,
        &["models", "import", &s(&linked), "--name", "x"],
        none,
        &["symbolic link", "input_bias/extra"],
    )
    .await;

    let saved = dd.scratch.join("resnet/1");
    std::fs::create_dir_all(saved.join("variables")).unwrap();
    // Not a SavedModel protobuf: refused by what is wrong, not as an unknown folder.
    std::fs::write(saved.join("saved_model.pb"), b"\xff\xff").unwrap();
    assert_refused(
        &dd,
        &[
            "models",
            "import",
            &s(&dd.scratch.join("resnet")),
            "--name",
            "resnet",
        ],
        none,
        &[
            "not a valid savedmodel model",
            "saved_model.pb: the protobuf is",
        ],
    )
    .await;
    // The same folder as a PMML is refused as a folder.
    assert_refused(
        &dd,
        &[
            "models",
            "import",
            &s(&dd.scratch.join("resnet")),
            "--name",
            "resnet",
            "--type",
            "pmml",
        ],
        none,
        &["only Angel models and TensorFlow SavedModels are folders"],
    )
    .await;

    let plain = dd.scratch.join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::write(plain.join("README"), b"hello").unwrap();
    assert_refused(
        &dd,
        &["models", "import", &s(&plain), "--name", "x"],
        none,
        &["not a model modeldeck knows"],
    )
    .await;

    let broken = dd.scratch.join("broken-angel");
    copy_dir(&repo_path("tests/fixtures/angel/mlcore-test-lr"), &broken);
    std::fs::remove_file(broken.join("input_weight/0")).unwrap();
    assert_refused(
        &dd,
        &["models", "import", &s(&broken), "--name", "x"],
        none,
        &["not a valid angel model", "partition file \"0\" is missing"],
    )
    .await;

    // Bad references to remove.
    assert_refused(
        &dd,
        &["models", "rm", "iris:9"],
        none,
        &["has no version 9"],
    )
    .await;
    assert_refused(&dd, &["models", "rm", "iris:zero"], none, &["bad version"]).await;
}

#[tokio::test]
async fn size_limit_applies_to_files_and_folders() {
    let dd = DataDir::new();
    dd.configure("[import]\nmax_bytes = 1000\n");
    dd.ok(&["models", "list"]).await;
    let lr = repo_path("tests/fixtures/angel/lr").display().to_string();
    for src in [iris(), lr] {
        assert_refused(
            &dd,
            &["models", "import", &src, "--name", "x"],
            &[],
            &[
                "larger than the import limit of 1000 bytes",
                "import.max_bytes",
            ],
        )
        .await;
    }
}

#[tokio::test]
async fn json_errors_carry_a_stable_code() {
    let dd = DataDir::new();
    let out = dd
        .run(&["models", "import", &iris(), "--name", "Bad", "--json"])
        .await;
    assert!(!out.status.success());
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "invalid_name");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"Bad\"")
    );
}

/// What a crash between "artifact written" and "row committed" leaves behind is cleared the
/// next time the directory is opened; referenced artifacts are kept.
#[tokio::test]
async fn leftovers_of_an_interrupted_import_are_swept() {
    let dd = DataDir::new();
    let v = dd.import(&iris(), "iris").await;
    let orphan = dd.path.join("artifacts").join("ab".repeat(32));
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("model.pmml"), b"half an import").unwrap();
    let stale = dd.path.join("tmp/import-1-2-3/incoming");
    std::fs::create_dir_all(&stale).unwrap();
    dd.ok(&["models", "list"]).await;
    assert!(!orphan.exists(), "orphan artifact kept");
    assert!(!stale.exists(), "stale staging folder kept");
    let kept = dd
        .path
        .join("artifacts")
        .join(v["sha256"].as_str().unwrap());
    assert!(kept.join("model.pmml").exists());
}

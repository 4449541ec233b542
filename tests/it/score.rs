//! `modeldeck score`: offline scoring of CSV and JSON-lines files through the real binary.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{BIN, repo_path};

fn score(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("score")
        .args(args)
        .output()
        .expect("run modeldeck score")
}

/// `score --model <repo asset> --input IN --output OUT [extra…]`.
fn score_file(model: &str, input: &Path, output: &Path, extra: &[&str]) -> std::process::Output {
    let model = repo_path(model);
    let mut args = vec![
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    score(&args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn csv_in_csv_out_keeps_order_on_all_cores() {
    let dir = tempfile::tempdir().unwrap();
    // 30,000 rows: enough for many chunks on several threads.
    let data = std::fs::read_to_string(repo_path("assets/diabetes/diabetes.csv")).unwrap();
    let mut lines = data.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let input = dir.path().join("big.csv");
    let mut f = std::fs::File::create(&input).unwrap();
    writeln!(f, "{header}").unwrap();
    for i in 0..30_000 {
        writeln!(f, "{}", rows[i % rows.len()]).unwrap();
    }
    drop(f);
    let (one, many) = (dir.path().join("one.csv"), dir.path().join("many.csv"));
    for (out, threads) in [(&one, "1"), (&many, "2")] {
        let o = score_file(
            "assets/diabetes/diabetes.pmml",
            &input,
            out,
            &["--threads", threads],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains("scored 30000 records"),
            "{}",
            text(&o.stderr)
        );
    }
    let a = std::fs::read_to_string(&one).unwrap();
    assert_eq!(
        a,
        std::fs::read_to_string(&many).unwrap(),
        "parallel output differs"
    );
    let out: Vec<&str> = a.lines().collect();
    assert_eq!(out[0], "progression,_error");
    assert_eq!(out.len(), 30_001);
    // Row i of the output is the prediction for row i of the input.
    assert_eq!(out[1], out[1 + rows.len()]);
    assert_ne!(out[1], out[2]);
}

#[test]
fn a_missing_column_fails_the_file_before_writing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "sepal_width,petal_length,colour\n3.5,1.4,red\n").unwrap();
    let out = dir.path().join("out.csv");
    let o = score_file("assets/iris/iris.pmml", &input, &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("no column for \"petal_width\""),
        "{}",
        text(&o.stderr)
    );
    assert!(
        !out.exists(),
        "output written for a file that cannot be scored"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "temporary output left behind"
    );
}

#[test]
fn bad_records_get_an_error_column_and_exit_code_3() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(
        &input,
        "petal_width,extra,petal_length,sepal_width\n0.2,x,1.4,3.5\nwide,x,1.4,3.5\n2.3,x,5.1,\n,x,,\n",
    )
    .unwrap();
    let out = dir.path().join("out.csv");
    let o = score_file("assets/iris/iris.pmml", &input, &out, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("4 records; 1 failed"),
        "{}",
        text(&o.stderr)
    );
    let result = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = result.lines().collect();
    assert_eq!(
        lines[0],
        "species,probability(setosa),probability(versicolor),probability(virginica),_error"
    );
    assert_eq!(lines[1], "setosa,1.0,0.0,0.0,");
    assert!(
        lines[2].starts_with(",,,,") && lines[2].contains("expects a number"),
        "{}",
        lines[2]
    );
    // Missing values follow the model's rules: sepal_width is not used on this path; a row of
    // nothing gets no prediction (nullPrediction), which is not an error.
    assert!(lines[3].starts_with("virginica,"), "{}", lines[3]);
    assert_eq!(lines[4], ",,,,");
}

#[test]
fn json_lines_in_and_out_through_stdin_and_stdout() {
    let mut child = Command::new(BIN)
        .args([
            "score",
            "--model",
            repo_path("assets/iris/iris.pmml").to_str().unwrap(),
            "--input",
            "-",
            "--output",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"petal_width,petal_length,sepal_width\n1.8,4.8,3.0\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout).lines().nth(1),
        Some("virginica,0.0,0.0,1.0,")
    );

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"petal_width\": 0.2, \"petal_length\": 1.4, \"sepal_width\": 3.5}\n\n{\"petal_width\": null, \"petal_length\": 1, \"sepal_width\": 3}\n{\"petal_length\": 1.4}\nnot json\n",
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    let o = score_file("assets/iris/iris.pmml", &input, &out, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["species"], "setosa");
    assert_eq!(lines[0]["probability(setosa)"], 1.0);
    assert_eq!(lines[1]["species"], serde_json::Value::Null);
    let missing = lines[2]["_error"].as_str().unwrap();
    assert!(
        missing.contains("line 4: no field \"sepal_width\", \"petal_width\""),
        "{missing}"
    );
    assert!(
        lines[3]["_error"]
            .as_str()
            .unwrap()
            .contains("line 5: not JSON")
    );
}

#[test]
fn a_model_that_does_not_load_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.pmml");
    std::fs::write(&model, "<PMML version=\"4.4\"><DataDictionary/>").unwrap();
    let o = score(&[
        "--model",
        model.to_str().unwrap(),
        "--input",
        "-",
        "--output",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("m.pmml: the XML is malformed"),
        "{err}"
    );
}

#[test]
fn folders_and_absurd_thread_counts_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let input = repo_path("assets/iris/iris.csv");
    // The model's folder instead of the model.
    let o = score_file("assets/iris", &input, &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("is a folder: pass the PMML file itself"),
        "{err}"
    );
    assert!(!err.contains("line 0"), "{err}");
    // A billion threads: refused with the range, not an aborted allocation.
    let o = score_file(
        "assets/iris/iris.pmml",
        &input,
        &out,
        &["--threads", "1000000000"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("from 1 to 256"),
        "{}",
        text(&o.stderr)
    );
    // An input folder.
    let o = score_file(
        "assets/iris/iris.pmml",
        &repo_path("assets/iris"),
        &out,
        &[],
    );
    assert!(
        text(&o.stderr).contains("is a folder"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.exists(), "nothing written");
}

#[test]
fn outputs_that_would_destroy_or_litter_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::copy(repo_path("assets/iris/iris.csv"), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    // The input as its own output.
    let o = score_file("assets/iris/iris.pmml", &input, &input, &[]);
    assert!(
        text(&o.stderr).contains("is also the input"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        std::fs::read(&input).unwrap(),
        before,
        "the input is intact"
    );
    // A folder as the output: refused, and no temporary file left behind.
    let o = score_file("assets/iris/iris.pmml", &input, dir.path(), &[]);
    assert!(
        text(&o.stderr).contains("is a folder"),
        "{}",
        text(&o.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");
    // A model that is not a regular file is not read whole.
    let o = score(&[
        "--model",
        "/dev/zero",
        "--input",
        "x.csv",
        "--output",
        "y.csv",
    ]);
    assert!(
        text(&o.stderr).contains("not a regular file"),
        "{}",
        text(&o.stderr)
    );
}

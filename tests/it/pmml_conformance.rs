//! The PMML conformance corpus (`tests/fixtures/pmml/`, made by `make_corpus.py`): every case
//! is scored through `modeldeck score`'s code and compared with what JPMML-Evaluator answered
//! for the same rows — labels exactly, numbers within the case's relative tolerance, and
//! records JPMML refused must be refused too.

use std::collections::HashMap;
use std::path::Path;

use modeldeck::batch::{ScoreOptions, score_file};
use modeldeck::runtime::pmml::PmmlModel;

use crate::common::repo_path;

#[derive(serde::Deserialize)]
struct Case {
    case: String,
    tolerance: f64,
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// Scoring records one at a time must give exactly what scoring them as a batch gives (the
/// batch path evaluates tree ensembles tree by tree, the single path record by record).
fn single_matches_batch(case: &str, model: &PmmlModel, input: &Path) -> Vec<String> {
    use modeldeck::runtime::{Predictor, Value};
    let (header, rows) = read_csv(input);
    let records: Vec<Vec<Value>> = rows
        .iter()
        .map(|row| {
            model
                .signature()
                .inputs
                .iter()
                .map(|f| {
                    let i = header
                        .iter()
                        .position(|h| *h == f.name)
                        .expect("input column");
                    if row[i].is_empty() {
                        Value::Missing
                    } else {
                        Value::String(row[i].as_str().into())
                    }
                })
                .collect()
        })
        .collect();
    let batch = model.predict(&records);
    records
        .iter()
        .zip(&batch)
        .enumerate()
        .filter_map(|(r, (record, b))| {
            let single = model.predict(std::slice::from_ref(record)).remove(0);
            (single != *b).then(|| format!("{case} row {r}: single {single:?} but batch {b:?}"))
        })
        .take(3)
        .collect()
}

fn same(expected: &str, got: &str, tolerance: f64) -> bool {
    if expected == got {
        return true;
    }
    match (expected.parse::<f64>(), got.parse::<f64>()) {
        // Tolerance 0 means the very same double (JPMML's order of operations reproduced).
        (Ok(e), Ok(g)) if tolerance == 0.0 => e.to_bits() == g.to_bits(),
        (Ok(e), Ok(g)) => {
            let scale = e.abs().max(g.abs());
            (e - g).abs() <= tolerance * scale.max(1e-300) || (e - g).abs() < 1e-15
        }
        _ => false,
    }
}

/// Compares one case; returns the mismatches (at most a few per case).
fn check(case: &Case) -> Vec<String> {
    let dir = repo_path("tests/fixtures/pmml").join(&case.case);
    let model = match PmmlModel::load(&dir.join("model.pmml")) {
        Ok(m) => m,
        Err(e) => return vec![format!("{}: does not load: {e}", case.case)],
    };
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("out.csv");
    let options = ScoreOptions { threads: None };
    if let Err(e) = score_file(
        &model,
        dir.join("input.csv").to_str().unwrap(),
        out.to_str().unwrap(),
        &options,
    ) {
        return vec![format!("{}: scoring failed: {e}", case.case)];
    }
    let mut problems = single_matches_batch(&case.case, &model, &dir.join("input.csv"));
    let (exp_header, exp_rows) = read_csv(&dir.join("expected.csv"));
    let (got_header, got_rows) = read_csv(&out);
    let got_col: HashMap<&str, usize> = got_header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    if exp_rows.len() != got_rows.len() {
        return vec![format!(
            "{}: {} rows expected, {} scored",
            case.case,
            exp_rows.len(),
            got_rows.len()
        )];
    }
    // JPMML's result also names fields of a chain's earlier segments (and one nameless entry),
    // which it never fills in; modeldeck reports only the final segment's outputs.
    let reported = |c: usize| {
        !exp_header[c].is_empty()
            && (got_col.contains_key(exp_header[c].as_str())
                || exp_rows.iter().any(|row| !row[c].is_empty()))
    };
    for (r, (exp, got)) in exp_rows.iter().zip(&got_rows).enumerate() {
        let got_error = &got[got_col["_error"]];
        // JPMML reads inputs lazily: an invalid value that an earlier missing one kept it from
        // reading goes unnoticed and the answer is empty. modeldeck checks every input first
        // (returnInvalid makes the record invalid), so it refuses such a record.
        let jpmml_lazy = got_error.contains("outside the declared values")
            && exp
                .iter()
                .enumerate()
                .all(|(c, v)| exp_header[c] == "_error" || v.is_empty());
        if jpmml_lazy {
            continue;
        }
        for (c, name) in exp_header.iter().enumerate() {
            if !reported(c) {
                continue;
            }
            if name == "_error" {
                let expect_error = exp[c] == "1";
                let refused = !got_error.is_empty();
                if expect_error != refused {
                    problems.push(format!(
                        "{} row {r}: JPMML {} but modeldeck {}",
                        case.case,
                        if expect_error {
                            "refused it"
                        } else {
                            "scored it"
                        },
                        if got_error.is_empty() {
                            "scored it".to_string()
                        } else {
                            format!("refused it ({got_error})")
                        }
                    ));
                }
                continue;
            }
            if exp.last().map(String::as_str) == Some("1") {
                continue;
            }
            let Some(&gc) = got_col.get(name.as_str()) else {
                problems.push(format!(
                    "{}: no output column {name:?} (have {got_header:?})",
                    case.case
                ));
                return problems;
            };
            if !same(&exp[c], &got[gc], case.tolerance) {
                problems.push(format!(
                    "{} row {r} {name}: expected {:?}, got {:?}",
                    case.case, exp[c], got[gc]
                ));
            }
        }
        if problems.len() > 3 {
            break;
        }
    }
    problems
}

#[test]
fn every_case_matches_jpmml() {
    let manifest = std::fs::read_to_string(repo_path("tests/fixtures/pmml/cases.json")).unwrap();
    let cases: Vec<Case> = serde_json::from_str(&manifest).unwrap();
    assert!(
        cases.len() >= 40,
        "the corpus is incomplete: {} cases",
        cases.len()
    );
    let problems: Vec<String> = cases.iter().flat_map(check).collect();
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

//! Every reference model reproduces its `expected.json`: the response strings' numbers (pred
//! within 1e-5, proba within 1e-6), the label, and every layer's output.

use serde_json::Value;

use super::*;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/angel")
        .join(rel)
}

fn instance(j: &Value) -> Instance {
    match j {
        Value::Array(a) => Instance::Dense(a.iter().map(|v| v.as_f64().unwrap() as f32).collect()),
        Value::Object(o) if o.contains_key("sparseIndices") => {
            let idx = o["sparseIndices"].as_array().unwrap();
            let val = o["sparseValues"].as_array().unwrap();
            Instance::sparse(
                idx.iter()
                    .zip(val)
                    .map(|(i, v)| (i.as_u64().unwrap() as usize, v.as_f64().unwrap() as f32)),
            )
        }
        Value::Object(o) => instance(o.values().find(|v| v.is_array()).unwrap()),
        other => panic!("not an instance: {other}"),
    }
}

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Number(n) => vec![n.as_f64().unwrap()],
        Value::Array(a) => a.iter().flat_map(flat).collect(),
        Value::Object(o) => flat(&o["values"]),
        other => panic!("{other}"),
    }
}

fn check(model_dir: &str, expected: &str) {
    let model = AngelModel::load(&fixture(model_dir)).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(fixture(expected)).unwrap();
    let expected: Value = serde_json::from_str(&text).unwrap();
    for case in expected["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let x = instance(&case["request"]["instances"][0]);
        let got = model.predict(&x).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = &case["expected_response"]["predictions"][0];
        let number = |k: &str| want[k].as_str().unwrap().parse::<f64>().unwrap();
        assert!(
            (got.pred - number("pred")).abs() < 1e-5,
            "{name}: pred {} vs {}",
            got.pred,
            number("pred")
        );
        assert!(
            (got.proba - number("proba")).abs() < 1e-6,
            "{name}: proba {}",
            got.proba
        );
        assert_eq!(got.label, number("predLabel"), "{name}");
        for (layer, values) in case["layer_outputs_float32"].as_object().unwrap() {
            let ours = got
                .layers
                .iter()
                .find(|(n, _)| n == layer)
                .unwrap_or_else(|| panic!("{name}: no layer {layer}"))
                .1
                .flat();
            let theirs = flat(values);
            assert_eq!(ours.len(), theirs.len(), "{name}: {layer}");
            for (a, b) in ours.iter().zip(&theirs) {
                assert!(
                    (f64::from(*a) - b).abs() <= 1e-6 * b.abs().max(1e-3),
                    "{name}: {layer}: {a} vs {b}"
                );
            }
        }
    }
}

#[test]
fn lr_reproduces_the_upstream_documented_response_and_the_rest() {
    check("lr/lr-model", "lr/expected.json");
    // The README's answer, exactly as Angel prints it.
    let model = AngelModel::load(&fixture("lr/lr-model")).unwrap();
    let text = std::fs::read_to_string(fixture("lr/expected.json")).unwrap();
    let expected: Value = serde_json::from_str(&text).unwrap();
    let x = instance(&expected["cases"][0]["request"]["instances"][0]);
    let p = model.predict(&x).unwrap();
    assert_eq!(p.pred.to_string(), "-3.671025514602661");
    assert_eq!(p.proba.to_string(), "0.024818711775534966");
}

#[test]
fn mlcore_lr_without_a_version_folder() {
    check("mlcore-test-lr", "mlcore-test-lr/expected.json");
}

#[test]
fn deepfm_exports_reproduce_every_layer() {
    check("deepFM/deepFM-model", "deepFM/expected.json");
    check(
        "deepFM-spark-serving/deepFM-model",
        "deepFM-spark-serving/expected.json",
    );
}

#[test]
fn bad_instances_and_graphs_say_what_is_wrong() {
    let model = AngelModel::load(&fixture("deepFM/deepFM-model")).unwrap();
    let e = model.predict(&Instance::sparse([(148, 1.0)])).unwrap_err();
    assert!(e.contains("out of range"), "{e}");
    let e = model.predict(&Instance::Dense(vec![0.0; 3])).unwrap_err();
    assert!(e.contains("148"), "{e}");
    let e = model
        .predict(&Instance::sparse([(3, 1.0), (4, 1.0)]))
        .unwrap_err();
    assert!(
        e.contains("takes exactly 13 features per instance") && e.contains("has 2"),
        "{e}"
    );
    // A layer type Angel's examples do not use is refused by name.
    let dir = tempfile::tempdir().unwrap();
    let g = std::fs::read_to_string(fixture("mlcore-test-lr/graph.json")).unwrap();
    std::fs::write(
        dir.path().join("graph.json"),
        g.replacen("simpleinputlayer", "DropoutLayer", 1),
    )
    .unwrap();
    let e = AngelModel::load(dir.path()).unwrap_err();
    assert!(e.contains("dropoutlayer layer"), "{e}");
}

/// The batch path (FC layers as matrix products) answers bit for bit what one instance at a
/// time does, for every case of every model in one batch, with a failing instance in the
/// middle failing alone.
#[test]
fn a_batch_answers_what_each_instance_does() {
    for (model, cases) in [
        ("lr/lr-model", "lr/expected.json"),
        ("deepFM/deepFM-model", "deepFM/expected.json"),
        (
            "deepFM-spark-serving/deepFM-model",
            "deepFM-spark-serving/expected.json",
        ),
    ] {
        let model = AngelModel::load(&fixture(model)).unwrap();
        let text = std::fs::read_to_string(fixture(cases)).unwrap();
        let expected: Value = serde_json::from_str(&text).unwrap();
        let mut xs: Vec<Instance> = expected["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| instance(&c["request"]["instances"][0]))
            .collect();
        xs.insert(1, Instance::sparse([(3, 1.0), (4, 1.0), (5, 1.0)]));
        let batch = model.predict_batch(&xs);
        for (x, got) in xs.iter().zip(&batch) {
            match model.predict(x) {
                Ok(one) => assert_eq!(got.as_ref().unwrap().to_bits(), one.pred.to_bits()),
                Err(e) => assert_eq!(got.as_ref().unwrap_err(), &e),
            }
        }
    }
}

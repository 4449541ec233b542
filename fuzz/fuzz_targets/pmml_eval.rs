//! Records of any shape scored through real models give answers or record errors, never a
//! panic: the models are the sample assets and a few corpus cases with transformations,
//! segmentation and missing-value strategies; the fuzzer picks the model and the values.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use modeldeck::runtime::pmml::PmmlModel;
use modeldeck::runtime::{Predictor, Value};

const MODELS: &[&str] = &[
    include_str!("../../assets/iris/iris.pmml"),
    include_str!("../../assets/diabetes/diabetes.pmml"),
    include_str!("../../tests/fixtures/pmml/hw_transformations/model.pmml"),
    include_str!("../../tests/fixtures/pmml/hw_treatments/model.pmml"),
    include_str!("../../tests/fixtures/pmml/hw_class_median/model.pmml"),
    include_str!("../../tests/fixtures/pmml/hw_chain_regression/model.pmml"),
    include_str!("../../tests/fixtures/pmml/sk_gbm_classifier_iris/model.pmml"),
    include_str!("../../tests/fixtures/pmml/sk_mlp_classifier_iris/model.pmml"),
];

fn models() -> &'static Vec<PmmlModel> {
    static CELL: OnceLock<Vec<PmmlModel>> = OnceLock::new();
    CELL.get_or_init(|| MODELS.iter().map(|m| PmmlModel::parse(m).expect("corpus model")).collect())
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let model = &models()[pick as usize % MODELS.len()];
    let width = model.signature().inputs.len().max(1);
    let values: Vec<Value> = rest
        .chunks(9)
        .map(|c| match c.first().copied().unwrap_or(0) % 5 {
            0 => Value::Missing,
            1 => Value::Number(f64::from_le_bytes(c.get(1..9).and_then(|b| b.try_into().ok()).unwrap_or([0; 8]))),
            2 => Value::String(String::from_utf8_lossy(&c[1..]).into()),
            3 => Value::Boolean(c.len() % 2 == 0),
            _ => Value::Integer(i64::from(c.len() as u8)),
        })
        .collect();
    let rows: Vec<Vec<Value>> = values.chunks(width).map(|r| r.to_vec()).collect();
    let _ = model.predict(&rows);
});

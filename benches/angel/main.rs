//! Angel DeepFM, natively: single-instance latency (median of timed runs) and batch throughput
//! for the census DeepFM export, on the sparse 13-field instances of its expected.json.
//!
//! `cargo bench --bench angel` (release profile). Figures go to BENCHMARKS.md.

use std::path::Path;
use std::time::Instant;

use modeldeck::runtime::angel::{AngelModel, Instance};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/angel/deepFM");
    let model = AngelModel::load(&root.join("deepFM-model")).expect("the DeepFM export loads");
    let text = std::fs::read_to_string(root.join("expected.json")).expect("expected.json");
    let expected: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let instances: Vec<Instance> = expected["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let i = &c["request"]["instances"][0];
            let idx = i["sparseIndices"].as_array().expect("sparse");
            let val = i["sparseValues"].as_array().expect("sparse");
            Instance::sparse(idx.iter().zip(val).map(|(i, v)| {
                (
                    i.as_u64().expect("index") as usize,
                    v.as_f64().expect("value") as f32,
                )
            }))
        })
        .collect();
    // Single instance: the median of 2,000 timed calls after a warm-up.
    for x in &instances {
        model.predict(x).expect("predicts");
    }
    let mut times: Vec<f64> = (0..2_000)
        .map(|k| {
            let x = &instances[k % instances.len()];
            let t = Instant::now();
            std::hint::black_box(model.predict(std::hint::black_box(x)).expect("predicts"));
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "deepFM single instance: median {:.2} µs, p90 {:.2} µs",
        times[times.len() / 2],
        times[times.len() * 9 / 10]
    );
    // Throughput: 100,000 instances, one thread.
    let t = Instant::now();
    for k in 0..100_000 {
        std::hint::black_box(
            model
                .predict(&instances[k % instances.len()])
                .expect("predicts"),
        );
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "deepFM throughput: {:.0} instances/s on one thread, instance by instance",
        100_000.0 / secs
    );
    // The same 100,000 in batches of 100, as a request of 100 instances is evaluated: the FC
    // layers as matrix products.
    let batch: Vec<Instance> = (0..100)
        .map(|k| instances[k % instances.len()].clone())
        .collect();
    let t = Instant::now();
    for _ in 0..1_000 {
        std::hint::black_box(model.predict_batch(std::hint::black_box(&batch)));
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "deepFM throughput: {:.0} instances/s on one thread, in batches of 100",
        100_000.0 / secs
    );
}

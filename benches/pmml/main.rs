//! PMML runtime benchmark: rows per CPU-second (one thread, median of five passes over
//! 100,000 rows), single-record latency and load
//! time, for the models `make_models.py` writes to `target/bench-pmml/`.
//!
//!     cargo bench --bench pmml [forest|gbm|pipeline]
//!
//! `PASSES=N` makes more timed passes (for a profiler to sample).
//!
//! CPU time comes from the thread's own clock, so other load on the machine does not inflate
//! it; BENCHMARKS.md has the peers (JPMML-Evaluator, onnxruntime) measured in the same run.

use std::path::Path;
use std::time::Instant;

use modeldeck::runtime::pmml::PmmlModel;
use modeldeck::runtime::{Predictor, Value};

fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn rows(model: &PmmlModel, csv: &Path) -> Vec<Vec<Value>> {
    let mut reader =
        csv::Reader::from_path(csv).expect("bench data: run benches/pmml/make_models.py");
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let columns: Vec<usize> = model
        .signature()
        .inputs
        .iter()
        .map(|f| header.iter().position(|h| *h == f.name).expect("column"))
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            columns
                .iter()
                .map(|&c| match r[c].parse::<f64>() {
                    Ok(n) => Value::Number(n),
                    Err(_) => Value::String(r[c].into()),
                })
                .collect()
        })
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-pmml");
    let only = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    for (name, csv) in [
        ("forest", "cancer.csv"),
        ("gbm", "cancer.csv"),
        ("pipeline", "pipeline.csv"),
    ] {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let path = dir.join(format!("{name}.pmml"));
        let text =
            std::fs::read_to_string(&path).expect("bench model: run benches/pmml/make_models.py");
        let loads: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                PmmlModel::parse(&text).expect("model loads");
                t.elapsed().as_secs_f64()
            })
            .collect();
        let model = PmmlModel::parse(&text).unwrap();
        let data = rows(&model, &dir.join(csv));
        // Warm up, then one full pass in batches of 1,000 rows.
        for chunk in data.chunks(1000).take(5) {
            std::hint::black_box(model.predict(chunk));
        }
        // Five full passes; the median pass is reported.
        let count: usize = std::env::var("PASSES")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(5);
        let passes: Vec<f64> = (0..count)
            .map(|_| {
                let start = thread_cpu_seconds();
                for chunk in data.chunks(1000) {
                    std::hint::black_box(model.predict(chunk));
                }
                thread_cpu_seconds() - start
            })
            .collect();
        let cpu = median(passes);
        let single: Vec<f64> = data
            .iter()
            .take(20_000)
            .map(|row| {
                let t = Instant::now();
                std::hint::black_box(model.predict(std::slice::from_ref(row)));
                t.elapsed().as_secs_f64()
            })
            .collect();
        println!(
            "{name}: {:.0} rows/CPU-s; single-row median {:.2} us; load median {:.1} ms",
            data.len() as f64 / cpu,
            median(single) * 1e6,
            median(loads) * 1e3
        );
    }
}

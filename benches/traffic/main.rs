//! From "apply" in the control API to the gateway serving the new split: the store's
//! transaction (checks, weights, the change and its event, one commit), the consistent read
//! the routing table is built from, and the table swap — what `POST …/traffic` does before it
//! answers, without the HTTP around it. A real data directory (SQLite in WAL mode) under the
//! temp dir; the split flips between two versions each round.
//!
//!     cargo bench --bench traffic -- 500

use std::time::Instant;

use modeldeck::config::DataDir;
use modeldeck::control::contract::TrafficCall;
use modeldeck::control::{Core, DeployRequest, ImportRequest, Role};
use modeldeck::domain::{ModelRef, Resources};
use modeldeck::gateway::{Routing, routing};
use modeldeck::registry::{S3Options, Source};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500);
    let root = std::env::temp_dir().join(format!("modeldeck-traffic-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = repo.join("assets/iris/iris.pmml");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let core = Core::open(DataDir::open(Some(&root)).unwrap(), Role::Command).unwrap();
        let env = |_: &str| None;
        for _ in 0..2 {
            let source =
                Source::parse(model.to_str().unwrap(), &S3Options::default(), &env).unwrap();
            let request = ImportRequest {
                source,
                name: "iris".into(),
                kind: None,
                description: String::new(),
                label: None,
                progress: None,
            };
            core.import_model("bench", request).await.unwrap();
        }
        let deploy = DeployRequest {
            name: "iris".into(),
            model: "iris:1".parse::<ModelRef>().unwrap(),
            resources: Resources::default(),
            upstream: None,
        };
        core.deploy_compiled("bench", deploy).await.unwrap();
        core.change_traffic(
            "bench",
            "iris",
            TrafficCall::AddVersion { version: Some(2) },
        )
        .await
        .unwrap();
        let table = Routing::new(&root);
        let (revision, services) = core.snapshot().unwrap();
        for load in table.publish(revision, &services) {
            routing::load(&load);
        }
        let (mut write, mut read, mut swap, mut total) = (vec![], vec![], vec![], vec![]);
        for i in 0..n {
            let weights = if i % 2 == 0 {
                [("1", 0), ("2", 100)]
            } else {
                [("1", 100), ("2", 0)]
            };
            let call = TrafficCall::Split {
                weights: weights
                    .iter()
                    .map(|(v, w)| (v.to_string(), serde_json::Value::from(*w)))
                    .collect(),
                revision: None,
                reason: String::new(),
            };
            let t0 = Instant::now();
            core.change_traffic("bench", "iris", call).await.unwrap();
            let t1 = Instant::now();
            let (revision, services) = core.snapshot().unwrap();
            let t2 = Instant::now();
            assert!(
                table.publish(revision, &services).is_empty(),
                "no version reloads"
            );
            let t3 = Instant::now();
            let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
            write.push(ms(t0, t1));
            read.push(ms(t1, t2));
            swap.push(ms(t2, t3));
            total.push(ms(t0, t3));
        }
        println!("{n} applies, medians:");
        println!(
            "  store transaction (checks, weights, change, event, commit)  {:.3} ms",
            median(write)
        );
        println!(
            "  consistent read of the services                             {:.3} ms",
            median(read)
        );
        println!(
            "  routing table built and swapped                             {:.3} ms",
            median(swap)
        );
        println!(
            "  apply → gateway serving the new split                       {:.3} ms",
            median(total)
        );
    });
    let _ = std::fs::remove_dir_all(&root);
}

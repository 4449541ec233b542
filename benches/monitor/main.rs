//! What the monitor costs with 100 services whose every version is busy: the ticker's CPU per
//! second of samples (its thread's own CPU clock), and the store writer's for the minute
//! rollups, over simulated minutes. Between ticks every version gets a second's worth of
//! requests (spread latencies, three classes), so each tick walks every version's buckets — the
//! most work a tick can have.
//!
//!     cargo bench --bench monitor            # 100 services, 600 simulated seconds

use std::sync::Arc;

use modeldeck::config::MonitorSettings;
use modeldeck::domain::{Service, Source};
use modeldeck::gateway::meter::Record;
use modeldeck::gateway::{Routing, routing};
use modeldeck::monitor::Monitor;
use modeldeck::monitor::process::thread_cpu_micros;
use modeldeck::monitor::ticker::Ticker;
use modeldeck::runtime::Value;
use modeldeck::store::Store;

fn main() {
    let services: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let seconds: i64 = 600;
    let requests_per_second = 50u64;
    let root = std::env::temp_dir().join(format!("modeldeck-monitor-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(repo.join("assets/iris/iris.pmml"), root.join("model.pmml")).unwrap();
    let all: Vec<Service> = (0..services)
        .map(|i| {
            serde_json::from_value(serde_json::json!({
                "name": format!("svc-{i:03}"),
                "host": format!("svc-{i:03}.modeldeck.local"),
                "key": format!("{i:032}"),
                "runtime": "pmml/0.1.0",
                "resources": {"threads": 1, "concurrency": 64, "timeout_ms": 10000,
                              "max_batch_rows": 10000, "memory_bytes": 0},
                "deployments": [{"model": "iris", "version": 1, "weight": 100,
                                 "artifact": "model.pmml", "kind": "pmml"}],
                "created_at": "2026-12-01T00:00:00Z"
            }))
            .unwrap()
        })
        .collect();
    let table = Arc::new(Routing::new(&root));
    for load in table.publish(1, &all) {
        routing::load(&load);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let store = Store::open(&root.join("modeldeck.db")).unwrap();
    let writer_cpu = || writer_thread_cpu();
    let monitor = Arc::new(Monitor::new(
        Arc::clone(&table),
        store.clone(),
        MonitorSettings::default(),
    ));
    let _guard = rt.enter();
    let mut ticker = Ticker::new(Arc::clone(&monitor), rt.handle().clone(), Box::new(|_| {}));
    let classes: Vec<Value> = ["setosa", "versicolor", "virginica"]
        .iter()
        .map(|c| Value::String((*c).into()))
        .collect();
    let start = 1_796_126_400;
    let (mut ticker_us, mut load_us) = (0u64, 0u64);
    let w0 = writer_cpu();
    for s in 0..seconds {
        let t0 = thread_cpu_micros();
        for route in table.table().routes() {
            for (cell, _) in &route.versions {
                for r in 0..requests_per_second {
                    cell.meter.record(&Record {
                        source: Source::Client,
                        status: if r % 50 == 0 { 500 } else { 200 },
                        latency_us: Some(50 + (r * 37 + s as u64) % 5000),
                        rows: 1,
                        bytes_in: 80,
                        bytes_out: 120,
                    });
                    cell.meter.busy(Source::Client, 20);
                    cell.meter
                        .answered(&[vec![classes[(r % 3) as usize].clone()]]);
                }
            }
        }
        let t1 = thread_cpu_micros();
        let finished = ticker.tick(start + s);
        if let Some(rows) = finished {
            let store = store.clone();
            rt.block_on(async move { store.add_rollups(rows).await.unwrap() });
        }
        let t2 = thread_cpu_micros();
        load_us += t1 - t0;
        ticker_us += t2 - t1;
    }
    let writer_us = writer_cpu().saturating_sub(w0);
    let per_second = |us: u64| us as f64 / seconds as f64;
    println!(
        "{services} services, {seconds} simulated seconds, {requests_per_second} requests/s each"
    );
    println!(
        "ticker (samples, levels, minute hand-off): {:.0} µs CPU per second = {:.3}% of a core",
        per_second(ticker_us),
        per_second(ticker_us) / 1e4
    );
    println!(
        "store writer (minute rollups): {:.0} µs CPU per second = {:.3}% of a core",
        per_second(writer_us),
        per_second(writer_us) / 1e4
    );
    println!(
        "together: {:.3}% of a core   (recording the requests themselves: {:.0} µs per second)",
        (per_second(ticker_us) + per_second(writer_us)) / 1e4,
        per_second(load_us)
    );
    let rows: i64 = rt
        .block_on(async {
            Ok::<_, modeldeck::store::StoreError>(
                store
                    .rollups(
                        "svc-000",
                        modeldeck::domain::Period {
                            from: 0,
                            to: i64::MAX,
                        },
                    )?
                    .len() as i64,
            )
        })
        .unwrap();
    println!("svc-000 has {rows} minute rows");
    drop(store);
    let _ = std::fs::remove_dir_all(&root);
}

/// CPU time of the store's writer thread so far, from /proc (Linux).
fn writer_thread_cpu() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let hz = 100u64; // USER_HZ on Linux
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == "store-writer" {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map_or("", |(_, r)| r)
                .split_whitespace()
                .collect();
            let ticks: u64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0)
                + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
            return ticks * 1_000_000 / hz;
        }
    }
    0
}

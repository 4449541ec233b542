//! One prediction through the gateway in-process, over and over: admission (path grammar,
//! Host, constant-time key check, the traffic split), the body parsed, the model run, the
//! answer written and the request metered — everything but the socket. Run under callgrind by
//! `benches/gateway/callgrind.sh`, which counts instructions per request for two builds.
//!
//!     cargo bench --bench inproc -- 20000
//!
//! It builds its service from JSON and calls only long-standing APIs, so the same file builds
//! against an older commit for an A/B.

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use modeldeck::domain::Service;
use modeldeck::gateway::{Gateway, Routing, routing};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let root = std::env::temp_dir().join(format!("modeldeck-inproc-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        repo.join("assets/iris-lr/iris-lr.pmml"),
        root.join("model.pmml"),
    )
    .unwrap();
    let service: Service = serde_json::from_value(serde_json::json!({
        "name": "iris",
        "host": "iris.modeldeck.local",
        "key": "0123456789abcdef0123456789abcdef",
        "runtime": "pmml/0.1.0",
        "resources": {"threads": 1, "concurrency": 64, "timeout_ms": 10000,
                      "max_batch_rows": 10000, "memory_bytes": 0},
        "deployments": [{"model": "iris", "version": 1, "weight": 100,
                         "artifact": "model.pmml", "kind": "pmml"}],
        "created_at": "2026-12-01T00:00:00Z"
    }))
    .unwrap();
    let table = Arc::new(Routing::new(&root));
    for load in table.publish(1, &[service]) {
        routing::load(&load);
    }
    let gateway = Gateway::new(table);
    let mut headers = HeaderMap::new();
    headers.insert("host", "iris.modeldeck.local".parse().unwrap());
    headers.insert(
        "authorization",
        "0123456789abcdef0123456789abcdef".parse().unwrap(),
    );
    let body = Bytes::from_static(br#"{"instances":[[6.8,2.8,4.8,1.4]]}"#);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..n {
            let a = gateway
                .handle("POST", "/v1/models/iris:predict", &headers, body.clone())
                .await;
            assert_eq!(a.status.as_u16(), 200, "{}", a.body);
        }
    });
    let _ = std::fs::remove_dir_all(&root);
    println!("{n} predictions");
}

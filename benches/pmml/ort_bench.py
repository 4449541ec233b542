"""onnxruntime on the same models as `cargo bench --bench pmml`, one thread, CPU time.

    . /tmp/pmmlenv/bin/activate && python3 benches/pmml/ort_bench.py
"""

import resource
import time

import numpy as np
import onnxruntime as ort
import pandas as pd

OUT = "target/bench-pmml"


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


so = ort.SessionOptions()
so.intra_op_num_threads = 1
so.inter_op_num_threads = 1
for name, csv in [("forest", "cancer.csv"), ("gbm", "cancer.csv"), ("pipeline", "pipeline.csv")]:
    t0 = time.perf_counter()
    s = ort.InferenceSession(f"{OUT}/{name}.onnx", so, providers=["CPUExecutionProvider"])
    load = time.perf_counter() - t0
    df = pd.read_csv(f"{OUT}/{csv}")
    if name == "pipeline":
        feeds = {c: (df[[c]].values.astype(object) if c in ("color", "size") else df[[c]].values.astype(np.float32))
                 for c in df.columns}
        one = {k: v[:1] for k, v in feeds.items()}
    else:
        X = df.values.astype(np.float32)
        feeds = {s.get_inputs()[0].name: X}
        one = {s.get_inputs()[0].name: X[:1]}
    s.run(None, one)
    c0 = cpu()
    s.run(None, feeds)
    c1 = cpu()
    t = []
    for _ in range(2000):
        a = time.perf_counter()
        s.run(None, one)
        t.append(time.perf_counter() - a)
    print(f"{name}: {len(df) / (c1 - c0):.0f} rows/CPU-s; single-row median {np.median(t) * 1e6:.2f} us; load {load * 1e3:.1f} ms")

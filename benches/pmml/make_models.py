"""Benchmark models and data for `cargo bench --bench pmml` and the peer measurements.

Writes to target/bench-pmml/ (not committed: regenerate with this script):
  forest.pmml / forest.onnx      RandomForestClassifier, 100 trees, 30 features (breast cancer)
  gbm.pmml / gbm.onnx            GradientBoostingClassifier, 100 stages, 30 features
  pipeline.pmml / pipeline.onnx  StandardScaler + OneHotEncoder + LogisticRegression, mixed inputs
  *.csv                          100,000 rows of inputs for each

    python3 -m venv /tmp/pmmlenv && . /tmp/pmmlenv/bin/activate
    pip install scikit-learn==1.9.0 sklearn2pmml==0.133.1 skl2onnx==1.20.0 onnx onnxruntime pandas
    python3 benches/pmml/make_models.py
"""

import os

import numpy as np
import pandas as pd

os.environ.setdefault("JAVA_TOOL_OPTIONS", "-Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=9")

from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402
from sklearn2pmml import sklearn2pmml  # noqa: E402
from sklearn2pmml.pipeline import PMMLPipeline  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "target", "bench-pmml")
ROWS = 100_000
RNG = np.random.default_rng(7)


def to_onnx(model, X, name):
    from skl2onnx import to_onnx as convert

    onx = convert(model, X[:1], options={"zipmap": False}, target_opset={"": 17, "ai.onnx.ml": 3})
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(onx.SerializeToString())


def main():
    os.makedirs(OUT, exist_ok=True)
    bc = load_breast_cancer(as_frame=True)
    X = bc.data.copy()
    X.columns = [c.replace(" ", "_") for c in X.columns]
    y = pd.Series(np.where(bc.target == 1, "benign", "malignant"), name="diagnosis")
    rows = X.sample(ROWS, replace=True, random_state=1).reset_index(drop=True)
    rows = rows * RNG.normal(1.0, 0.02, rows.shape)
    rows.to_csv(os.path.join(OUT, "cancer.csv"), index=False)

    for name, est in [("forest", RandomForestClassifier(n_estimators=100, random_state=1)),
                      ("gbm", GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=1))]:
        p = PMMLPipeline([("model", est)])
        p.fit(X, y)
        sklearn2pmml(p, os.path.join(OUT, f"{name}.pmml"))
        to_onnx(est, X.values.astype(np.float32), f"{name}.onnx")

    n = 5000
    df = pd.DataFrame({
        "color": RNG.choice(["red", "green", "blue", "black"], n),
        "size": RNG.choice(["S", "M", "L", "XL"], n),
        "x1": RNG.normal(0, 1, n), "x2": RNG.normal(5, 2, n), "x3": RNG.normal(-1, 3, n),
    })
    target = pd.Series(np.where((df["color"] == "red") + df["x1"] + RNG.normal(0, 1, n) > 0.5, "yes", "no"), name="bought")
    ct = ColumnTransformer([("color", OneHotEncoder(), ["color"]), ("size", OneHotEncoder(), ["size"]),
                            ("num", StandardScaler(), ["x1", "x2", "x3"])])
    p = PMMLPipeline([("prep", ct), ("model", LogisticRegression())])
    p.fit(df, target)
    sklearn2pmml(p, os.path.join(OUT, "pipeline.pmml"))
    df.sample(ROWS, replace=True, random_state=2).to_csv(os.path.join(OUT, "pipeline.csv"), index=False)

    from skl2onnx import to_onnx as convert
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    skp = Pipeline([("prep", ct), ("model", p.steps[-1][1])])
    onx = convert(skp, initial_types=[("color", StringTensorType([None, 1])), ("size", StringTensorType([None, 1])),
                                      ("x1", FloatTensorType([None, 1])), ("x2", FloatTensorType([None, 1])),
                                      ("x3", FloatTensorType([None, 1]))],
                  options={id(skp.steps[-1][1]): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3})
    with open(os.path.join(OUT, "pipeline.onnx"), "wb") as f:
        f.write(onx.SerializeToString())


if __name__ == "__main__":
    main()

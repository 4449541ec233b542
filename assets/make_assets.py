"""Regenerate modeldeck's sample models from data that ships inside scikit-learn.

Run from the repository root (needs Java 17 for sklearn2pmml's converter):

    python3 -m venv /tmp/pmmlenv && . /tmp/pmmlenv/bin/activate
    pip install scikit-learn==1.9.0 sklearn2pmml==0.133.1 pandas
    python3 assets/make_assets.py

Nothing is downloaded at run time: iris and diabetes are bundled with scikit-learn.
The converter is pointed at a closed loopback proxy so that its incident reporter
cannot phone home when a conversion fails.
"""

import os

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from sklearn2pmml import sklearn2pmml
from sklearn2pmml.pipeline import PMMLPipeline

os.environ.setdefault(
    "JAVA_TOOL_OPTIONS", "-Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort=9 -Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort=9"
)
HERE = os.path.dirname(os.path.abspath(__file__))


def iris():
    data = load_iris(as_frame=True)
    X = data.data.copy()
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    y = pd.Series(np.array(data.target_names)[data.target], name="species")
    pipeline = PMMLPipeline([("classifier", DecisionTreeClassifier(max_depth=4, random_state=13))])
    pipeline.fit(X, y)
    out = os.path.join(HERE, "iris")
    os.makedirs(out, exist_ok=True)
    pd.concat([X, y], axis=1).to_csv(os.path.join(out, "iris.csv"), index=False)
    sklearn2pmml(pipeline, os.path.join(out, "iris.pmml"))


def diabetes():
    data = load_diabetes(as_frame=True)
    X = data.data.copy()
    y = pd.Series(data.target, name="progression")
    pipeline = PMMLPipeline([("regressor", LinearRegression())])
    pipeline.fit(X, y)
    out = os.path.join(HERE, "diabetes")
    os.makedirs(out, exist_ok=True)
    pd.concat([X, y], axis=1).to_csv(os.path.join(out, "diabetes.csv"), index=False)
    sklearn2pmml(pipeline, os.path.join(out, "diabetes.pmml"))


def iris_lr():
    """The peers' model (../shared/bench/peers/train_iris.py): LogisticRegression on the four
    iris features as a plain array (so PMML names them x1..x4), for the gateway's client tests
    and benchmarks against KServe and MLServer serving the same model."""
    X, y = load_iris(return_X_y=True)
    pipeline = PMMLPipeline([("classifier", LogisticRegression(max_iter=1000, random_state=0))])
    pipeline.fit(X, y)
    out = os.path.join(HERE, "iris-lr")
    os.makedirs(out, exist_ok=True)
    sklearn2pmml(pipeline, os.path.join(out, "iris-lr.pmml"))


if __name__ == "__main__":
    iris()
    diabetes()
    iris_lr()

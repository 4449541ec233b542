# The peers' iris model (../shared/bench/peers/train_iris.py) as PMML: LogisticRegression
# on the four iris features x1..x4, so modeldeck, KServe and MLServer serve the same model.
import sys
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn2pmml import sklearn2pmml
from sklearn2pmml.pipeline import PMMLPipeline
X, y = load_iris(return_X_y=True)
p = PMMLPipeline([("classifier", LogisticRegression(max_iter=1000, random_state=0))])
p.fit(X, y)
sklearn2pmml(p, sys.argv[1])
print(p.predict_proba([[6.8, 2.8, 4.8, 1.4]]), p.predict([[6.8, 2.8, 4.8, 1.4]]))

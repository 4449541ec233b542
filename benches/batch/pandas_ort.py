"""The peer for `score`: pandas read_csv + onnxruntime (one thread) + to_csv, the way a data
scientist scores a file. Usage: pandas_ort.py MODEL.onnx IN.csv OUT.csv"""

import sys

import numpy as np
import onnxruntime as ort
import pandas as pd

model, src, dst = sys.argv[1:4]
opts = ort.SessionOptions()
opts.intra_op_num_threads = 1
opts.inter_op_num_threads = 1
sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name
frame = pd.read_csv(src)
label, proba = sess.run(None, {name: frame.to_numpy(dtype=np.float32)})
out = pd.DataFrame(proba, columns=[f"probability({i})" for i in range(proba.shape[1])])
out.insert(0, "label", label)
out.to_csv(dst, index=False)

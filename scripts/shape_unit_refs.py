# Reference values for Tests/OnyxTests/ShapeOpsTests.swift (string tensors are not covered by the
# ONNX conformance data). Run with numpy: python scripts/shape_unit_refs.py
import numpy as np

a = np.array([["a", "b", "c"], ["d", "e", "f"]])
print("transpose", a.T.flatten().tolist())                 # Transpose of a 2x3 string tensor
print("slice", a[:, ::-2].flatten().tolist())               # Slice steps=-2 on axis 1
print("gather", np.take(a, [-1, 0], axis=1).flatten().tolist())  # Gather with a negative index
print("pad_edge", np.pad(np.array([[1.0, 2.0]], dtype=np.float32), ((0, 0), (2, 1)), mode="edge").flatten().tolist())

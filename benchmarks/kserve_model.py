#!/usr/bin/env python3
"""The bundled digits MLP served by the KServe Python model server (kserve + onnxruntime),
answering the v2 REST protocol — the baseline for benchmarks/serve_compare.sh.

    python kserve_model.py --model_path Examples/models/digits_mlp/1/model.onnx --http_port 18200
"""
import argparse
import uuid

import numpy as np
import onnxruntime as ort
import uvicorn
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer, model_server

# kserve 0.21's RESTServer hard-codes host="0.0.0.0"; the benchmark stays on loopback.
_UvicornConfig = uvicorn.Config


class _LoopbackConfig(_UvicornConfig):
    def __init__(self, *args, **kwargs):
        kwargs["host"] = "127.0.0.1"
        super().__init__(*args, **kwargs)


uvicorn.Config = _LoopbackConfig


class DigitsMLP(Model):
    def __init__(self, name: str, path: str):
        super().__init__(name)
        self.path = path
        self.session = None
        self.ready = False

    def load(self) -> bool:
        opts = ort.SessionOptions()
        self.session = ort.InferenceSession(self.path, sess_options=opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.ready = True
        return self.ready

    def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        x = payload.inputs[0].as_numpy().astype(np.float32, copy=False)
        results = self.session.run(self.output_names, {self.input_name: x})
        outputs = []
        for name, value in zip(self.output_names, results):
            value = np.asarray(value)
            out = InferOutput(name=name, shape=list(value.shape), datatype="INT64" if value.dtype == np.int64 else "FP32")
            out.set_data_from_numpy(value, binary_data=False)
            outputs.append(out)
        return InferResponse(model_name=self.name, infer_outputs=outputs, response_id=payload.id or str(uuid.uuid4()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(parents=[model_server.parser])
    parser.add_argument("--model_path", required=True)
    args, _ = parser.parse_known_args()
    model = DigitsMLP(args.model_name if args.model_name and args.model_name != "model" else "digits_mlp",
                      args.model_path)
    model.load()
    ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, enable_grpc=False,
                workers=args.workers).start([model])

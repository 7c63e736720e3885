"""ONNX: raw-pixel NHWC graphs (and the ORT-format copy) for the npm package; run by ONNX Runtime."""

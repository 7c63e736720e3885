"""Export stage: run folder -> bundle folder (ios/, android/, onnx/, manifest.json)."""

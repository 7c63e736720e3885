"""Table of every variant in a bundle: size, accuracy, agreement, parity, latency at batch 1.

    python tests/benchmarks/bench_variants.py BUNDLE_DIR [--repeats 20]

Figures (on the run's test photos) come from the manifest, as measured at export;
latency is measured now on this CPU: median of ``--repeats`` single-photo runs after
warm-up. TFLite through LiteRT (2 threads, XNNPACK), ONNX through ONNX Runtime's CPU
execution provider, the Keras reference as a compiled ``tf.function``. Core ML cannot
run off macOS: its latency column is the MIL reference execution's (marked ``mil-ref``),
which says nothing about an iPhone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))
from timing import bundle_arguments, bundle_photo_and_keras_ms, median_ms  # noqa: E402


def latency(fmt: str, variant: str, path: Path, pixel: np.ndarray, repeats: int) -> tuple[float, str]:
    from carspotter.formats import FORMATS

    spec = FORMATS[fmt]
    if fmt == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path), num_threads=2)
        interpreter.allocate_tensors()
        inp = interpreter.get_input_details()[0]
        interpreter.set_tensor(inp["index"], pixel.astype(inp["dtype"]))
        return median_ms(interpreter.invoke, repeats), "LiteRT"
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        x = pixel.astype(np.float32)
        return median_ms(lambda: session.run(None, {session.get_inputs()[0].name: x}), repeats), "ORT"
    from carspotter.mil_reference import MILReference, load_mlpackage

    ref = MILReference(load_mlpackage(path), spec.variant(variant).mil_mode)
    return median_ms(lambda: ref.run(pixel), repeats), "mil-ref"


def main() -> None:
    args = bundle_arguments(__doc__)

    manifest, pixel, keras_ms = bundle_photo_and_keras_ms(args.bundle, args.repeats)
    v = manifest.variants
    print(f"bundle {args.bundle}: {len(manifest.labels)} classes, {v.evaluation_photos} test photos, "
          f"gates {'enforced' if v.gates_enforced else 'recorded only'} {v.gates.to_json()}, calibration photos {v.calibration_photos}")
    head = f"{'format':7s} {'variant':13s} {'shipped':9s} {'MiB':>6s} {'top-1':>6s} {'top-3':>6s} {'agree':>7s} {'top-3 parity':>13s} {'max|dp|':>8s} {'ms/photo':>9s}  gate"
    print(head)
    print("-" * len(head))
    fig_ref = next(iter(next(iter(manifest.formats.values())).variants.values())).figures
    print(f"{'keras':7s} {'reference':13s} {'-':9s} {'':>6s} {fig_ref.reference_top1:6.1%} {fig_ref.reference_top3:6.1%} "
          f"{'':>7s} {'':>13s} {'':>8s} {keras_ms:8.1f}   (tf.function)")
    for fmt, d in manifest.formats.items():
        for name, r in d.variants.items():
            f = r.figures
            shipped = "default" if name == d.default_variant else ("yes" if r.shipped else "NO")
            if r.shipped:
                ms, how = latency(fmt, name, Path(args.bundle) / r.path, pixel, args.repeats)
                lat = f"{ms:8.1f} {how}"
            else:
                lat = f"{'-':>8s}"
            parity = f"{'pass' if f.parity.passed else 'fail'} ({f.parity.near_ties} nt)"
            print(f"{fmt:7s} {name:13s} {shipped:9s} {r.bytes / 2**20:6.1f} {f.top1:6.1%} {f.top3:6.1%} "
                  f"{f.top1_agreement:7.1%} {parity:>13s} {f.max_abs_diff:8.1e} {lat}  {r.gate}")


if __name__ == "__main__":
    main()

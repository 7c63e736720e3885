"""Benchmark: MIL execution vs the Keras reference, one photo at a time.

    python tests/benchmarks/bench_mil_execution.py BUNDLE_DIR [--repeats 20]

Prints the median latency (ms) of the Keras model and of the MIL execution in
fp32 and fp16 modes, batch 1, on the bundle's first test photo, and their ratios. Target
(Core ML parity issue): the reference execution at most 3x the Keras time.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))
from timing import bundle_arguments, bundle_photo_and_keras_ms, median_ms  # noqa: E402


def main() -> None:
    args = bundle_arguments(__doc__)

    import keras
    import tensorflow as tf

    from carspotter.export.formats.coreml.mil_execution import MILExecution
    from carspotter.export.formats.coreml.mil_program import load_mlpackage

    manifest, pixels, keras_ms = bundle_photo_and_keras_ms(args.bundle, args.repeats)
    program = load_mlpackage(os.path.join(args.bundle, manifest.formats["coreml"].path))
    print(f"photo {pixels.shape[1]}x{pixels.shape[2]}, batch 1, median of {args.repeats}, {os.cpu_count()} CPU threads")
    print(f"  Keras reference, tf.function (TF {tf.__version__}, Keras {keras.__version__}): {keras_ms:8.1f} ms")
    for mode in ("fp32", "fp16"):
        ref = MILExecution(program, mode)
        ms = median_ms(lambda: ref.run(pixels), args.repeats)
        print(f"  MIL execution, {mode} mode:   {ms:8.1f} ms  ({ms / keras_ms:.2f}x Keras; target <= 3x)")


if __name__ == "__main__":
    main()

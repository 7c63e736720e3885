"""Run a run's Keras reference model on one backend and device, in a process of its own.

    KERAS_BACKEND=jax python -m carspotter.model.reference_worker MODEL.keras PIXELS.npy OUT.npy FACTS.json \
        --device cpu|gpu --precision float32|tf32

Keras 3 picks its backend once per process (``KERAS_BACKEND``), so the parity stage runs each non-canonical
reference here (:mod:`carspotter.model.backends` starts it). It imports Keras and the one backend asked for, and
nothing of TensorFlow under JAX. ``PIXELS.npy`` is ``[N, S, S, 3]`` uint8; ``OUT.npy`` gets ``[N, C]`` float32
probabilities; ``FACTS.json`` gets the backend, device (its name as the backend reports it), library versions and
matmul precision, or ``{"skipped": reason}`` when the device is not here (then no ``OUT.npy``).

Matmul precision (``--precision``): ``float32`` asks for full float32 products (JAX
``jax_default_matmul_precision = "highest"``; TensorFlow ``enable_tensor_float_32_execution(False)``); ``tf32`` for
TensorFloat-32 tensor-core products, the default of both on NVIDIA Ampere and newer GPUs, which moved probabilities
by 1.6e-3 on an H200 against 1.3e-6 at float32 (../shared/GPU.md). On a CPU both are float32.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

BATCH = 32


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo), else what the platform module says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _jax(device: str, precision: str) -> tuple[object, dict]:
    import jax

    jax.config.update("jax_default_matmul_precision", "highest" if precision == "float32" else "tensorfloat32")
    try:
        devices = jax.devices(device)
    except RuntimeError:
        devices = []
    if not devices:
        raise LookupError(f"JAX sees no {device.upper()} here (devices: {', '.join(str(d) for d in jax.devices())})")
    import jaxlib

    dev = devices[0]
    name = cpu_name() if device == "cpu" else getattr(dev, "device_kind", str(dev))
    return jax.default_device(dev), {
        "device_name": name,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "matmul_precision": f"{precision} (jax_default_matmul_precision={jax.config.jax_default_matmul_precision})",
    }


def _tensorflow(device: str, precision: str) -> tuple[object, dict]:
    import tensorflow as tf

    tf.config.experimental.enable_tensor_float_32_execution(precision == "tf32")
    found = tf.config.list_physical_devices(device.upper())
    if not found:
        raise LookupError(f"TensorFlow sees no {device.upper()} here (tensorflow-cpu, or no device)")
    name = (
        cpu_name() if device == "cpu" else tf.config.experimental.get_device_details(found[0]).get("device_name", "GPU")
    )
    return tf.device(f"/{device.upper()}:0"), {
        "device_name": name,
        "tensorflow": tf.__version__,
        "matmul_precision": f"{precision} (enable_tensor_float_32_execution({precision == 'tf32'}))",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("pixels")
    parser.add_argument("out")
    parser.add_argument("facts")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--precision", choices=("float32", "tf32"), default="float32")
    args = parser.parse_args(argv)
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    try:
        scope, facts = (_jax if backend == "jax" else _tensorflow)(args.device, args.precision)
    except (LookupError, ImportError) as exc:
        Path(args.facts).write_text(json.dumps({"skipped": (str(exc).splitlines() or [type(exc).__name__])[0]}))
        return 0
    import keras

    model = keras.saving.load_model(args.model, safe_mode=True)
    pixels = np.load(args.pixels)
    batch = min(BATCH, max(1, len(pixels)))
    out = []
    with scope:
        for i in range(0, len(pixels), batch):
            chunk = pixels[i : i + batch].astype(np.float32)
            padded = np.concatenate([chunk, np.zeros((batch - len(chunk),) + chunk.shape[1:], np.float32)])
            out.append(np.asarray(model.predict_on_batch(padded), np.float32)[: len(chunk)])  # one shape: one compile
    probs = np.concatenate(out) if out else np.zeros((0, model.output_shape[-1]), np.float32)
    np.save(args.out, probs.astype(np.float32))
    Path(args.facts).write_text(
        json.dumps(
            {
                "backend": keras.backend.backend(),
                "device": args.device,
                "keras": keras.__version__,
                "python": platform.python_version(),
                **facts,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

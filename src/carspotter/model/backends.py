"""The Keras reference on every backend and device: TensorFlow or JAX, CPU or GPU, full float32 or TF32.

The canonical reference is Keras on TensorFlow on the CPU, in this process (:func:`carspotter.model.runtimes.keras_probs`):
it is what export records and every format is compared with. Every other :class:`ReferenceBackend` runs the same
``model.keras`` in a process of its own (Keras 3 picks its backend once per process, from ``KERAS_BACKEND``;
:mod:`carspotter.model.reference_worker`) on the same uint8 pixels, and parity compares its probabilities with the
canonical ones by the top-3 rule at the tolerance row of its arithmetic (:meth:`ReferenceBackend.tolerance_row`).

Full float32 matrix products are the default everywhere. TF32 (TensorFloat-32 tensor-core products, what JAX and
TensorFlow use on NVIDIA Ampere and newer GPUs unless told otherwise) is a named choice with its own tolerance row,
never silent: measured on an H200, it moved probabilities by 1.6e-3 and swapped one top-3 order in 64 photos, against
1.3e-6 at float32 (../shared/GPU.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BACKENDS = ("tensorflow", "jax")
DEVICES = ("cpu", "gpu")
PRECISIONS = ("float32", "tf32")


class BackendUnavailable(Exception):
    """The backend or its device is not here; the message says why (a parity row skips with it)."""


@dataclass(frozen=True)
class ReferenceBackend:
    """One way to compute the reference: a Keras backend, a device, a matmul precision.

    Attributes:
        backend: ``tensorflow`` or ``jax``.
        device: ``cpu`` or ``gpu``.
        precision: ``float32`` (full float32 products, the default) or ``tf32`` (GPUs only).
    """

    backend: str
    device: str
    precision: str = "float32"

    def __post_init__(self):
        if self.backend not in BACKENDS or self.device not in DEVICES or self.precision not in PRECISIONS:
            raise ValueError(
                f"reference backend {self.backend}/{self.device}/{self.precision}: choose a backend of "
                f"{BACKENDS}, a device of {DEVICES} and a precision of {PRECISIONS}"
            )
        if self.precision == "tf32" and self.device == "cpu":
            raise ValueError("TF32 is a GPU arithmetic: a CPU reference is float32")

    @property
    def name(self) -> str:
        """``jax-cpu``, ``tensorflow-gpu``, ``jax-gpu-tf32``."""
        return f"{self.backend}-{self.device}" + ("-tf32" if self.precision == "tf32" else "")

    @property
    def tolerance_row(self) -> str:
        """The parity tolerance row (:data:`carspotter.measure.parity_rule.TOLERANCES`): ``fp32`` or ``tf32``."""
        return "tf32" if self.precision == "tf32" else "fp32"

    @classmethod
    def parse(cls, name: str) -> "ReferenceBackend":
        """Read :attr:`name` back (``jax-gpu-tf32``).

        Raises:
            ValueError: not BACKEND-DEVICE[-tf32].
        """
        parts = name.strip().lower().split("-")
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "tf32"):
            raise ValueError(
                f"reference backend {name!r}: write BACKEND-DEVICE or BACKEND-gpu-tf32, e.g. jax-cpu, "
                "tensorflow-gpu, jax-gpu-tf32"
            )
        return cls(parts[0], parts[1], "tf32" if len(parts) == 3 else "float32")


CANONICAL = ReferenceBackend("tensorflow", "cpu")
"""The reference every format is compared with: Keras on TensorFlow, CPU, float32, in this process."""

DEFAULT_CHECKS = (ReferenceBackend("jax", "cpu"), ReferenceBackend("tensorflow", "gpu"), ReferenceBackend("jax", "gpu"))
"""The reference rows parity runs against the canonical one (GPU rows skip where no GPU is visible)."""


def run(backend: ReferenceBackend, model: Path, pixels: np.ndarray, timeout: float = 3600) -> tuple[np.ndarray, dict]:
    """The reference on ``backend``: ``([N, C] float32 probabilities, facts)`` for ``[N, S, S, 3]`` uint8 ``pixels``.

    Facts: ``backend``, ``device``, ``device_name``, ``keras`` and the backend's versions, ``matmul_precision``.

    Raises:
        BackendUnavailable: the backend is not installed (JAX), or its device is not visible.
        RuntimeError: the worker failed (the last lines of its error output).
    """
    if backend.backend == "jax":
        import importlib.util

        if importlib.util.find_spec("jax") is None:
            raise BackendUnavailable("JAX is not installed here (it is a dependency of carspotter: reinstall it)")
    with tempfile.TemporaryDirectory(prefix="carspotter-reference-") as tmp:
        folder = Path(tmp)
        np.save(folder / "pixels.npy", np.ascontiguousarray(pixels, np.uint8))
        env = {**os.environ, "KERAS_BACKEND": backend.backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "carspotter.model.reference_worker",
                str(model),
                str(folder / "pixels.npy"),
                str(folder / "probs.npy"),
                str(folder / "facts.json"),
                "--device",
                backend.device,
                "--precision",
                backend.precision,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
        if done.returncode != 0 or not (folder / "facts.json").is_file():
            tail = " | ".join(line for line in done.stderr.strip().splitlines()[-3:])
            raise RuntimeError(f"reference on {backend.name} failed (exit {done.returncode}): {tail[:400]}")
        facts = json.loads((folder / "facts.json").read_text())
        if "skipped" in facts:
            raise BackendUnavailable(facts["skipped"])
        return np.load(folder / "probs.npy"), facts

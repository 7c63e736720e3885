"""Running an ONNX file: ONNX Runtime with one execution provider (:class:`OrtSession`) and the runtimes that open
it (:data:`ORT_CPU`, :data:`ORT_CUDA`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from carspotter.model.localizer import BOX_OUTPUT
from carspotter.model.spec import OUTPUT_NAME
from carspotter.model.runtimes import Runtime
from carspotter.model.sessions import Session


class OrtSession(Session):
    """ONNX Runtime with one execution provider, ``threads`` intra-op threads, spinning off (its
    spinning workers slowed whatever ran next on a 2-core machine), batches of 16 (one photo per run
    for a file with a fixed batch of 1, as the phone files have: ``fixed_batch``), and the CPU memory
    arena shrunk after each run (``memory.enable_memory_arena_shrinkage``): a session kept open for a
    whole command (parity holds one per file and runtime) does not keep its peak activations (about
    0.4 GiB at batch 16 and 299 px).

    Raises (on load):
        RuntimeError: the provider is not the one the session actually uses.
    """

    runtime = "ONNX Runtime"

    def __init__(self, path: Path, provider: str, threads: int, check: str = "onnx/cpu"):
        import onnxruntime as ort

        super().__init__(check, path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), opts, providers=[provider])
        if self._session.get_providers()[0] != provider:
            raise RuntimeError(f"ONNX Runtime fell back to {self._session.get_providers()} instead of {provider}")
        self.version, self.device = f"onnxruntime {ort.__version__}", provider
        self._input = self._session.get_inputs()[0]
        names = [o.name for o in self._session.get_outputs()]
        self._probs = OUTPUT_NAME if OUTPUT_NAME in names else names[0]
        self._box = BOX_OUTPUT if BOX_OUTPUT in names else None
        self.fixed_batch = self._input.shape[0] if isinstance(self._input.shape[0], int) else None
        self._run_options = ort.RunOptions()
        if provider == "CPUExecutionProvider":
            self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def _run(self, pixels, names: list[str]) -> list[np.ndarray]:
        """The outputs ``names`` of ``pixels``, in batches of 16 (one by one for a fixed ``[1, ...]`` file)."""
        x = np.asarray(pixels).astype(np.uint8 if self._input.type == "tensor(uint8)" else np.float32)
        batch = self.fixed_batch or 16
        runs = [
            self._session.run(names, {self._input.name: x[i : i + batch]}, self._run_options)
            for i in range(0, len(x), batch)
        ]
        return [np.concatenate([r[k] for r in runs]).astype(np.float32) for k in range(len(names))]

    def _infer(self, pixels):
        return self._run(pixels, [self._probs])[0]

    def box(self, pixels):
        super().box(pixels)
        return None if self._box is None else self._run(pixels, [self._box])[0]

    def infer_with_box(self, pixels):
        if self._box is None:
            return self.infer(pixels), None
        super().box(pixels)  # refuses a closed session
        probs, box = self._run(pixels, [self._probs, self._box])
        return probs, box

    def close(self):
        self._session = None
        super().close()


def _cuda_unavailable() -> str | None:
    import onnxruntime as ort

    providers = ort.get_available_providers()
    if "CUDAExecutionProvider" not in providers:
        return f"no CUDA execution provider in this onnxruntime ({providers}); install the gpu extra on a machine with a GPU"
    return None


ORT_CPU = Runtime("CPUExecutionProvider", "onnx/cpu", lambda p, labels, v, t: OrtSession(p, "CPUExecutionProvider", t))
ORT_CUDA = Runtime(
    "CUDAExecutionProvider",
    "onnx/CUDAExecutionProvider",
    lambda p, labels, v, t: OrtSession(p, "CUDAExecutionProvider", t, "onnx/CUDAExecutionProvider"),
    _cuda_unavailable,
    mode="fp32-gpu",
)

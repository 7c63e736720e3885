"""Sessions: a model file loaded once into one runtime and run on many batches (as Polygraphy's runners are).

``[N, S, S, 3]`` uint8 RGB in, ``[N, C]`` float32 probabilities out: the Keras reference, LiteRT, MediaPipe Tasks,
ONNX Runtime per execution provider, Core ML ``predict`` and the MIL program executed through ONNX Runtime
(:mod:`carspotter.model.mil_execution`). :data:`LOADS` counts the loads. The named ways of running a format that
create them are :class:`carspotter.model.runtimes.Runtime`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from carspotter.model.localizer import BOX_OUTPUT
from carspotter.util.errors import ComparisonError


def litert_invoke(interpreter, pixels: np.ndarray, output: int = 0) -> np.ndarray:
    """One invoke of an allocated LiteRT interpreter on ``[B, S, S, 3]`` pixels (B its input batch):
    output ``output`` as float32, ``[B, C]`` probabilities for output 0 (``[B, 4]`` the box for output 1 of a
    two-output file). A quantized (uint8/int8) input is fed ``round(x / scale + zero_point)`` and a quantized output
    dequantized, with the tensors' own quantization parameters."""
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[output]
    x = pixels.astype(np.float32)
    scale, zero = inp["quantization"]
    if np.issubdtype(inp["dtype"], np.integer) and scale:
        info = np.iinfo(inp["dtype"])
        x = np.clip(np.round(x / scale + zero), info.min, info.max)
    interpreter.set_tensor(inp["index"], x.astype(inp["dtype"]))
    interpreter.invoke()
    y = interpreter.get_tensor(out["index"]).astype(np.float32)
    scale, zero = out["quantization"]
    return (y - zero) * scale if np.issubdtype(out["dtype"], np.integer) and scale else y


# -- Sessions: a model loaded once, run on many batches (as Polygraphy's runners are) -------------

LOADS: Counter = Counter()
"""How many times a model was loaded into a session in this process, by ``(runtime check id, file)``
(``file`` is ``""`` for a model object); tests count them: once per command, not once per call."""


class Session:
    """A model file loaded once into one runtime: :meth:`infer` runs it on any number of batches.

    Use as a context manager, or call :meth:`close`. Subclasses set ``runtime`` (a name for
    people), ``version`` and ``device``, and implement :meth:`_infer`.

    Attributes:
        timed: whether its latency means anything (False for an emulation such as the MIL
            reference execution, which is numpy, not Core ML).
    """

    runtime = "?"
    version = "?"
    device = "CPU"
    timed = True

    def __init__(self, check: str, path: Path | None = None):
        LOADS[(check, str(path) if path is not None else "")] += 1
        self.closed = False

    def infer(self, pixels: np.ndarray) -> np.ndarray:
        """``[N, S, S, 3]`` uint8 RGB pixels (or float32 holding 0..255) -> ``[N, C]`` float32 probabilities 0..1.

        Raises:
            RuntimeError: the session was closed.
        """
        if self.closed:
            raise RuntimeError(f"{self.runtime} session used after close()")
        return np.asarray(self._infer(np.asarray(pixels)), dtype=np.float32)

    def _infer(self, pixels: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def box(self, pixels: np.ndarray) -> np.ndarray | None:
        """``[N, S, S, 3]`` pixels -> ``[N, 4]`` float32 box ``x0, y0, x1, y1`` in 0..1 of the input, from a file with
        the localizer's ``box`` output (:mod:`carspotter.model.localizer`); None for a file without one.

        Raises:
            RuntimeError: the session was closed.
        """
        if self.closed:
            raise RuntimeError(f"{self.runtime} session used after close()")
        return None

    def infer_with_box(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(probabilities [N, C], box [N, 4] or None)``: pass 1 of two-pass recognition; one run of the file where the
        runtime gives both outputs at once (ONNX Runtime), else :meth:`infer` then :meth:`box`."""
        return self.infer(pixels), self.box(pixels)

    def describe(self) -> dict:
        """``{"runtime", "version", "device"}``: what runs the model, for reports and parity.json."""
        return {"runtime": self.runtime, "version": self.version, "device": self.device}

    def close(self) -> None:
        """Release the runtime's resources; the session cannot be used afterwards."""
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class KerasSession(Session):
    """The Keras reference on a loaded model: ``model.predict`` in batches of 16, and a compiled
    ``tf.function`` (inference mode) for a single photo."""

    runtime = "Keras (TensorFlow)"

    def __init__(self, model, device: str = "/CPU:0", check: str = "keras", path: Path | None = None):
        import keras
        import tensorflow as tf

        super().__init__(check, path)
        self.model, self._device, self.device = model, device, device.strip("/")
        self.version = f"keras {keras.__version__}, tensorflow {tf.__version__}"
        self._fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def _infer(self, pixels):
        import tensorflow as tf

        with tf.device(self._device):
            if (
                len(pixels) == 1
            ):  # one photo: the compiled function, without predict()'s per-call set-up (benchmark latency)
                return self._fn(tf.constant(pixels, tf.float32)).numpy()
            return self.model.predict(pixels.astype(np.float32), batch_size=16, verbose=0)


class LiteRTSession(Session):
    """LiteRT's ``Interpreter`` (XNNPACK on CPU) with ``threads`` threads (its default is one).

    The file is read once; a photo set runs one photo per invoke on a batch-1 interpreter
    (as apps do). :meth:`reserve` adds an interpreter of another batch size, built from the
    same bytes, which :meth:`infer` then uses for batches of exactly that size.
    """

    runtime = "LiteRT (XNNPACK)"

    def __init__(self, path: Path, threads: int, check: str = "tflite/litert"):
        import ai_edge_litert
        from ai_edge_litert.interpreter import Interpreter

        super().__init__(check, path)
        self.version = f"ai-edge-litert {getattr(ai_edge_litert, '__version__', '?')}"
        self._content, self._threads, self._make = Path(path).read_bytes(), threads, Interpreter
        self._by_batch = {1: self._interpreter(1)}

    def _interpreter(self, batch: int):
        it = self._make(model_content=self._content, num_threads=self._threads)
        if batch != 1:
            inp = it.get_input_details()[0]
            it.resize_tensor_input(inp["index"], [batch, *inp["shape"][1:]])
        it.allocate_tensors()
        return it

    def reserve(self, batch: int) -> None:
        """Allocate an interpreter for batches of ``batch`` photos (for throughput measurements)."""
        if batch not in self._by_batch:
            self._by_batch[batch] = self._interpreter(batch)

    def _infer(self, pixels, output: int = 0):
        if len(pixels) in self._by_batch and len(pixels) > 1:
            return litert_invoke(self._by_batch[len(pixels)], pixels, output)
        return np.concatenate([litert_invoke(self._by_batch[1], px[None], output) for px in pixels])

    def box(self, pixels):
        super().box(pixels)
        if len(self._by_batch[1].get_output_details()) < 2:
            return None
        return np.asarray(self._infer(np.asarray(pixels), output=1), np.float32)

    def close(self):
        self._by_batch = {}
        super().close()


class MediaPipeSession(Session):
    """MediaPipe Tasks' ``ImageClassifier`` reading the model's own metadata (labels, normalization).

    :meth:`classify` takes whole photos of any size (MediaPipe resizes them itself, as an app
    lets it); :meth:`infer` the exact inputs.

    Raises (on :meth:`infer`):
        ComparisonError: the labels in the model's metadata differ from the bundle's.
    """

    runtime = "MediaPipe Tasks ImageClassifier"

    def __init__(self, path: Path, labels: list[str] | None, check: str = "tflite/mediapipe"):
        import mediapipe as mp
        from mediapipe.tasks.python import vision
        from mediapipe.tasks.python.core.base_options import BaseOptions

        super().__init__(check, path)
        self.version, self.path, self.labels = f"mediapipe {getattr(mp, '__version__', '?')}", Path(path), labels
        options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(path)), max_results=-1)
        self._classifier = vision.ImageClassifier.create_from_options(options)

    def classify(self, images, num_classes: int) -> tuple[list[str], np.ndarray]:
        """``(category names by index as MediaPipe reports them, [N, num_classes] scores by category index)``
        for ``images``: a list of ``[H, W, 3]`` uint8 RGB arrays of any size."""
        import mediapipe as mp

        out, names = np.zeros((len(images), num_classes), dtype=np.float32), [""] * num_classes
        for i, px in enumerate(images):
            result = self._classifier.classify(
                mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(px))
            )
            for c in result.classifications[0].categories:
                out[i, c.index] = c.score
                names[c.index] = c.category_name
        return names, out

    def classify_as(self, images, labels: list[str]) -> np.ndarray:
        """:meth:`classify` for a model whose classes are ``labels``: ``[N, C]`` scores in their order.

        Raises:
            ComparisonError: the labels in the model's metadata are not ``labels``.
        """
        names, probs = self.classify(images, len(labels))
        if names != list(labels):
            raise ComparisonError(
                f"{self.path}: MediaPipe reads labels {names[:3]}... from the metadata, not the manifest's"
            )
        return probs

    def _infer(self, pixels):
        return self.classify_as(list(pixels.astype(np.uint8)), self.labels)

    def close(self):
        self._classifier.close()
        super().close()


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
        self._probs = "probabilities" if "probabilities" in names else names[0]
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


class CoreMLPredictSession(Session):
    """Core ML's ``MLModel.predict`` (macOS only): ``classLabel_probs`` placed in label order."""

    runtime = "Core ML predict"

    def __init__(self, path: Path, labels: list[str], check: str = "coreml/predict"):
        from carspotter.util.quiet import import_coremltools

        super().__init__(check, path)
        ct = import_coremltools()
        self.version, self.device = f"coremltools {ct.__version__}", "Core ML (macOS, compute units ALL)"
        self._model, self.labels = ct.models.MLModel(str(path)), list(labels)

    def _infer(self, pixels):
        from PIL import Image

        out, index = (
            np.zeros((len(pixels), len(self.labels)), dtype=np.float32),
            {n: i for i, n in enumerate(self.labels)},
        )
        for i, px in enumerate(pixels.astype(np.uint8)):
            for name, p in self._model.predict({"image": Image.fromarray(px)})["classLabel_probs"].items():
                out[i, index[name]] = p
        return out

    def box(self, pixels):
        from PIL import Image

        super().box(pixels)
        if BOX_OUTPUT not in {o.name for o in self._model.get_spec().description.output}:
            return None
        rows = [
            self._model.predict({"image": Image.fromarray(px)})[BOX_OUTPUT]
            for px in np.asarray(pixels).astype(np.uint8)
        ]
        return np.asarray(rows, np.float32).reshape(len(rows), 4)


class MILSession(Session):
    """The MIL execution of an ``.mlpackage`` in ``mode`` (``fp32`` or ``fp16``): the program translated to ONNX
    (:mod:`carspotter.model.mil_to_onnx`) and run on ONNX Runtime's CPU execution provider. Not timed: its speed is
    not Core ML's.

    Raises (on load):
        MILExecutionError: an op the executor does not implement (named).
        ComparisonError: the program's classifier labels differ from ``labels``.
    """

    runtime = "MIL execution"
    timed = False

    def __init__(self, path: Path, mode: str, labels: list[str] | None, check: str = "coreml/mil"):
        from carspotter.model.mil_execution import DEVICE, MILExecution
        from carspotter.model.mil_program import load_mlpackage

        super().__init__(check, path)
        program = load_mlpackage(path)
        if labels is not None and program.labels != list(labels):
            raise ComparisonError(f"{path}: Core ML classifier labels differ from the manifest's")
        self._executor, self.device = MILExecution(program, mode), f"{DEVICE} ({mode} mode)"
        import onnxruntime

        self.version = f"onnxruntime {onnxruntime.__version__}"

    def _infer(self, pixels):
        return self._executor.probabilities(pixels)

    def box(self, pixels):
        super().box(pixels)
        return self._executor.box(np.asarray(pixels))


def keras_probs(model, pixels: np.ndarray, device: str = "/CPU:0") -> np.ndarray:
    """The reference on a loaded Keras model (``device`` ``"/CPU:0"`` or ``"/GPU:0"``): ``[N, C]`` float32
    (a :class:`KerasSession` for one photo set)."""
    with KerasSession(model, device) as session:
        return session.infer(pixels)

"""Running a TFLite file: LiteRT's interpreter and MediaPipe Tasks' ``ImageClassifier`` (:class:`LiteRTSession`,
:class:`MediaPipeSession`) and the runtimes that open them (:data:`LITERT`, :data:`MEDIAPIPE`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from carspotter.model.runtimes import Runtime
from carspotter.model.sessions import Session
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


def _mediapipe_unavailable() -> str | None:
    try:
        import mediapipe.tasks.python.vision  # noqa: F401
    except ImportError as exc:
        return f"mediapipe cannot be imported here ({exc})"
    return None


LITERT = Runtime("cpu (LiteRT)", "tflite/litert", lambda p, labels, v, t: LiteRTSession(p, t))
MEDIAPIPE = Runtime(
    "MediaPipe ImageClassifier",
    "tflite/mediapipe",
    lambda p, labels, v, t: MediaPipeSession(p, labels),
    _mediapipe_unavailable,
)

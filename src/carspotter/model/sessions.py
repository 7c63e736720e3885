"""Sessions: a model file loaded once into one runtime and run on many batches (as Polygraphy's runners are).

``[N, S, S, 3]`` uint8 RGB in, ``[N, C]`` float32 probabilities out: the base class and the Keras reference here,
each format's own sessions in its package (``carspotter.export.formats.NAME.runtime``). :data:`LOADS` counts the
loads. The named ways of running a format that
create them are :class:`carspotter.model.runtimes.Runtime`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np


# -- Sessions: a model loaded once, run on many batches (as Polygraphy's runners are) -------------

LOADS: Counter = Counter()
"""How many times a model was loaded into a session in this process, by ``(runtime check id, file)``
(``file`` is ``""`` for a model object); tests count them: once per command, not once per call."""


class Session:
    """A model file loaded once into one runtime: :meth:`infer` runs it on any number of batches.

    Use as a context manager, or call :meth:`close`. Subclasses set ``runtime`` (a name for
    people), ``version`` and ``device``, and implement :meth:`_infer`.

    Attributes:
        timed: whether its latency means anything (False for an emulation, which is not the runtime apps use).
        untimed_reason: why not, for reports (with ``timed`` False).
    """

    runtime = "?"
    version = "?"
    device = "CPU"
    timed = True
    untimed_reason = ""

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


def keras_probs(model, pixels: np.ndarray, device: str = "/CPU:0") -> np.ndarray:
    """The reference on a loaded Keras model (``device`` ``"/CPU:0"`` or ``"/GPU:0"``): ``[N, C]`` float32
    (a :class:`KerasSession` for one photo set)."""
    with KerasSession(model, device) as session:
        return session.infer(pixels)

"""Run every format on the same decoded pixels: ``[N, S, S, 3]`` uint8 RGB in, ``[N, C]`` probabilities out.

A :class:`Session` is a model file loaded once into one runtime (the Keras reference here; each format's own
sessions in its package, ``carspotter.export.formats.NAME.runtime``) and run on many batches: ``infer``, ``describe``, ``close``, as Polygraphy's runners
are. A :class:`Runtime` is a named way of running a format (``Runtime.load(path, labels,
variant, threads) -> Session``) that the format registry (:mod:`carspotter.model.formats`) lists per
format; parity, export's measuring, the app paths, predict and the benchmark all go through it.
:data:`LOADS` counts the loads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


from carspotter.util.errors import RunError, one_line
from carspotter.model.sessions import LOADS, KerasSession, Session, keras_probs


def load_reference(run):
    """Load ``model.keras`` of a run (a :class:`carspotter.contracts.runfolder.Run`) with ``safe_mode=True``.

    Raises:
        RunError: the file does not load or its input/output shapes disagree with run.json.
    """
    import keras

    path = run.dir / "model.keras"
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:
        raise RunError(f"{path}: does not load as a Keras model ({one_line(exc, 160)}); train again") from None
    want = tuple(run.input.shape[1:])
    if tuple(model.input_shape[1:]) != want or model.output_shape[-1] != len(run.labels):
        raise RunError(
            f"{path}: input {model.input_shape} / output {model.output_shape} disagree with run.json; train again"
        )
    return model


# -- Runtimes: named ways of running a format, listed per format in the registry ----------------

Loader = Callable[[Path, list, object, int], Session]
"""``(path, labels, variant (a carspotter.model.format_spec.VariantSpec), threads) -> Session``."""


def default_threads() -> int:
    """Threads a session uses unless told: every core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class Runtime:
    """One way of running a format's file.

    Attributes:
        target: name in parity results (e.g. ``"cpu (LiteRT)"``, ``"CUDAExecutionProvider"``).
        check: short id, used when the runtime is skipped (e.g. ``"tflite/mediapipe"``).
        open: ``(path, labels, variant, threads) -> Session``.
        unavailable: ``() -> reason or None``: why it cannot run on this machine.
        mode: arithmetic that sets the tolerance row with the variant's family
            (:func:`carspotter.measure.parity_rule.precision_for`): None, ``"fp16"`` or ``"fp32-gpu"``.
        skip_note: said after the reason when it cannot run here (what is checked instead).
        by_variant: ``(variant) -> Runtime``: for a runtime that runs each variant as one of the format's fixed
            runtimes (the Core ML program's execution in the variant's own arithmetic), that runtime; None: itself.
    """

    target: str
    check: str
    open: Loader
    unavailable: Callable[[], str | None] = lambda: None
    mode: str | None = None
    skip_note: str = ""
    by_variant: Callable[[object], "Runtime"] | None = None

    def resolve(self, variant) -> "Runtime":
        """The runtime that actually runs ``variant``: :attr:`by_variant`'s answer, or this one."""
        return self.by_variant(variant) if self.by_variant is not None else self

    def load(self, model_path: Path, labels: list[str], variant, threads: int | None = None) -> Session:
        """Load ``model_path`` once: a :class:`Session` whose ``infer`` runs ``[N, S, S, 3]`` uint8 -> ``[N, C]``
        float32 probabilities. ``variant``: the file's :class:`~carspotter.model.format_spec.VariantSpec`;
        ``threads``: CPU threads (default: :func:`default_threads`).

        Raises:
            whatever the runtime raises for a file it cannot load (callers turn it into one line).
        """
        runtime = self.resolve(variant)
        return runtime.open(Path(model_path), list(labels), variant, threads or default_threads())

    def target_for(self, variant) -> str:
        """The target name with the arithmetic the variant runs in, where the runtime has several."""
        return self.resolve(variant).target


__all__ = ["Runtime", "Session", "KerasSession", "LOADS", "load_reference", "keras_probs", "default_threads"]

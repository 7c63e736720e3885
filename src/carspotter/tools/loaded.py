"""A bundle's formats (and the Keras reference) loaded as sessions, named as the tools show them.

``predict``, ``benchmark`` (and ``evaluate``) run every selected format side by side: each is a
:class:`Loaded` (format, variant, where it runs, its :class:`~carspotter.model.runtimes.Session`),
opened once by :func:`open_variant` or :func:`open_reference` and closed by the tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from carspotter.model import runtimes
from carspotter.model.formats import FORMATS
from carspotter.model.session_pool import SessionPool


@dataclass
class Loaded:
    """One format's variant (or the Keras reference) ready to run.

    Attributes:
        format: ``keras`` or a format name (``coreml``, ``tflite``, ``onnx``, ...).
        variant: the shipped variant (``fp16``, ``int8-dynamic``, ...); ``reference`` for Keras.
        target: where it runs, as parity names it (``cpu (LiteRT)``, ``MIL execution (fp16 mode)``).
        session: ``infer([N, S, S, 3] uint8) -> [N, C]`` probabilities 0..1, loaded once.
    """

    format: str
    variant: str
    target: str
    session: runtimes.Session

    @property
    def key(self) -> str:
        """``keras``, or ``format/variant`` (``tflite/fp16``): how results are keyed and shown."""
        return self.format if self.format == "keras" else f"{self.format}/{self.variant}"

    def infer(self, pixels):
        """``[N, S, S, 3]`` uint8 -> ``[N, C]`` float32 probabilities."""
        return self.session.infer(pixels)


def open_variant(bundle: Path, manifest, fmt: str, variant: str, pool: SessionPool) -> Loaded:
    """A shipped variant of a verified bundle (``manifest``: its :class:`~carspotter.contracts.manifest.Manifest`)
    from the command's session pool, on the runtime tools use here
    (:func:`carspotter.model.session_pool.tool_runtime`); closing the session makes the pool load it afresh next time.

    Raises:
        KeyError: the format or variant is not in the manifest (callers check first).
    """
    record, spec = manifest.formats[fmt].variants[variant], FORMATS[fmt]
    vspec = spec.variant(variant)
    runtime, session = pool.tool_session(spec, vspec, Path(bundle) / record.path)
    return Loaded(fmt, variant, runtime.target_for(vspec), session)


def open_reference(model, device: str = "/CPU:0") -> Loaded:
    """The Keras reference (a loaded model) as a :class:`Loaded`."""
    return Loaded(
        "keras",
        "reference",
        f"Keras reference ({device.strip('/').split(':')[0]})",
        runtimes.KerasSession(model, device),
    )

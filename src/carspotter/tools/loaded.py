"""A bundle's formats (and the Keras reference) loaded as sessions, named as the tools show them.

``predict``, ``benchmark`` (and ``evaluate``) run every selected format side by side: each is a
:class:`Loaded` (format, variant, where it runs, its :class:`~carspotter.model.runtimes.Session`),
opened once by :func:`open_variant` or :func:`open_reference` and closed by the tool.
"""

from __future__ import annotations

from dataclasses import dataclass

from carspotter.model import runtimes
from carspotter.model.formats import FORMATS


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


def open_variant(source, fmt: str, variant: str) -> Loaded:
    """A shipped variant of an opened :class:`~carspotter.contracts.source.Source`, a session of its pool on the
    runtime tools use here (:func:`carspotter.model.session_pool.tool_runtime`); closing the session makes the pool
    load it afresh next time.

    Raises:
        UsageError: the source does not ship it.
    """
    runtime, session = source.variant(fmt, variant)
    return Loaded(fmt, variant, runtime.target_for(FORMATS[fmt].variant(variant)), session)


def open_reference(source, device: str = "/CPU:0", reload: bool = False) -> Loaded:
    """The Keras reference of an opened source (its run's model) as a :class:`Loaded`, a session of its pool
    (``reload``: ``model.keras`` loaded again, for the benchmark's load time).

    Raises:
        BundleError: a bundle whose run is not here; RunError: the model does not load.
    """
    session = source.reference(device, reload)
    return Loaded("keras", "reference", f"Keras reference ({device.strip('/').split(':')[0]})", session)

"""Core AI's own runtime (``coreai-core``) running a ``.aimodel``: :class:`CoreAISession`.

``coreai-core`` ships Apple's Core AI runtime for macOS and for Linux x86_64. On Linux (and on macOS without the
system's Core AI) ``AIModelAsset.executable()`` lowers the asset to its portable form (``.aimodelx``) and loads that
into the runtime; on macOS 27 with the system's Core AI it loads the asset itself (coreai ``authoring/asset.py``).
Either way the model runs in Apple's runtime, not in an emulation: parity, evaluate, benchmark and drift run it.
Its calls are ``async``; a session keeps one event loop and the loaded model for its whole life.

The input is ``[1, S, S, 3]`` holding 0..255 (``image``; float32, or float16 in the fp16 variant: every integer
0..255 is exact in float16), the output ``[1, C]`` probabilities (``probabilities``):
:mod:`carspotter.export.formats.coreai.convert` builds it so.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from carspotter.model.localizer import BOX_OUTPUT
from carspotter.model.runtimes import Runtime
from carspotter.model.sessions import Session
from carspotter.util.progress import progress
from carspotter.util.quiet import native_stderr, verbose

INPUT, OUTPUT = "image", "probabilities"

PROGRESS_FROM = 16
"""Batches of at least this many photos show progress (about 3 s a photo for InceptionV3 here)."""


def coreai_unavailable() -> str | None:
    """Why Core AI's runtime cannot run here (``coreai-core`` not installed: the ``coreai`` extra), or None."""
    import importlib.util

    # found, not imported: importing Core AI's MLIR libraries beside TensorFlow's is left to the checks that run it
    if importlib.util.find_spec("coreai") is None or importlib.util.find_spec("coreai.runtime") is None:
        return 'coreai-core is not installed: pip install "carspotter[coreai]"'
    return None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"coreai-core {version('coreai-core')}"
    except PackageNotFoundError:  # pragma: no cover - a source checkout of coreai
        return "coreai-core ?"


class CoreAISession(Session):
    """A ``.aimodel`` loaded once into Core AI's runtime (CPU here), run one photo per call as apps do.

    Args:
        path: the ``.aimodel`` folder.
        check: the runtime's check id (counted in :data:`carspotter.model.sessions.LOADS`).
        logger: a ``coreai.runtime.IntermediateLogger`` to attach to the function (per-layer drift), or None.

    Raises (on load):
        RuntimeError: the asset does not load, or has no function taking ``image`` and giving ``probabilities``.
    """

    runtime = "Core AI runtime"

    def __init__(self, path: Path, check: str = "coreai/runtime", logger=None):
        import warnings

        warnings.filterwarnings("ignore", module="coreai")
        import coreai.authoring  # noqa: F401  (before the runtime: its import is circular otherwise)
        from coreai.authoring import AIModelAsset

        super().__init__(check, path)
        self.version, self.device = _version(), "CPU"
        self._loop = asyncio.new_event_loop()
        self._context = AIModelAsset.load(Path(path)).executable()
        try:
            with native_stderr(keep=verbose()):  # the runtime announces each function it loads on stderr
                model = self._loop.run_until_complete(self._context.__aenter__())
                names = list(model.function_names)
                self._function = (
                    model.load_function(names[0], intermediate_logger=logger)
                    if logger
                    else model.load_function(names[0])
                )
        except Exception:
            self._loop.close()
            raise
        desc = self._function.desc
        if INPUT not in desc.input_names or OUTPUT not in desc.output_names:
            self.close()
            raise RuntimeError(
                f"{path}: its function takes {desc.input_names} and gives {desc.output_names}, not "
                f"{INPUT!r} -> {OUTPUT!r}"
            )
        self._has_box = BOX_OUTPUT in desc.output_names  # a file exported from a run with a localizer
        self.input_dtype = np.dtype(desc.input_descriptor(INPUT).dtype)  # float16 for the fp16 variant
        self.input_shape = tuple(desc.input_descriptor(INPUT).shape)

    def _one(self, pixels: np.ndarray, output: str = OUTPUT) -> np.ndarray:
        from coreai.runtime import NDArray

        async def call():
            out = await self._function({INPUT: NDArray(np.ascontiguousarray(pixels, self.input_dtype))})
            return out[output].numpy()

        return np.asarray(self._loop.run_until_complete(call()), np.float32).reshape(1, -1)

    def _infer(self, pixels, output: str = OUTPUT):
        # seconds a photo on one thread: a gate's hundreds of photos say how far they are (every 30 s off a terminal)
        rows = progress(pixels.astype(np.float32), len(pixels), "Core AI runtime", min_total=PROGRESS_FROM)
        return np.concatenate([self._one(px[None], output) for px in rows])

    def box(self, pixels):
        super().box(pixels)
        return self._infer(np.asarray(pixels), BOX_OUTPUT) if self._has_box else None

    def close(self):
        if not self._loop.is_closed():
            try:
                self._loop.run_until_complete(self._context.__aexit__(None, None, None))
            finally:
                self._loop.close()
        self._function = None
        super().close()


LABELS_KEY = "carspotter.labels"
"""The asset's custom metadata key holding the class names (a list), written at export."""


def asset_labels(path: Path) -> list[str] | None:
    """The labels a ``.aimodel`` carries in its metadata (:data:`LABELS_KEY`), or None without them."""
    import json

    import coreai.authoring  # noqa: F401
    from coreai.authoring import AIModelAsset

    meta = AIModelAsset.load(Path(path)).metadata
    # coreai-core 1.0.0b3 names it creator_defined_metadata (metadata.json "creatorDefinedMetadata"); its stub says
    # custom_metadata
    custom = getattr(meta, "creator_defined_metadata", None) or getattr(meta, "custom_metadata", None) or {}
    value = custom.get(LABELS_KEY)
    return json.loads(value) if isinstance(value, str) else value


def _open(path: Path, labels: list[str] | None) -> CoreAISession:
    from carspotter.util.errors import ComparisonError

    if labels is not None and asset_labels(path) != list(labels):
        raise ComparisonError(f"{path}: the Core AI model's labels differ from the manifest's")
    return CoreAISession(path)


COREAI_RUNTIME = Runtime(
    "Core AI runtime (CPU)", "coreai/runtime", lambda p, labels, v, t: _open(p, labels), coreai_unavailable
)
"""Core AI's own runtime (``coreai-core``): the one runtime of the ``coreai`` format."""


MAX_OP_ID = 1 << 17
"""Compile identifiers requested from Core AI's ``IntermediateLogger`` (0 .. this - 1). A release-mode asset keeps no
map from its compiled ops back to the program, but the runtime logs every op whose identifier is requested, in the
order it executes them; InceptionV3's fp16 asset numbers its ops up to about 7,100."""


class CoreAITensors:
    """Every floating-point tensor a ``.aimodel`` computes, as Core AI's runtime computes it, for per-layer drift.

    The function is loaded with a ``coreai.runtime.IntermediateLogger`` asking for every compile identifier below
    :data:`MAX_OP_ID` (coreai-torch's ``CoreAIInspector`` asks for the ones its debug map names; a release asset has
    none, so all are asked for). Each op's outputs arrive, in execution order, through the logger's callback
    (``(arrays, "input" | "output", CompileIdentifiers)``); constants logged while the function loads are left out.
    Names are ``op<id>``; the matching by value in :func:`carspotter.measure.drift.match` needs no map back to the
    program. A buffer the runtime reuses in place may be logged before it is written: such a tensor matches no probe.

    Args:
        path: the ``.aimodel`` folder.

    Raises (on load):
        RuntimeError: as :class:`CoreAISession`.
    """

    def __init__(self, path: Path):
        from coreai.runtime import CompileIdentifiers, IntermediateLogger

        self._logged: list[tuple[int, list]] = []
        logger = IntermediateLogger([CompileIdentifiers(i) for i in range(MAX_OP_ID)], self._capture)
        self._session = CoreAISession(path, check="coreai/drift", logger=logger)

    def _capture(self, arrays, kind: str, ids) -> None:
        if kind == "output":
            self._logged.append((ids.id, [_to_numpy(a) for a in arrays]))

    def run(self, pixels: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """``[1, S, S, 3]`` pixels -> ``[(op name, float32 array)]`` in execution order (floating-point outputs)."""
        self._logged.clear()
        self._session.infer(np.asarray(pixels))
        out = []
        for op, arrays in self._logged:
            for k, value in enumerate(arrays):
                if value is not None and np.issubdtype(value.dtype, np.floating) and value.ndim >= 1:
                    out.append((f"op{op}" if len(arrays) == 1 else f"op{op}:{k}", value.astype(np.float32)))
        return out

    def close(self) -> None:
        self._session.close()


def _to_numpy(array) -> np.ndarray | None:
    """A runtime array logged by the ``IntermediateLogger`` as a numpy copy; None for none, or for a type numpy does not
    hold (a palettized file's packed sub-byte indices): an exception in the callback would abort the function's load."""
    from coreai.runtime._ndarray import NDArray  # the public wrapper of the runtime's own arrays

    try:
        return None if array is None else np.array(NDArray._wrap(array).numpy(), copy=True)
    except Exception:
        return None


def coreai_intermediates(path: Path, variant=None) -> CoreAITensors:
    """``Execution.intermediates`` of a ``.aimodel`` (every variant runs as the runtime runs it)."""
    return CoreAITensors(path)

"""The registry of export formats: :data:`FORMATS`, one :class:`~carspotter.model.format_spec.FormatSpec` per format,
and what selects from it (``--formats``, ``--variants``).

A format is one package and one registration. The package (for the built-in ones,
``export/formats/coreml``, ``export/formats/tflite``, ``export/formats/onnx``, ``export/formats/coreai``) defines a
FormatSpec (:mod:`carspotter.model.format_spec`: who it is and where its files go, then its conversion, execution,
checks and shipping parts). The format is registered either by an entry point in the ``carspotter.formats`` group
(pyproject.toml: the built-in formats, loaded on first use) or by :func:`register` at run time (a plug-in or a
test). Export, the manifest schema, parity, predict and the benchmark all read the registry. A passing variant
becomes the platform's default in the order export's ``choose_default`` gives (the smallest, then fastest, variant
that passes its gates). The idea is Ultralytics' export-format table, without its dispatching method.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from importlib.metadata import entry_points

from carspotter.model.format_spec import FormatSpec, VariantSpec
from carspotter.util.errors import UsageError

FAMILIES = ("fp32", "fp16", "int8", "lowbit")
"""Precision families ``--variants`` selects from; each is also a row of the tolerance table. ``int8``:
8-bit integer weights (and, calibrated, activations); ``lowbit``: weights in fewer than 8 bits
(palettized to 6 or 4 bits, or 4-bit block-wise), computed in fp16."""


ENTRY_POINT_GROUP = "carspotter.formats"
"""Entry-point group whose objects are :class:`FormatSpec` (pyproject.toml ``[project.entry-points."carspotter.formats"]``)."""


class Registry(MutableMapping):
    """Format name -> :class:`FormatSpec`, in ``order``; the entry points of :data:`ENTRY_POINT_GROUP` are
    loaded on first use, :meth:`register` adds more at run time (``registry[name] = spec`` replaces one,
    as tests do with ``monkeypatch.setitem``)."""

    def __init__(self, group: str):
        self._group, self._formats, self._loaded = group, {}, False

    def _all(self) -> dict[str, FormatSpec]:
        if not self._loaded:
            self._loaded = True
            for ep in entry_points(group=self._group):
                self.register(ep.load())
        return self._formats

    def register(self, spec: FormatSpec, replace: bool = False) -> FormatSpec:
        """Add a format; returns it.

        Raises:
            ValueError: not a FormatSpec, no converter, or a name or platform already registered (unless ``replace``;
                a format that :attr:`~FormatSpec.joins` another shares its platform folder).
        """
        if not isinstance(spec, FormatSpec) or spec.conversion.convert is None:
            raise ValueError(f"{spec!r}: a format registers a FormatSpec with a converter")
        formats = self._all()
        taken = {
            f.platform: f.name
            for f in formats.values()
            if f.name != spec.name and spec.joins != f.name and f.joins != spec.name
        }
        if (spec.name in formats and not replace) or spec.platform in taken:
            raise ValueError(f"format {spec.name} (platform folder {spec.platform}) is already registered")
        formats[spec.name] = spec
        self._formats = dict(sorted(formats.items(), key=lambda kv: (kv[1].order, kv[0])))
        return spec

    def unregister(self, name: str) -> None:
        """Remove a format registered at run time (tests); no error when absent."""
        self._all().pop(name, None)

    def __getitem__(self, name: str) -> FormatSpec:
        return self._all()[name]

    def __setitem__(self, name: str, spec: FormatSpec) -> None:
        if spec.name != name:
            raise ValueError(f"format {spec.name} registered under the name {name}")
        self.register(spec, replace=True)

    def __delitem__(self, name: str) -> None:
        del self._all()[name]

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


FORMATS = Registry(ENTRY_POINT_GROUP)
"""Every registered format by name (see the module docstring)."""


def register(spec: FormatSpec, replace: bool = False) -> FormatSpec:
    """Register a format in :data:`FORMATS` (see :meth:`Registry.register`)."""
    return FORMATS.register(spec, replace)


def parse_formats(text: str | tuple[str, ...]) -> tuple[str, ...]:
    """``--formats`` value (comma-separated, or already a tuple) -> format names, in the order given.

    Raises:
        UsageError: empty, or a name not in :data:`FORMATS`.
    """
    names = tuple(f.strip() for f in text.split(",") if f.strip()) if isinstance(text, str) else tuple(text)
    unknown = [f for f in names if f not in FORMATS]
    if unknown or not names:
        raise UsageError(f"--formats {','.join(names) or '(empty)'}: choose from {','.join(FORMATS)}")
    return names


def select(
    families: str | None, formats: tuple[str, ...] | None = None, baseline: dict[str, str] | None = None
) -> dict[str, list[VariantSpec]]:
    """Variants to build per format for a ``--variants`` value (comma-separated families).

    The ``always`` variants (the ORT-format ONNX) come with every format; a format none of whose selected
    variants may become the default (TFLite with ``lowbit`` alone), or one whose default must also pass a
    phone-accelerator gate (ONNX), also gets its baseline, so it still has a default.

    Args:
        families: e.g. ``"fp32,fp16,int8"``; None builds each format's baseline variant.
        formats: formats to build (default: every registered one).
        baseline: per-format baseline overrides (from a :class:`FormatOption` with ``picks_baseline``).

    Raises:
        UsageError: an unknown family name, or a baseline override naming no variant.
    """
    formats = tuple(FORMATS) if formats is None else formats
    if families is None:
        chosen = {}
        for name in formats:
            fmt = FORMATS[name]
            wanted = (baseline or {}).get(name, fmt.baseline)
            if wanted not in {v.name for v in fmt.variants}:
                raise UsageError(f"{name} variant {wanted}: choose from {', '.join(v.name for v in fmt.variants)}")
            chosen[name] = [fmt.variant(wanted)] + [v for v in fmt.variants if v.always and v.name != wanted]
        return chosen
    wanted = [f.strip() for f in families.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in FAMILIES]
    if unknown or not wanted:
        raise UsageError(f"--variants {families}: choose from {','.join(FAMILIES)} (comma-separated)")
    chosen = {}
    for name in formats:
        fmt = FORMATS[name]
        picked = [v for v in fmt.variants if v.family in wanted or v.always]
        # TFLite with --variants lowbit has no possible default; ONNX's int8 or fp16 file may fail the phone gate
        if fmt.checks.accelerator_gate is not None or not any(v.family in wanted and v.default_ok for v in picked):
            picked = [fmt.variant(fmt.baseline)] + [v for v in picked if v.name != fmt.baseline]
        chosen[name] = picked
    return chosen


def baseline_overrides(values: dict) -> dict[str, str]:
    """Per-format baseline variants chosen by the formats' ``picks_baseline`` options, from option values by dest."""
    return {
        f.name: values[o.dest]
        for f in FORMATS.values()
        for o in f.conversion.options
        if o.picks_baseline and values.get(o.dest) is not None
    }

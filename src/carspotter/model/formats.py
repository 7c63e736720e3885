"""The registry of export formats and their variants: :data:`FORMATS`, one :class:`FormatSpec` per format.

A format is one package and one registration. The package (for the built-in ones,
``export/formats/coreml``, ``export/formats/tflite``, ``export/formats/onnx``, ``export/formats/coreai``) defines a
:class:`FormatSpec`: where it goes in a bundle (platform folder, file name), how it is built
(``convert``), how it runs (its runtimes, the first one used to measure variants at export
unless ``measure`` says otherwise), its variants (name, precision family, calibration, MIL
mode), the variant built without ``--variants``, the order in which a passing variant becomes
the platform's default (the smallest, then fastest, variant that passes its gates: export's
``choose_default``) and which phone-accelerator check it runs on every file: what running and judging a
format needs, and what export writes around its files for people and apps (the platform README, the package
sources, the snippets: the export layer's ``PlatformPackage``, in :attr:`FormatSpec.package`). The format is
registered either by an entry point in the ``carspotter.formats`` group (pyproject.toml: the
built-in formats, loaded on first use) or by :func:`register` at run time (a plug-in or a
test). Export, the manifest schema, parity, predict and the benchmark all read the registry.
The idea is Ultralytics' export-format table, without its dispatching method.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable

from carspotter.model.runtimes import Runtime
from carspotter.util.errors import UsageError

FAMILIES = ("fp32", "fp16", "int8", "lowbit")
"""Precision families ``--variants`` selects from; each is also a row of the tolerance table. ``int8``:
8-bit integer weights (and, calibrated, activations); ``lowbit``: weights in fewer than 8 bits
(palettized to 6 or 4 bits, or 4-bit block-wise), computed in fp16."""


@dataclass(frozen=True)
class VariantSpec:
    """One buildable variant of a format.

    Attributes:
        name: e.g. ``fp16``, ``int8-dynamic``; part of the file name when not the default.
        family: ``fp32``, ``fp16``, ``int8`` or ``lowbit``: what ``--variants`` selects, the gate that
            applies, and the parity tolerance row.
        calibration: built from representative training photos.
        calibration_limit: a calibrated variant that reads only the first this many representative photos (the
            Core ML mixed plan's sensitivity photos); None: all ``--calibration-photos``. Its gate leaves out only the
            photos it read.
        mil_mode: Core ML only: the MIL execution mode that computes it like the
            Core ML runtime does (``fp32`` or ``fp16``).
        default_ok: may become the format's default (False for a file made for another use:
            a dynamic-batch ONNX for servers, the ORT-format copy, a variant that needs a newer OS
            than the platform package supports).
        always: built whenever its format is, whatever ``--variants`` selects (a copy in another
            file format of the fp32 model: the ORT-format file).
        suffix: file suffix when not the format's own (``.ort``): the file is ``STEM{suffix}``.
        use: what the variant is for, in one line (platform README, manifest).
        copy_of: the variant this one is the same model of, in another file format (``ort``: ``fp32``);
            parity checks it, ``evaluate`` does not measure it twice.
        recipe: how the format's converter makes it, as the format's own data (ONNX: a ``Recipe`` of batch, fp16,
            quantization and file kind); None where the name and the fields above say it all.
    """

    name: str
    family: str
    calibration: bool = False
    calibration_limit: int | None = None
    mil_mode: str | None = None
    default_ok: bool = True
    always: bool = False
    suffix: str | None = None
    use: str = ""
    copy_of: str | None = None
    recipe: object = None


@dataclass(frozen=True)
class FormatOption:
    """An option a format declares for ``carspotter export``, added to the command line from the registry.

    Attributes:
        flag: ``--coreml-precision``; its value is ``ExportOptions.format_options[dest]``.
        choices: the values it takes (their type is the option's type).
        default: the value without the flag (None: the format's own choice).
        help: for ``--help``.
        picks_baseline: the value names the variant built without ``--variants`` (Core ML's compute precision);
            otherwise it reaches the converter as ``Build.options[dest]`` (the ONNX opset).
    """

    flag: str
    choices: tuple
    default: object
    help: str
    picks_baseline: bool = False

    @property
    def dest(self) -> str:
        """``coreml_precision`` for ``--coreml-precision``."""
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class CrossCheck:
    """Two runtimes of one format compared on the same photos by the parity rule (Core ML ``predict`` against the MIL
    execution): ``runtime`` is the candidate, ``against`` its reference, at tolerance row ``precision``; the parity
    check id is ``FORMAT/ID``."""

    id: str
    runtime: Runtime
    against: Runtime
    precision: str


@dataclass(frozen=True)
class FormatSpec:
    """One export format (see the module docstring).

    Attributes:
        name: ``coreml``, ``tflite``, ``onnx``: the ``--formats`` value and manifest key.
        title: for people.
        platform: the bundle folder it goes in.
        filename: the default variant's file name; others are ``STEM.<variant>SUFFIX``.
        variants: every variant it can build, in build order.
        baseline: the variant built without ``--variants`` (with the ``always`` ones).
        runtimes: how parity runs it (the first runs on any machine).
        convert: ``(build, path) -> facts``: writes one variant file (or package folder) at ``path`` from a
            ``carspotter.export.build.Build``; returns the format facts recorded in the manifest.
        measure: how export measures a variant on CPU (default: ``runtimes[0]``).
        tools: what predict, benchmark and evaluate run it on, first available first (default: ``runtimes[0]``).
        model_dir: where the model files and ``labels.txt`` sit inside the platform folder, which is also the
            platform's package (``Sources/CarSpotter`` for the Swift package's resources, ``src/main/assets/carspotter`` for the
            Android library's assets, ``""`` for the npm package's root).
        accelerators: ``(path) -> report``: the phone-accelerator check of one variant file
            (the format package's ``accelerators`` module), recorded per variant; None: none exists off the device.
        accelerator_gate: ``(report) -> (passed, text)``: what the default variant's report must show
            (ONNX: every node on the NNAPI and CoreML EPs); None: recorded, not gated.
        device_mode: the arithmetic the default runs in on devices (Core ML: ``fp16``), for the
            tolerance row recorded in the golden set; None when the file's own precision.
        app_package: the kind of package the platform folder is (``npm``, ``swift``, ``android``), for tools that
            drive it (the app paths run the ``npm`` one in Node and Chromium); ``""`` for none.
        app_model_rank: the app paths run their pixels through a shipped fp32 variant of the format with the
            lowest rank (ONNX 1, TFLite 2: the resize is measured, not the runtime); None: never.
        options: what the format adds to ``carspotter export`` (:class:`FormatOption`).
        deployment_target: the oldest OS the platform package supports, in the converter's terms (Core ML:
            ``iOS16``); ``""`` where the package states none.
        structure: ``(default file) -> facts``: the file read without running it, for parity's ``FORMAT/structure``
            check (``summary`` and ``facts`` keys are reported); None: no such check.
        structure_expectations: ``(facts, manifest entry, manifest) -> {what: (found, expected)}``: what
            ``structure`` must find.
        cross_checks: runtimes of the format checked against each other (:class:`CrossCheck`).
        golden_in_package: where inside the platform folder the package's tests need their own copy of the
            golden set (the Swift test target's resources: a simulator or device test bundle only holds what is
            inside the package); ``""``: the package reads the bundle's ``golden/``.
        intermediates: ``(path, VariantSpec) -> tensors``: every intermediate tensor of a variant file
            (the format package's ``drift`` module: an object whose ``run([1, S, S, 3])`` gives ``[(name, array)]``),
            for per-layer drift; None: the format exposes none.
        model_dir_for: ``(bundle name) -> model_dir`` where the folder depends on the bundle's name (Android: the asset
            folder ``src/main/assets/carspotter_<name>``, so two bundles' libraries do not merge their assets); None:
            ``model_dir``.
        joins: the format whose platform folder and package this one's files join (Core AI: ``coreml``, whose Swift
            package loads either file by OS version); its ``platform`` and ``model_dir`` are that format's, it is built
            after it, and that format's package is written knowing this one's files. ``""``: a folder of its own.
        unavailable: ``() -> reason or None``: why the format cannot be built on this machine (an optional extra not
            installed); export leaves it out of "every format" and says why, and refuses it when named.
        order: position in the registry (build order, ``--formats`` listing): lower first.
        carries_box: built from a run with a localizer (``carspotter localize``), the file has the two-output model:
            ``probabilities`` and ``box`` (:mod:`carspotter.model.localizer`), and its sessions give the box
            (``Session.box``); formats without it ship the classifier alone.
        package: what export writes around the files for people and apps (the export layer's
            ``carspotter.export.platform_package.PlatformPackage``: platform README, package sources, snippets); held
            here so that one entry point registers the whole format; None: a bare folder.
        photo_runtime: a runtime whose sessions take whole photos of any size and resize them themselves
            (``classify_as(images, labels)``: MediaPipe's ImageClassifier), run by the app paths that hand it photos;
            None: none.
        app_paths: the format's own app paths (``carspotter.measure.resizers.AppPath``: those that hand its
            ``photo_runtime`` the photo), added to :data:`carspotter.measure.resizers.PATHS`.
        accelerator_cells: ``(report or None) -> (EP coverage, GPU delegate)``: the benchmark's two accelerator cells
            for one variant's report; None: ``-`` and ``-``.
        accelerator_note: what those cells mean for this format, for the benchmark's notes.
    """

    name: str
    title: str
    platform: str
    filename: str
    variants: tuple[VariantSpec, ...]
    baseline: str
    runtimes: tuple[Runtime, ...]
    convert: Callable[..., dict] | None = None
    measure: Runtime | None = field(default=None)
    tools: tuple[Runtime, ...] = ()
    model_dir: str = ""
    accelerators: Callable[[Path], dict] | None = None
    accelerator_gate: Callable[[dict], tuple[bool, str]] | None = None
    device_mode: str | None = None
    golden_in_package: str = ""
    options: tuple[FormatOption, ...] = ()
    deployment_target: str = ""
    structure: Callable[[Path], dict] | None = None
    structure_expectations: Callable[..., dict] | None = None
    cross_checks: tuple[CrossCheck, ...] = ()
    app_package: str = ""
    app_model_rank: int | None = None
    intermediates: Callable[..., object] | None = None
    model_dir_for: Callable[[str], str] | None = None
    joins: str = ""
    unavailable: Callable[[], str | None] | None = None
    order: int = 100
    carries_box: bool = False
    package: object = None
    photo_runtime: Runtime | None = None
    app_paths: tuple = ()
    accelerator_cells: Callable[[dict | None], tuple[str, str]] | None = None
    accelerator_note: str = ""

    @property
    def tool_runtimes(self) -> tuple[Runtime, ...]:
        """Runtimes predict, benchmark and evaluate try in order (default: the first runtime)."""
        return self.tools or self.runtimes[:1]

    def variant(self, name: str) -> VariantSpec:
        """The variant called ``name``.

        Raises:
            KeyError: no such variant of this format.
        """
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"{self.name} has no variant {name!r} (it has {', '.join(v.name for v in self.variants)})")

    @property
    def measuring_runtime(self) -> Runtime:
        return self.measure or self.runtimes[0]

    def file_name(self, variant: str, default: bool) -> str:
        """``carspotter.tflite`` for the default variant, ``carspotter.int8-full.tflite`` for the others,
        ``carspotter.ort`` for a variant with its own suffix."""
        stem, suffix = Path(self.filename).stem, Path(self.filename).suffix
        own = next((v.suffix for v in self.variants if v.name == variant and v.suffix), None)
        if own:
            return f"{stem}{own}"
        return f"{stem}{suffix}" if default else f"{stem}.{variant}{suffix}"

    def models_dir(self, bundle: str = "") -> str:
        """Where the model files sit inside the platform folder for a bundle called ``bundle``."""
        return self.model_dir_for(bundle) if self.model_dir_for is not None and bundle else self.model_dir

    def bundle_path(self, name: str, bundle: str = "") -> str:
        """A model or labels file's path in the bundle: ``android/src/main/assets/carspotter_cars10/carspotter.tflite``
        for bundle ``cars10``."""
        return "/".join(p for p in (self.platform, self.models_dir(bundle), name) if p)


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
        if not isinstance(spec, FormatSpec) or spec.convert is None:
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
        if fmt.accelerator_gate is not None or not any(v.family in wanted and v.default_ok for v in picked):
            picked = [fmt.variant(fmt.baseline)] + [v for v in picked if v.name != fmt.baseline]
        chosen[name] = picked
    return chosen


def baseline_overrides(values: dict) -> dict[str, str]:
    """Per-format baseline variants chosen by the formats' ``picks_baseline`` options, from option values by dest."""
    return {
        f.name: values[o.dest]
        for f in FORMATS.values()
        for o in f.options
        if o.picks_baseline and values.get(o.dest) is not None
    }

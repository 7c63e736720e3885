"""What one export format is, in the parts a reader needs one at a time: :class:`FormatSpec`.

A format says who it is and where its files go (name, title, platform folder, file name, variants, the
baseline variant) on :class:`FormatSpec` itself; the rest is four parts, each read by one kind of code:

- :class:`Conversion` (``spec.conversion``): how a file is built (converter, command-line options, the oldest OS,
  whether this machine can build it). Read by export.
- :class:`Execution` (``spec.execution``): how a file runs (runtimes, which one measures, which the tools use,
  the whole-photo runtime, intermediate tensors, the arithmetic on devices). Read by export, parity and the tools.
- :class:`Checks` (``spec.checks``): how a file is judged beyond the parity rule (phone-accelerator report and
  gate, structure, runtimes cross-checked). Read by export's defaults, parity and the benchmark.
- :class:`Shipping` (``spec.shipping``): what goes around the files for people and apps (where the model sits
  in the platform package, the package writer, the app paths). Read by export's package writers and the app paths.

The registry (:mod:`carspotter.model.formats`) holds one FormatSpec per format; each format's package builds its
own (``export/formats/NAME/format.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from carspotter.model.runtimes import Runtime


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
class Conversion:
    """How a format's files are built (export reads it).

    Attributes:
        convert: ``(build, path) -> facts``: writes one variant file (or package folder) at ``path`` from a
            ``carspotter.export.build.Build``; returns the format facts recorded in the manifest.
        options: what the format adds to ``carspotter export`` (:class:`FormatOption`).
        deployment_target: the oldest OS the platform package supports, in the converter's terms (Core ML:
            ``iOS16``); ``""`` where the package states none.
        unavailable: ``() -> reason or None``: why the format cannot be built on this machine (an optional extra not
            installed); export leaves it out of "every format" and says why, and refuses it when named.
        carries_box: built from a run with a localizer (``carspotter localize``), the file has the two-output model:
            ``probabilities`` and ``box`` (:mod:`carspotter.model.localizer`), and its sessions give the box
            (``Session.box``); formats without it ship the classifier alone.
    """

    convert: Callable[..., dict] | None
    options: tuple[FormatOption, ...] = ()
    deployment_target: str = ""
    unavailable: Callable[[], str | None] | None = None
    carries_box: bool = False


@dataclass(frozen=True)
class Execution:
    """How a format's files run (export measures with it, parity and the tools run it).

    Attributes:
        runtimes: how parity runs it (the first runs on any machine).
        measure: how export measures a variant on CPU (default: ``runtimes[0]``).
        tools: what predict, benchmark and evaluate run it on, first available first (default: ``runtimes[0]``).
        photo_runtime: a runtime whose sessions take whole photos of any size and resize them themselves
            (``classify_as(images, labels)``: MediaPipe's ImageClassifier), run by the app paths that hand it photos;
            None: none.
        intermediates: ``(path, VariantSpec) -> tensors``: every intermediate tensor of a variant file
            (the format package's ``drift`` module: an object whose ``run([1, S, S, 3])`` gives ``[(name, array)]``),
            for per-layer drift; None: the format exposes none.
        device_mode: the arithmetic the default runs in on devices (Core ML: ``fp16``), for the
            tolerance row recorded in the golden set; None when the file's own precision.
    """

    runtimes: tuple[Runtime, ...]
    measure: Runtime | None = None
    tools: tuple[Runtime, ...] = ()
    photo_runtime: Runtime | None = None
    intermediates: Callable[..., object] | None = None
    device_mode: str | None = None

    @property
    def tool_runtimes(self) -> tuple[Runtime, ...]:
        """Runtimes predict, benchmark and evaluate try in order (default: the first runtime)."""
        return self.tools or self.runtimes[:1]

    @property
    def measuring_runtime(self) -> Runtime:
        """The runtime export measures variants with on CPU (default: the first runtime)."""
        return self.measure or self.runtimes[0]


@dataclass(frozen=True)
class Checks:
    """How a format's files are judged beyond the parity rule (export's defaults, parity, the benchmark).

    Attributes:
        accelerators: ``(path) -> report``: the phone-accelerator check of one variant file
            (the format package's ``accelerators`` module), recorded per variant; None: none exists off the device.
        accelerator_gate: ``(report) -> (passed, text)``: what the default variant's report must show
            (ONNX: every node on the NNAPI and CoreML EPs); None: recorded, not gated.
        accelerator_cells: ``(report or None) -> (EP coverage, GPU delegate)``: the benchmark's two accelerator cells
            for one variant's report; None: ``-`` and ``-``.
        accelerator_note: what those cells mean for this format, for the benchmark's notes.
        structure: ``(default file) -> facts``: the file read without running it, for parity's ``FORMAT/structure``
            check (``summary`` and ``facts`` keys are reported); None: no such check.
        structure_expectations: ``(facts, manifest entry, manifest) -> {what: (found, expected)}``: what
            ``structure`` must find.
        cross_checks: runtimes of the format checked against each other (:class:`CrossCheck`).
    """

    accelerators: Callable[[Path], dict] | None = None
    accelerator_gate: Callable[[dict], tuple[bool, str]] | None = None
    accelerator_cells: Callable[[dict | None], tuple[str, str]] | None = None
    accelerator_note: str = ""
    structure: Callable[[Path], dict] | None = None
    structure_expectations: Callable[..., dict] | None = None
    cross_checks: tuple[CrossCheck, ...] = ()


@dataclass(frozen=True)
class Shipping:
    """What goes around a format's files for people and apps (export's package writers, the app paths).

    Attributes:
        model_dir: where the model files and ``labels.txt`` sit inside the platform folder, which is also the
            platform's package (``Sources/CarSpotter`` for the Swift package's resources, ``src/main/assets/carspotter``
            for the Android library's assets, ``""`` for the npm package's root).
        model_dir_for: ``(bundle name) -> model_dir`` where the folder depends on the bundle's name (Android: the asset
            folder ``src/main/assets/carspotter_<name>``, so two bundles' libraries do not merge their assets); None:
            ``model_dir``.
        golden_in_package: where inside the platform folder the package's tests need their own copy of the
            golden set (the Swift test target's resources: a simulator or device test bundle only holds what is
            inside the package); ``""``: the package reads the bundle's ``golden/``.
        package: the platform README, package sources and snippets export writes (the export layer's
            ``carspotter.export.platform_package.PlatformPackage``); None: a bare folder.
        app_package: the kind of package the platform folder is (``npm``, ``swift``, ``android``), for tools that
            drive it (the app paths run the ``npm`` one in Node and Chromium); ``""`` for none.
        app_model_rank: the app paths run their pixels through a shipped fp32 variant of the format with the
            lowest rank (ONNX 1, TFLite 2: the resize is measured, not the runtime); None: never.
        app_paths: the format's own app paths (``carspotter.measure.resizers.AppPath``: those that hand its
            ``Execution.photo_runtime`` the photo), added to :data:`carspotter.measure.resizers.PATHS`.
    """

    model_dir: str = ""
    model_dir_for: Callable[[str], str] | None = None
    golden_in_package: str = ""
    package: object = None
    app_package: str = ""
    app_model_rank: int | None = None
    app_paths: tuple = ()

    def models_dir(self, bundle: str = "") -> str:
        """Where the model files sit inside the platform folder for a bundle called ``bundle``."""
        return self.model_dir_for(bundle) if self.model_dir_for is not None and bundle else self.model_dir


@dataclass(frozen=True)
class FormatSpec:
    """One export format: who it is and where its files go, and its four parts (see the module docstring).

    Attributes:
        name: ``coreml``, ``tflite``, ``onnx``: the ``--formats`` value and manifest key.
        title: for people.
        platform: the bundle folder it goes in.
        filename: the default variant's file name; others are ``STEM.<variant>SUFFIX``.
        variants: every variant it can build, in build order.
        baseline: the variant built without ``--variants`` (with the ``always`` ones).
        conversion: how its files are built (:class:`Conversion`).
        execution: how they run (:class:`Execution`).
        checks: how they are judged beyond the parity rule (:class:`Checks`).
        shipping: what goes around them for people and apps (:class:`Shipping`).
        joins: the format whose platform folder and package this one's files join (Core AI: ``coreml``, whose Swift
            package loads either file by OS version); its ``platform`` and ``model_dir`` are that format's, it is built
            after it, and that format's package is written knowing this one's files. ``""``: a folder of its own.
        order: position in the registry (build order, ``--formats`` listing): lower first.
    """

    name: str
    title: str
    platform: str
    filename: str
    variants: tuple[VariantSpec, ...]
    baseline: str
    conversion: Conversion
    execution: Execution
    checks: Checks = field(default_factory=Checks)
    shipping: Shipping = field(default_factory=Shipping)
    joins: str = ""
    order: int = 100

    def variant(self, name: str) -> VariantSpec:
        """The variant called ``name``.

        Raises:
            KeyError: no such variant of this format.
        """
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"{self.name} has no variant {name!r} (it has {', '.join(v.name for v in self.variants)})")

    def file_name(self, variant: str, default: bool) -> str:
        """``carspotter.tflite`` for the default variant, ``carspotter.int8-full.tflite`` for the others,
        ``carspotter.ort`` for a variant with its own suffix."""
        stem, suffix = Path(self.filename).stem, Path(self.filename).suffix
        own = next((v.suffix for v in self.variants if v.name == variant and v.suffix), None)
        if own:
            return f"{stem}{own}"
        return f"{stem}{suffix}" if default else f"{stem}.{variant}{suffix}"

    def bundle_path(self, name: str, bundle: str = "") -> str:
        """A model or labels file's path in the bundle: ``android/src/main/assets/carspotter_cars10/carspotter.tflite``
        for bundle ``cars10``."""
        return "/".join(p for p in (self.platform, self.shipping.models_dir(bundle), name) if p)

"""What export writes around a format's model files for people and apps: one :class:`PlatformPackage` per format.

The model layer's :class:`~carspotter.model.format_spec.FormatSpec` holds what running and judging a format needs; the
platform README (its own start and the shared sections' platform texts: self-test, "show the answer" code, resize
advice) and the package writer (Swift package, Android library, npm package: :mod:`carspotter.export.app_packages`)
live here; each format's package hands its own in its :class:`~carspotter.model.format_spec.FormatSpec` (``package``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from carspotter.util.errors import ExportError


@dataclass(frozen=True)
class PlatformTexts:
    """What a format's platform README says beyond its own README function (Markdown).

    Attributes:
        selftest: "Self-test" section: how to run the shipped self-test and what a failure means.
        threshold_code: code showing the answer only above the threshold; ``{t}`` is the threshold and
            ``{neg}`` the test for the "not a car" class (empty without one), filled by ``str.format``.
        not_car: how ``{neg}`` tests the top-1 for the class named ``{name}`` in this platform's language.
        resize_advice: which resize to use on the platform (the "Resizing" section's first paragraph).
        roi_advice: how an app passes a region of interest to the package (its crop UI, the platform's detectors).
    """

    selftest: str = ""
    threshold_code: str = ""
    not_car: str = ""
    resize_advice: str = ""
    roi_advice: str = ""


@dataclass(frozen=True)
class PackageInfo:
    """What a platform package is generated from.

    Attributes:
        name: the bundle's name; version: carspotter's version.
        labels: C class names; size: input side S (pixels).
        threshold: the "show the answer" probability 0..1, or None; not_a_car: that class's name, or None.
        model: the default model's file name; others: the other shipped variants' file names.
        model_sha256: the default model's digest (:func:`carspotter.contracts.bundle_facts.model_digest`: a file's
            sha256, a folder's sha256sum listing's sha256): what a package checks a delivered model against, and the
            cache key of compiled models.
        golden: whether the bundle has a golden set (the package's self-test then runs on it).
        deployment_target: the oldest OS the package supports (:attr:`carspotter.model.format_spec.Conversion.deployment_target`).
        joined_model: the Core AI ``.aimodel`` file name when a format joined the package with one (the Swift package
            loads it on iOS 27 / macOS 27 and later), else None; joined_sha256: its digest, else None.
        options: the formats' own export options by dest (``ai_pack_delivery``: the AI pack's delivery type).
    """

    name: str
    version: str
    labels: tuple[str, ...]
    size: int
    threshold: float | None
    not_a_car: str | None
    model: str
    others: tuple[str, ...]
    model_sha256: str
    golden: bool = True
    deployment_target: str = ""
    joined_model: str | None = None
    joined_sha256: str | None = None
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PlatformPackage:
    """One format's platform package.

    Attributes:
        format: the format's name (a key of :data:`carspotter.model.formats.FORMATS`).
        readme: ``(model file name, InputSpec, number of classes) -> Markdown``: the platform README's start.
        package: ``(platform folder, PackageInfo) -> None``: writes the package around the model files (sources,
            tests, build files, the bundle facts), or None for a bare folder.
        texts: the README's other sections (:class:`PlatformTexts`).
    """

    format: str
    readme: Callable[..., str]
    package: Callable[[Path, PackageInfo], None] | None = None
    texts: PlatformTexts = PlatformTexts()


def package_for(name: str) -> PlatformPackage:
    """The platform package of format ``name`` (its :attr:`~carspotter.model.format_spec.Shipping.package`).

    Raises:
        ExportError: the format has none (a plug-in format sets ``FormatSpec(package=PlatformPackage(...))``).
    """
    from carspotter.model.formats import FORMATS

    package = FORMATS[name].shipping.package
    if not isinstance(package, PlatformPackage):
        raise ExportError(f"format {name} has no platform package: give its FormatSpec package=PlatformPackage(...)")
    return package

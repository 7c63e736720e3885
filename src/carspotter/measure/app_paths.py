"""App paths: the original photo decoded and resized the way an app does it, against the reference.

Runtime parity feeds every format our own pixels, so it proves the runtimes and nothing else.
An app decodes and resizes the photo itself; each :class:`AppPath` here does what one kind
of app does, from the photo file:

- ``carspotter``: our decoder (:mod:`carspotter.model.photos`: Pillow decode, the reference resize), the reference's own path;
- ``pillow-antialias``: Pillow, EXIF applied, ``Image.resize(BILINEAR)`` (antialiased: the filter widens with
  the scale), what most Python code does and carspotter's reference before it adopted MediaPipe's resize;
- ``pillow-no-antialias``: Pillow, EXIF applied, bilinear sampling without antialiasing (``Image.transform``);
- ``pillow-draft``: Pillow as ``Image.thumbnail`` does it: JPEG DCT-domain downscaling (``draft``), then
  bilinear with ``reducing_gap=2.0``;
- ``opencv-linear`` / ``opencv-area``: ``cv2.imread`` (applies EXIF orientation), BGR->RGB,
  ``cv2.resize`` with ``INTER_LINEAR`` / ``INTER_AREA``;
- ``tf-bilinear``: ``tf.image.resize(method="bilinear", antialias=False)``, float pixels fed as they come;
- ``mediapipe``: the Android package's path: the upright photo box-reduced
  (:func:`carspotter.model.reference_resize.box_reduce`, a no-op below 2 x S), then given to MediaPipe Tasks'
  ``ImageClassifier`` with the bundle's TFLite model, which does the bilinear step itself;
- ``mediapipe-bare``: the whole photo given to MediaPipe as it is (an app not using the package): the
  reference's pixels for photos with both sides below 2 x S, aliased beyond;
- ``sharp``: Node's sharp, ``.rotate().resize(S, S, {fit: 'fill'})`` with its default kernel
  (lanczos3), as a React Native / Node backend does it (needs Node and sharp; skipped otherwise);
- ``npm-node`` / ``npm-chromium``: the bundle's own npm package (``onnx/``), as an app using it does: the photo
  decoded by sharp in Node, or by headless Chromium (``createImageBitmap``, EXIF applied, canvas RGBA), then the
  package's port of the reference resize. These are gated at :data:`PACKAGE_MIN_AGREEMENT` top-1 agreement.

Vision's ``.scaleFill`` (iOS) cannot run here: Apple documents that it scales each dimension
to fill the input, not which filter it uses (see the table in docs/app-paths.md).

For each path: pixel drift against the exact input (mean / max levels), and through an fp32
format of the bundle (ONNX Runtime, else LiteRT): top-1 agreement and ordered top-3 agreement
with the reference, top-1 / top-3 accuracy against the true labels, max |dp|, and the photos
whose reference top-1 / top-2 margin is at least :data:`~carspotter.measure.parity_rule.APP_PATH_MIN_MARGIN`
that changed their top-1 (decisive flips). Figures are given for all photos and for the
upscaled ones (a side under the input size), where resizers differ most.
"""

from __future__ import annotations

from pathlib import Path
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from carspotter.model.formats import FORMATS
from carspotter.model.runtimes import Session
from carspotter.model.session_pool import SessionPool
from carspotter.measure.app_drivers import PathUnavailable, install_npm_copy
from carspotter.measure.app_figures import PathFigures, figures, upscaled_photos
from carspotter.measure.app_gate import AppGate
from carspotter.measure.resizers import PACKAGE_MIN_AGREEMENT, PATHS, AppPath, _upright

__all__ = [
    "AppGate",
    "AppModels",
    "AppPath",
    "PACKAGE_MIN_AGREEMENT",
    "PATHS",
    "PathFigures",
    "PathUnavailable",
    "PathRun",
    "app_model",
    "each_path",
    "figures",
    "install_npm_copy",
    "measure_path",
    "photo_probs",
    "path_probs",
    "upscaled_photos",
]


def photo_probs(session, files: list[Path], boxes: list, labels: list[str], given=None, size: int = 0) -> np.ndarray:
    """A whole-photo session (a format's :attr:`~carspotter.model.format_spec.Execution.photo_runtime`: its
    ``classify_as(images, labels)``) on the upright photos, each first passed through ``given(rgb, size)`` (what the
    app hands it; default: the whole photo); the runtime resizes them itself: ``[N, C]``.

    Raises:
        ComparisonError: the runtime reads other labels from the model's metadata than ``labels``.
    """
    given = given or (lambda rgb, _size: rgb)
    return session.classify_as([given(np.asarray(_upright(f, b)), size) for f, b in zip(files, boxes)], labels)


def app_model(formats: dict) -> tuple[str, str]:
    """``(format, variant)`` of the model that runs the app paths' pixels, for a manifest's ``formats``
    (name -> entry with ``variants`` and ``default_variant``): a shipped fp32 variant of the format with the lowest
    :attr:`FormatSpec.app_model_rank` (ONNX, then TFLite: the resize is measured, not the precision); else the
    first format's default variant.
    Export and parity both choose with this."""
    ranked = sorted(
        (FORMATS[n].shipping.app_model_rank, n) for n in formats if FORMATS[n].shipping.app_model_rank is not None
    )
    for _, name in ranked:
        entry = formats.get(name)
        for variant, record in entry.variants.items() if entry else ():
            if record.shipped and record.precision == "fp32":
                return name, variant
    name = next(iter(formats))
    return name, formats[name].default_variant


class AppModels:
    """The models the app paths of one bundle run, each loaded on first use, once: the fp32 model
    (:func:`app_model`) on its format's measuring runtime, and MediaPipe's ``ImageClassifier`` with
    the bundle's default TFLite model. Export, parity and evaluate all build it this way.

    Args:
        folder: the bundle (or the bundle being written); formats: its manifest's formats; labels: C names.
        pool: the caller's :class:`~carspotter.model.session_pool.SessionPool` (parity and export share theirs:
            a file already measured is not loaded again); None: this object's own pool, closed in :meth:`close`
            (or at the end of a ``with`` block).
    """

    def __init__(self, folder: Path, formats: dict, labels: list[str], pool: SessionPool | None = None):
        name, variant = app_model(formats)
        spec = FORMATS[name]
        vspec = spec.variant(variant)
        self.description = f"{name} {variant} ({spec.execution.measuring_runtime.target_for(vspec)})"
        self._fp32 = (spec.execution.measuring_runtime, vspec, Path(folder) / formats[name].variants[variant].path)
        photo = next((n for n in formats if FORMATS[n].execution.photo_runtime is not None), None)
        entry = formats[photo] if photo else None
        self._photo = (
            (
                FORMATS[photo].execution.photo_runtime,
                FORMATS[photo].variant(entry.default_variant),
                Path(folder) / entry.path,
            )
            if entry
            else None
        )
        self.photo_description = (
            f"{photo} {entry.default_variant} ({FORMATS[photo].execution.photo_runtime.target})" if entry else None
        )
        self._own = pool is None
        self._pool = SessionPool(labels) if pool is None else pool
        self.folder = Path(folder)

    @property
    def session(self) -> Session:
        """The fp32 model's session: ``[N, S, S, 3]`` -> ``[N, C]``."""
        return self._pool.session(*self._fp32)

    def photo_session(self) -> tuple[str, Session]:
        """``(description, session)`` of the bundle's whole-photo runtime (:attr:`FormatSpec.photo_runtime`).

        Raises:
            PathUnavailable: the bundle has no model a whole-photo runtime runs.
        """
        if self._photo is None:
            raise PathUnavailable("the bundle has no model a whole-photo runtime runs")
        return self.photo_description, self._pool.session(*self._photo)

    def close(self) -> None:
        """Close the sessions of this object's own pool (a caller's pool belongs to the caller)."""
        if self._own:
            self._pool.close()

    def __enter__(self) -> "AppModels":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def path_probs(
    path: AppPath, files: list[Path], boxes: list, size: int, labels: list[str], models: AppModels
) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Run one app path on the original photo files: ``([N, C] probabilities, [N, S, S, 3] pixels it made
    (None for MediaPipe, which resizes inside), the model's description)``.

    Raises:
        PathUnavailable: the path's library is missing here, or the bundle has no TFLite model for MediaPipe.
    """
    why = path.unavailable()
    if why:
        raise PathUnavailable(why)
    if path.bundle_pixels is not None:
        pixels = path.bundle_pixels(models.folder, files, boxes, size)
        return models.session.infer(pixels), pixels, models.description
    if path.given is not None:  # the runtime resizes the photo itself
        model, session = models.photo_session()
        return photo_probs(session, files, boxes, labels, path.given, size), None, model
    pixels = path.pixels(files, boxes, size)
    return models.session.infer(pixels), pixels, models.description


def measure_path(
    path: AppPath,
    files: list[Path],
    boxes: list,
    size: int,
    labels: list[str],
    reference: np.ndarray,
    truth: np.ndarray | None,
    names: list[str],
    exact: np.ndarray,
    upscaled: np.ndarray,
    models: AppModels,
) -> PathFigures:
    """Run one app path on the original photo files (:func:`path_probs`) and measure it against the reference.

    Args:
        files, boxes: the photo files an app gets (crop boxes or None entries).
        size: the model's input side S.
        reference: ``[N, C]`` the reference's probabilities on ``exact`` (``[N, S, S, 3]``, our pixels).
        models: the fp32 session that runs the resized pixels, and MediaPipe for its own path.

    Raises:
        PathUnavailable: the path's library is missing here, or the bundle has no TFLite model for MediaPipe.
    """
    probs, pixels, model = path_probs(path, files, boxes, size, labels, models)
    return figures(path, model, reference, probs, truth, names, exact, pixels, upscaled)


@dataclass
class PathRun:
    """One app path run on a set of photo files (:func:`each_path`).

    Attributes:
        name: the path's name in :data:`PATHS`; path: the :class:`AppPath`.
        probs: ``[N, C]`` probabilities 0..1 through the bundle's model (None when skipped).
        pixels: ``[N, S, S, 3]`` uint8 the path made (None for MediaPipe, which resizes inside, or when skipped).
        model: what ran the pixels, for people; skipped: why the path could not run here (None when it ran).
        seconds: wall time of the path on all N photos (s).
    """

    name: str
    path: AppPath
    probs: np.ndarray | None
    pixels: np.ndarray | None
    model: str
    skipped: str | None
    seconds: float


def each_path(
    files: list[Path], boxes: list, size: int, labels: list[str], models: AppModels, names: list[str] | None = None
) -> Iterator[PathRun]:
    """Every app path (or those in ``names``), in :data:`PATHS` order, run on the photo files: the one loop
    export's bundle, evaluate and the benchmarks share (parity makes one check per path of :data:`PATHS`).
    A path that cannot run here comes back with ``skipped`` set, never silently left out."""
    import time

    for name, path in PATHS.items():
        if names is not None and name not in names:
            continue
        t0 = time.perf_counter()
        try:
            probs, pixels, model = path_probs(path, files, boxes, size, labels, models)
        except PathUnavailable as exc:
            yield PathRun(name, path, None, None, "", str(exc), time.perf_counter() - t0)
            continue
        yield PathRun(name, path, probs, pixels, model, None, time.perf_counter() - t0)

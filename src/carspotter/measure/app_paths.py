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

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np

from carspotter.model import photos, runtimes
from carspotter.model.reference_resize import box_reduce
from carspotter.model.formats import FORMATS, VariantSpec
from carspotter.model.runtimes import Runtime, Session
from carspotter.measure.metrics import topk, topk_accuracy
from carspotter.measure.parity_rule import APP_PATH_MIN_MARGIN

Pixels = Callable[[list[Path], list, int], np.ndarray]


PACKAGE_MIN_AGREEMENT = 0.995
"""Top-1 agreement with the reference the bundle's own packages must reach (their resize is the reference's, ported)."""


@dataclass(frozen=True)
class AppPath:
    """One way an app turns a photo file into model input.

    Attributes:
        name: short id (``opencv-linear``).
        client: who does it this way.
        pixels: ``(files, crop boxes, S) -> [N, S, S, 3] float32`` pixels 0..255, or None when
            the path runs the model itself (``mediapipe``) or needs the bundle (``bundle_pixels``).
        mediapipe: for a path that hands MediaPipe's ``ImageClassifier`` the photo: ``([H, W, 3] upright uint8,
            S) -> the pixels given to it``; None for the others.
        unavailable: ``() -> reason or None``.
        bundle_pixels: ``(bundle folder, files, crop boxes, S) -> [N, S, S, 3] float32``: a path that runs code
            shipped in the bundle (its npm package).
        min_agreement: this path's top-1 agreement gate, when stricter than :class:`AppGate`'s.
    """

    name: str
    client: str
    pixels: Pixels | None
    unavailable: Callable[[], str | None] = lambda: None
    bundle_pixels: Callable[[Path, list[Path], list, int], np.ndarray] | None = None
    min_agreement: float | None = None
    mediapipe: Callable[[np.ndarray, int], np.ndarray] | None = None


def _upright(path: Path, box):
    image = photos.decode_rgb(path)
    return image if box is None else photos.crop(image, box, path)


def _each(fn) -> Pixels:
    def run(files, boxes, size):
        return np.stack([np.asarray(fn(f, b, size), dtype=np.float32) for f, b in zip(files, boxes)])

    return run


def _carspotter(path, box, size):
    return photos.load_photo(path, size, box)


def _pillow_antialias(path, box, size):
    from PIL import Image

    return np.asarray(_upright(path, box).resize((size, size), Image.Resampling.BILINEAR))


def _pillow_no_antialias(path, box, size):
    from PIL import Image

    image = _upright(path, box)
    w, h = image.size
    # AFFINE maps each output pixel to (x * w / S, y * h / S) in the input; BILINEAR samples 2x2 there.
    return np.asarray(image.transform((size, size), Image.Transform.AFFINE, (w / size, 0, 0, 0, h / size, 0),
                                      resample=Image.Resampling.BILINEAR))


def _pillow_draft(path, box, size):
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        if box is None:
            im.draft("RGB", (size, size))  # JPEG: decode at 1/2, 1/4 or 1/8 scale when still >= size
        image = photos._to_rgb(ImageOps.exif_transpose(im))
    if box is not None:
        image = photos.crop(image, box, path)
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0))


def _opencv(interpolation: str):
    def run(path, box, size):
        import cv2

        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{path}: OpenCV cannot read it")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if box is not None:
            rgb = rgb[box[1]:box[3], box[0]:box[2]]
        return cv2.resize(rgb, (size, size), interpolation=getattr(cv2, interpolation))

    return run


def _tf_bilinear(path, box, size):
    import tensorflow as tf

    return tf.image.resize(np.asarray(_upright(path, box)), (size, size), method="bilinear", antialias=False).numpy()


def _opencv_unavailable() -> str | None:
    try:
        import cv2  # noqa: F401
    except ImportError as exc:
        return f"OpenCV cannot be imported here ({exc})"
    return None


def _node_dir() -> str:
    return os.environ.get("CARSPOTTER_NODE_DIR", str(Path.cwd()))


@functools.lru_cache(maxsize=4)
def _sharp_unavailable_in(node_dir: str) -> str | None:
    node = shutil.which("node")
    if node is None:
        return "Node.js is not installed here (the sharp path runs in Node)"
    script = resources.files("carspotter.measure").joinpath("js/sharp_resize.mjs")
    done = subprocess.run([node, str(script), "--version"], capture_output=True, text=True,
                          env={**os.environ, "CARSPOTTER_NODE_DIR": node_dir}, timeout=60)
    if done.returncode != 0:
        return (f"{done.stderr.strip() or 'sharp failed'}; install it with `npm install sharp` in the working folder, "
                "or set CARSPOTTER_NODE_DIR to a folder whose node_modules has it")
    return None


def _sharp_unavailable() -> str | None:
    return _sharp_unavailable_in(_node_dir())


def _sharp(files, boxes, size):
    if any(b is not None for b in boxes):
        raise ValueError("the sharp path does not crop to boxes")
    script = resources.files("carspotter.measure").joinpath("js/sharp_resize.mjs")
    out = subprocess.run([shutil.which("node"), str(script), str(size), *map(str, files)], capture_output=True,
                         env={**os.environ, "CARSPOTTER_NODE_DIR": _node_dir()}, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"sharp: {out.stderr.decode(errors='replace').strip()[:300]}")
    return np.frombuffer(out.stdout, np.uint8).reshape(len(files), size, size, 3).astype(np.float32)


def _chromium() -> str | None:
    return os.environ.get("CARSPOTTER_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@functools.lru_cache(maxsize=4)
def _puppeteer_unavailable_in(node_dir: str) -> str | None:
    if not (Path(node_dir) / "node_modules" / "puppeteer-core").is_dir():
        return f"puppeteer-core is not installed in {node_dir}/node_modules (npm ci in tests/js, or set CARSPOTTER_NODE_DIR)"
    return None


def _npm_chromium_unavailable() -> str | None:
    if shutil.which("node") is None:
        return "Node.js is not installed here (it drives Chromium)"
    if _chromium() is None:
        return "Chromium is not installed here (apt-get install chromium, or set CARSPOTTER_CHROMIUM)"
    return _puppeteer_unavailable_in(_node_dir())


def install_npm_copy(pkg: Path, dest: Path, node_modules: Path, code_only: bool = False) -> Path:
    """The bundle's npm package (``onnx/``) as ``npm install --install-links`` puts it in an app: copied into
    ``dest/pkg`` beside a ``dest/node_modules`` link, so its imports resolve from there; returns ``dest/pkg``.

    Args:
        code_only: copy only the ``.js`` / ``.mjs`` / ``.json`` files (the model stays where it is); otherwise hard-link
            every file (same file system).
    """
    copy = dest / "pkg"
    if code_only:
        shutil.copytree(pkg, copy, copy_function=shutil.copyfile,
                        ignore=lambda _, names: [n for n in names if Path(n).suffix not in (".js", ".mjs", ".json")])
    else:
        shutil.copytree(pkg, copy, copy_function=os.link)
    (dest / "node_modules").symlink_to(Path(node_modules).resolve(), target_is_directory=True)
    return copy


def _npm(mode: str):
    """The bundle's npm package (``onnx/``) copied beside a ``node_modules`` link, as an app installs it, run in
    ``mode`` (``node`` or ``chromium``) by ``js/package_pixels.mjs``."""

    def run(folder: Path, files, boxes, size):
        import tempfile

        if any(b is not None for b in boxes):
            raise PathUnavailable("the npm package paths take whole photo files, not crop boxes")
        pkg = Path(folder) / FORMATS["onnx"].platform if "onnx" in FORMATS else None
        if pkg is None or not (pkg / "resize.js").is_file():
            raise PathUnavailable("the bundle has no npm package (onnx/resize.js)")
        script = resources.files("carspotter.measure").joinpath("js/package_pixels.mjs")
        with tempfile.TemporaryDirectory(prefix="carspotter-npm-") as tmp:
            copy = install_npm_copy(pkg, Path(tmp), Path(_node_dir()) / "node_modules", code_only=True)
            env = {**os.environ, "CARSPOTTER_CHROMIUM": _chromium() or "chromium"}
            out = subprocess.run([shutil.which("node"), str(script), mode, str(copy), str(size), *map(str, files)],
                                 capture_output=True, env=env, timeout=1800)
        if out.returncode != 0:
            raise RuntimeError(f"npm package in {mode}: {out.stderr.decode(errors='replace').strip()[:300]}")
        return np.frombuffer(out.stdout, np.uint8).reshape(len(files), size, size, 3).astype(np.float32)

    return run


def _mediapipe_unavailable() -> str | None:
    from carspotter.model.runtimes import MEDIAPIPE

    return MEDIAPIPE.unavailable()


PATHS: dict[str, AppPath] = {p.name: p for p in (
    AppPath("carspotter", "carspotter's own decoder (Pillow decode, the reference resize): the reference's path",
            _each(_carspotter)),
    AppPath("pillow-antialias", "Python app: Pillow Image.resize bilinear (antialiased)", _each(_pillow_antialias)),
    AppPath("pillow-no-antialias", "Python app: Pillow bilinear sampling without antialiasing", _each(_pillow_no_antialias)),
    AppPath("pillow-draft", "Python app: Pillow as Image.thumbnail (JPEG draft + reducing_gap=2)", _each(_pillow_draft)),
    AppPath("opencv-linear", "Python/C++ app: OpenCV imread + resize INTER_LINEAR", _each(_opencv("INTER_LINEAR")),
            _opencv_unavailable),
    AppPath("opencv-area", "Python/C++ app: OpenCV imread + resize INTER_AREA", _each(_opencv("INTER_AREA")),
            _opencv_unavailable),
    AppPath("tf-bilinear", "TensorFlow app: tf.image.resize bilinear, antialias=False", _each(_tf_bilinear)),
    AppPath("mediapipe", "Android package: box pre-reduction, then MediaPipe Tasks ImageClassifier resizing", None,
            _mediapipe_unavailable, mediapipe=box_reduce),
    AppPath("mediapipe-bare", "Android app without the package: the whole photo to MediaPipe Tasks ImageClassifier",
            None, _mediapipe_unavailable, mediapipe=lambda rgb, size: rgb),
    AppPath("sharp", "Node / React Native backend: sharp fill, default kernel (lanczos3)", _sharp, _sharp_unavailable),
    AppPath("npm-node", "npm package, Node + sharp decode (the bundle's onnx/ package: its port of the reference resize)",
            None, _sharp_unavailable, bundle_pixels=_npm("node"), min_agreement=PACKAGE_MIN_AGREEMENT),
    AppPath("npm-chromium", "npm package, Chromium decode (createImageBitmap, canvas RGBA, the package's resize)",
            None, _npm_chromium_unavailable, bundle_pixels=_npm("chromium"), min_agreement=PACKAGE_MIN_AGREEMENT),
)}


@dataclass
class PathFigures:
    """One app path measured on N photos (rates 0..1, pixel levels 0..255, probabilities 0..1)."""

    path: str
    client: str
    model: str
    photos: int
    top1_agreement: float
    top3_agreement: float
    top1: float | None
    top3: float | None
    reference_top1: float | None
    max_abs_diff: float
    decisive: int
    decisive_flips: list
    pixel_drift_mean: float | None
    pixel_drift_max: float | None
    upscaled: dict

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _agreement(reference: np.ndarray, probs: np.ndarray, rows: np.ndarray) -> tuple[float, float]:
    if not rows.any():
        return 0.0, 0.0
    r3, q3 = topk(reference[rows], 3), topk(probs[rows], 3)
    return float(np.mean(r3[:, 0] == q3[:, 0])), float(np.mean(np.all(r3 == q3, axis=1)))


def figures(path: AppPath, model: str, reference: np.ndarray, probs: np.ndarray, truth: np.ndarray | None,
            names: list[str], exact: np.ndarray, pixels: np.ndarray | None, upscaled: np.ndarray,
            min_margin: float = APP_PATH_MIN_MARGIN) -> PathFigures:
    """Figures of one app path (see the module docstring).

    Args:
        reference: ``[N, C]`` the reference's probabilities on the exact inputs; probs: the app path's.
        truth: ``[N]`` true classes, or None.
        exact: ``[N, S, S, 3]`` the exact inputs; pixels: the app path's (None when it ran the model itself).
        upscaled: ``[N]`` bool, photos with a side under the input size.
    """
    everything = np.ones(len(names), bool)
    ordered = np.sort(reference, axis=1)
    margins = ordered[:, -1] - ordered[:, -2]
    r1, q1 = topk(reference, 1)[:, 0], topk(probs, 1)[:, 0]
    flips = [{"photo": names[i], "margin": round(float(margins[i]), 4)} for i in range(len(names))
             if margins[i] >= min_margin and r1[i] != q1[i]]
    drift = np.abs(pixels - exact.astype(np.float32)) if pixels is not None else None
    a1, a3 = _agreement(reference, probs, everything)
    u1, u3 = _agreement(reference, probs, upscaled)
    return PathFigures(
        path=path.name, client=path.client, model=model, photos=len(names), top1_agreement=a1, top3_agreement=a3,
        top1=topk_accuracy(probs, truth, 1) if truth is not None else None,
        top3=topk_accuracy(probs, truth, 3) if truth is not None else None,
        reference_top1=topk_accuracy(reference, truth, 1) if truth is not None else None,
        max_abs_diff=float(np.abs(reference - probs).max()), decisive=int((margins >= min_margin).sum()), decisive_flips=flips,
        pixel_drift_mean=float(drift.mean()) if drift is not None else None,
        pixel_drift_max=float(drift.max()) if drift is not None else None,
        upscaled={"photos": int(upscaled.sum()), "top1_agreement": u1, "top3_agreement": u3,
                  "pixel_drift_mean": float(drift[upscaled].mean()) if drift is not None and upscaled.any() else None})


def upscaled_photos(files: list[Path], boxes: list, size: int) -> np.ndarray:
    """``[N]`` bool: the photo (cropped to its box) has a side shorter than ``size``.

    Read from the file header, without decoding: a 90-degree EXIF rotation does not change the shorter side.
    """
    from PIL import Image

    out = []
    for f, b in zip(files, boxes):
        if b is not None:
            w, h = b[2] - b[0], b[3] - b[1]
        else:
            with Image.open(f) as im:
                w, h = im.size
        out.append(min(w, h) < size)
    return np.array(out, bool)


def mediapipe_probs(session, files: list[Path], boxes: list, labels: list[str], given=None, size: int = 0) -> np.ndarray:
    """MediaPipe's ImageClassifier (a loaded :class:`~carspotter.model.runtimes.MediaPipeSession`) on the upright
    photos, each first passed through ``given(rgb, size)`` (what the app hands MediaPipe; default: the whole photo);
    MediaPipe resizes them itself: ``[N, C]``.

    Raises:
        ComparisonError: MediaPipe reads other labels from the model's metadata than ``labels``.
    """
    given = given or (lambda rgb, _size: rgb)
    return session.classify_as([given(np.asarray(_upright(f, b)), size) for f, b in zip(files, boxes)], labels)


class PathUnavailable(Exception):
    """An app path cannot run here or on this bundle; the message says why (reported as skipped)."""


def app_model(formats: dict) -> tuple[str, str]:
    """``(format, variant)`` of the model that runs the app paths' pixels, for a manifest's ``formats``
    (name -> entry with ``variants`` and ``default_variant``): a shipped fp32 variant of ONNX, else of
    TFLite (the resize is measured, not the precision); else the first format's default variant.
    Export and parity both choose with this."""
    for name in ("onnx", "tflite"):
        entry = formats.get(name)
        for variant, record in (entry.variants.items() if entry else ()):
            if record.shipped and record.precision == "fp32":
                return name, variant
    name = next(iter(formats))
    return name, formats[name].default_variant


SessionOpener = Callable[[Runtime, VariantSpec, Path], Session]
"""``(runtime, variant, model file) -> Session``."""


class AppModels:
    """The models the app paths of one bundle run, each loaded on first use, once: the fp32 model
    (:func:`app_model`) on its format's measuring runtime, and MediaPipe's ``ImageClassifier`` with
    the bundle's default TFLite model. Export, parity and evaluate all build it this way.

    Args:
        folder: the bundle (or the bundle being written); formats: its manifest's formats; labels: C names.
        open_session: a :data:`SessionOpener` whose sessions belong to the caller (parity shares its
            own); None: this object loads its sessions and closes them in :meth:`close` (or at the
            end of a ``with`` block).
    """

    def __init__(self, folder: Path, formats: dict, labels: list[str], open_session: SessionOpener | None = None):
        name, variant = app_model(formats)
        spec = FORMATS[name]
        vspec = spec.variant(variant)
        self.description = f"{name} {variant} ({spec.measuring_runtime.target_for(vspec)})"
        self._fp32 = (spec.measuring_runtime, vspec, Path(folder) / formats[name].variants[variant].path)
        tflite = formats.get("tflite")
        self._mediapipe = ((runtimes.MEDIAPIPE, FORMATS["tflite"].variant(tflite.default_variant), Path(folder) / tflite.path)
                           if tflite else None)
        self.mediapipe_description = f"tflite {tflite.default_variant} (MediaPipe ImageClassifier)" if tflite else None
        self._labels, self._open, self._loaded = list(labels), open_session, {}
        self.folder = Path(folder)

    def _get(self, key: str, runtime: Runtime, variant: VariantSpec, path: Path) -> Session:
        if key not in self._loaded:
            self._loaded[key] = (self._open(runtime, variant, path) if self._open
                                 else runtime.load(path, self._labels, variant))
        return self._loaded[key]

    @property
    def session(self) -> Session:
        """The fp32 model's session: ``[N, S, S, 3]`` -> ``[N, C]``."""
        return self._get("fp32", *self._fp32)

    def mediapipe(self) -> tuple[str, Session]:
        """``(description, MediaPipeSession)``.

        Raises:
            PathUnavailable: the bundle has no TFLite model for MediaPipe.
        """
        if self._mediapipe is None:
            raise PathUnavailable("the bundle has no TFLite model for MediaPipe")
        return self.mediapipe_description, self._get("mediapipe", *self._mediapipe)

    def close(self) -> None:
        """Close the sessions this object loaded itself (those of ``open_session`` belong to the caller)."""
        if self._open is None:
            for session in self._loaded.values():
                session.close()
        self._loaded = {}

    def __enter__(self) -> "AppModels":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def path_probs(path: AppPath, files: list[Path], boxes: list, size: int, labels: list[str],
               models: AppModels) -> tuple[np.ndarray, np.ndarray | None, str]:
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
    if path.mediapipe is not None:  # MediaPipe resizes the photo itself
        model, session = models.mediapipe()
        return mediapipe_probs(session, files, boxes, labels, path.mediapipe, size), None, model
    pixels = path.pixels(files, boxes, size)
    return models.session.infer(pixels), pixels, models.description


def measure_path(path: AppPath, files: list[Path], boxes: list, size: int, labels: list[str], reference: np.ndarray,
                 truth: np.ndarray | None, names: list[str], exact: np.ndarray, upscaled: np.ndarray,
                 models: AppModels) -> PathFigures:
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


@dataclass(frozen=True)
class AppGate:
    """The gate of an app path, separate from the exact-pixel rule.

    On a run's photos (true labels known): top-1 accuracy within ``max_top1_drop`` of the
    reference's and top-1 agreement with the reference at least ``min_agreement`` (fp32
    formats, decisive model). On the golden set (half of it chosen for the smallest margins,
    so agreement there is low by design): no decisive photo (margin >= ``min_margin``) flips.
    """

    max_top1_drop: float = 0.01
    min_agreement: float = 0.98
    min_margin: float = APP_PATH_MIN_MARGIN

    def judge(self, fig: PathFigures, golden: bool) -> tuple[bool, str]:
        """``(passed, one-line verdict with the margins)``."""
        if golden:
            ok = not fig.decisive_flips
            return ok, (f"{len(fig.decisive_flips)} of {fig.decisive} decisive photos (margin >= {self.min_margin}) "
                        f"changed their top-1; top-1 agreement {fig.top1_agreement:.1%} (all photos)")
        path = PATHS.get(fig.path)
        need = path.min_agreement if path is not None and path.min_agreement is not None else self.min_agreement
        parts, ok = [f"top-1 agreement {fig.top1_agreement:.1%} (min {need:.1%})"], fig.top1_agreement >= need
        if fig.top1 is not None:
            drop = fig.reference_top1 - fig.top1
            ok = ok and drop <= self.max_top1_drop + 1e-12
            parts.append(f"top-1 accuracy {fig.top1:.1%} vs reference {fig.reference_top1:.1%} "
                         f"(drop {drop * 100:.1f} points, max {self.max_top1_drop * 100:.1f})")
        return ok, "; ".join(parts)

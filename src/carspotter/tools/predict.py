"""``carspotter predict``: what each format says about a photo, side by side, and what may mislead it.

A source is a run folder (the Keras reference only) or a bundle folder (every format it
ships, plus the Keras reference when the bundle's run is found, as parity finds it). Each
photo goes through :func:`carspotter.model.photos.load_photo`, the one preprocessing of training
and parity, so the input shown is exactly what every format receives. Core ML runs through
``MLModel.predict`` on macOS and the MIL execution elsewhere, named as such.

Warnings never refuse a photo; each carries its numbers (:func:`warnings_for`).
"""

from __future__ import annotations

import time
from typing import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from carspotter.model import photos
from carspotter.model.session_pool import SessionPool
from carspotter.util.errors import PhotoError, UsageError
from carspotter.tools.loaded import Loaded, open_reference, open_variant
from carspotter.measure.metrics import topk


def format_names() -> tuple[str, ...]:
    """``--format`` values: ``keras`` and every registered format; ``all`` means every one the source holds."""
    from carspotter.model.formats import FORMATS

    return ("keras", *FORMATS)


ASPECT_WARN = 2.0
"""Warn when stretching to a square changes the aspect ratio by more than this factor (a 16:9 photo: 1.78)."""

DOWNSCALE_WARN = 8.0
"""Warn when one input pixel stands for more than this many photo pixels along the long side
(a 4032 x 3024 phone photo at 299 px: 13.5)."""

SMALL_OBJECT_PX = 200
"""Object width (photo pixels) used to say what a downscale does: how wide a 200-px car ends up."""


@dataclass
class Source:
    """What a run or bundle folder (opened once: :mod:`carspotter.contracts.source`) offers to predict with.

    Attributes:
        path: the folder.
        kind: ``run`` or ``bundle``.
        labels: C class names.
        size: input side S in pixels.
        predictors: the selected formats, reference first, each loaded once (close with :meth:`close`).
        reference: the Keras model when it is available (for heatmaps), else None.
        threshold: the run's "show the answer" probability (0..1) from its confidence record, or None.
        target_precision: the precision that threshold was chosen for (0..1), or None.
        pool: the command's session pool, every predictor's session in it (the reference's too).
        run_dir: the run folder when it was found (its localizer serves ``--two-pass``), else None.
    """

    path: Path
    kind: str
    labels: list[str]
    size: int
    predictors: list[Loaded]
    reference: object | None = None
    threshold: float | None = None
    target_precision: float | None = None
    pool: SessionPool | None = None
    run_dir: Path | None = None

    def close(self) -> None:
        """Close every session: the pool's, every predictor's (the reference's) among them."""
        if self.pool is not None:
            self.pool.close()


@dataclass
class PhotoPrediction:
    """One photo's answers.

    Attributes:
        photo: file name (no folder: nothing of the user's machine beyond it goes into a report).
        path: the file, for the caller.
        size: ``(width, height)`` after EXIF rotation, pixels.
        pixels: ``[S, S, 3]`` uint8, the exact input.
        top: ``{format/variant: [(label, probability 0..1), ...]}`` top-K per predictor.
        agree: every predictor has the same top-1.
        warnings: one line each, with numbers.
        roi: the region of interest the model was given (``(x0, y0, x1, y1)`` upright-photo pixels,
            :mod:`carspotter.model.roi`), or None for the whole photo.
        two_pass: with ``--two-pass``, the reference's two-pass answer: ``passes`` (1 or 2), ``roi`` (what pass 2
            classified, or None), ``box`` (pass 1's box output, 0..1 of the region) and ``top`` (label, probability).
    """

    photo: str
    path: Path
    size: tuple[int, int]
    pixels: np.ndarray
    top: dict[str, list[tuple[str, float]]]
    agree: bool
    warnings: list[str] = field(default_factory=list)
    roi: tuple[int, int, int, int] | None = None
    two_pass: dict | None = None

    def to_json(self) -> dict:
        return {
            "photo": self.photo,
            "width": self.size[0],
            "height": self.size[1],
            "agree": self.agree,
            "roi": list(self.roi) if self.roi else None,
            "two_pass": self.two_pass,
            "warnings": self.warnings,
            "top": {
                k: [{"label": lab, "probability": round(float(p), 6)} for lab, p in v] for k, v in self.top.items()
            },
        }


def _parse_formats(text: str) -> tuple[str, ...] | None:
    """``all`` -> None (every one held); else the named formats, checked."""
    if text.strip() == "all":
        return None
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    bad = [n for n in names if n not in format_names()]
    if bad or not names:
        raise UsageError(
            f"--format {text}: unknown format {', '.join(bad) or '(none)'}; choose from "
            f"{', '.join(format_names())} or all"
        )
    return names


def open_source(
    folder: str | Path, formats: str = "all", variant: str | None = None, run: str | Path | None = None
) -> Source:
    """Open a run or bundle folder (:func:`carspotter.contracts.source.open_source`) with the formats to run, each a
    session of the folder's one pool.

    Args:
        folder: a run folder (run.json) or a bundle folder (manifest.json).
        formats: ``all`` or a comma list of :func:`format_names`.
        variant: a shipped variant name to run instead of each format's default.
        run: the bundle's run folder, for the Keras reference (default: looked for as parity does).

    Raises:
        UsageError: an unknown format, a format or variant the folder does not hold (exit 2).
        RunError, BundleError: the folder is neither, or fails verification.
    """
    from carspotter.contracts.source import open_source as open_folder_source

    wanted = _parse_formats(formats)
    src = open_folder_source(folder, run)
    try:
        if src.kind == "run":
            return _run_source(src, wanted, formats, variant)
        return _bundle_source(src, wanted, formats, variant)
    except BaseException:
        src.close()
        raise


def _run_source(src, wanted: tuple[str, ...] | None, formats: str, variant: str | None) -> Source:
    """:func:`open_source` of a run folder: the Keras reference alone."""
    held = ("keras",)
    if wanted and set(wanted) - set(held):
        raise UsageError(
            f"--format {formats}: {src.folder} is a run folder, which holds only the Keras reference; "
            f"pass a bundle folder for {', '.join(sorted(set(wanted) - set(held)))}"
        )
    if variant not in (None, "reference"):
        raise UsageError(f"--variant {variant}: a run folder holds only the Keras reference; pass a bundle folder")
    preds = [open_reference(src)]
    return Source(
        src.folder,
        "run",
        src.labels,
        src.size,
        preds,
        src.model(),
        src.threshold,
        src.target_precision,
        src.pool,
        src.run.dir,
    )


def _bundle_source(src, wanted: tuple[str, ...] | None, formats: str, variant: str | None) -> Source:
    """:func:`open_source` of a bundle folder: the formats chosen, each on its variant."""
    manifest, run_obj = src.manifest, src.run
    held = tuple(n for n in format_names()[1:] if n in manifest.formats) + (("keras",) if run_obj else ())
    chosen = tuple(n for n in format_names() if n in held) if wanted is None else wanted
    missing = [n for n in chosen if n not in held]
    if missing:
        why = (
            "the Keras reference needs the bundle's run: pass --run DIR"
            if missing == ["keras"]
            else f"the bundle holds {', '.join(held)}"
        )
        raise UsageError(f"--format {formats}: {src.folder} has no {', '.join(missing)} ({why})")
    preds = [open_reference(src)] if "keras" in chosen else []
    for name in (n for n in chosen if n != "keras"):
        entry = manifest.formats[name]
        v = variant or entry.default_variant
        record = entry.variants.get(v)
        if record is None or not record.shipped:
            shipped = [k for k, r in entry.variants.items() if r.shipped]
            raise UsageError(f"--variant {v}: {name} in {src.folder} does not ship it (it ships {', '.join(shipped)})")
        preds.append(open_variant(src, name, v))
    return Source(
        src.folder,
        "bundle",
        src.labels,
        src.size,
        preds,
        src.model() if "keras" in chosen else None,
        src.threshold,
        src.target_precision,
        src.pool,
        run_obj.dir if run_obj else None,
    )


def collect_photos(items: list[str | Path]) -> list[Path]:
    """Photo files named, or found under the folders named (recursive, sorted, hidden skipped).

    Raises:
        UsageError: a path that does not exist, or no photo at all (exit 2).
    """
    out: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found = photos.find_photos(item)
            if not found:
                raise UsageError(
                    f"{item}: no photos in this folder (looked for {', '.join(sorted(photos.PHOTO_SUFFIXES))})"
                )
            out += found
        elif item.exists():
            out.append(item)
        else:
            raise UsageError(f"{item}: no such file or folder")
    if not out:
        raise UsageError("no photos given; pass photo files or folders")
    return out


def warnings_for(
    width: int, height: int, size: int, top1: float, threshold: float | None, target_precision: float | None
) -> list[str]:
    """What may mislead the model about one photo, each with its numbers.

    Args:
        width, height: the photo after EXIF rotation, pixels.
        size: input side S, pixels.
        top1: the reference's (or first format's) top-1 probability 0..1.
        threshold: the run's confidence threshold (0..1) or None.
        target_precision: the precision it was set for (0..1) or None.

    Returns:
        Zero or more one-line warnings: stretched beyond :data:`ASPECT_WARN`, downscaled beyond
        :data:`DOWNSCALE_WARN`, upscaled (a side under S), top-1 under the threshold.
    """
    out = []
    aspect = max(width, height) / min(width, height)
    if aspect > ASPECT_WARN:
        out.append(
            f"stretched: the {width}x{height} photo ({aspect:.2f}:1) is squeezed to {size}x{size} (1:1), "
            f"a change of {aspect:.2f}x, over the {ASPECT_WARN:g}x that warns; crop it to the car"
        )
    down = max(width, height) / size
    if down > DOWNSCALE_WARN:
        out.append(
            f"downscaled {down:.1f}x: the photo's long side ({max(width, height)} px) maps to {size} input pixels, so "
            f"a car {SMALL_OBJECT_PX} px wide in the photo becomes {SMALL_OBJECT_PX / down:.0f} px; crop it to the car"
        )
    if min(width, height) < size:
        out.append(
            f"upscaled {size / min(width, height):.1f}x: the photo ({width}x{height}) is smaller than the "
            f"{size}x{size} input, the model sees interpolated pixels"
        )
    if threshold is not None and top1 < threshold:
        aim = f" for {target_precision:.0%} precision" if target_precision else ""
        out.append(
            f"not sure: top-1 probability {top1:.3f} is below the run's threshold {threshold:.3f}{aim}; "
            'an app would show "not sure"'
        )
    return out


def predict(
    source: Source, files: list[Path], k: int = 3, log: Callable[[str], None] = lambda m: None, roi=None
) -> tuple[list[PhotoPrediction], list[tuple[Path, str]]]:
    """Run every predictor of ``source`` on ``files``.

    Args:
        source: from :func:`open_source`.
        files: photo files.
        k: answers per predictor, 1..C.
        log: progress lines (one per format, with the time it took).
        roi: ``(x0, y0, x1, y1)`` region of interest applied to every photo (:mod:`carspotter.model.roi`: upright
            pixels, half-open, inside the photo); a photo it does not fit is listed in ``skipped`` with the reason.

    Returns:
        ``(predictions, skipped)``: one :class:`PhotoPrediction` per photo that decodes, and
        ``(path, reason)`` for each that does not.

    Raises:
        UsageError: ``k`` out of range (exit 2).
    """
    if not 1 <= k <= len(source.labels):
        raise UsageError(f"--top {k}: must be between 1 and the number of classes ({len(source.labels)})")
    good, skipped, sizes, pixels, rois = [], [], [], [], []
    for path in files:
        try:
            pixels.append(photos.load_photo(path, source.size, roi))
        except PhotoError as exc:
            skipped.append((path, exc.reason))
            continue
        with Image.open(path) as im:  # the size after EXIF rotation, from the header (it decoded just above)
            w, h = im.size
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                w, h = h, w
        good.append(path)
        sizes.append((w, h))
        if roi is not None:
            rois.append(tuple(int(v) for v in roi))
    if not good:
        return [], skipped
    batch = np.stack(pixels)
    log(f"{len(good)} photos decoded ({len(skipped)} not read)")
    probs = {}
    for p in source.predictors:
        t0 = time.perf_counter()
        probs[p.key] = np.asarray(p.infer(batch), dtype=np.float64)
        log(f"{p.key} on {p.target}: {len(good)} photos in {time.perf_counter() - t0:.1f} s")
    first = next(iter(probs))
    out = []
    for i, path in enumerate(good):
        tops = {
            name: [(source.labels[j], float(pr[i, j])) for j in topk(pr[i : i + 1], k)[0]] for name, pr in probs.items()
        }
        top1s = {t[0][0] for t in tops.values()}
        seen = (rois[i][2] - rois[i][0], rois[i][3] - rois[i][1]) if rois else sizes[i]  # what the model is given
        warn = warnings_for(*seen, source.size, tops[first][0][1], source.threshold, source.target_precision)
        out.append(
            PhotoPrediction(path.name, path, sizes[i], batch[i], tops, len(top1s) == 1, warn, rois[i] if rois else None)
        )
    return out, skipped


__all__ = [
    "Source",
    "PhotoPrediction",
    "open_source",
    "collect_photos",
    "warnings_for",
    "predict",
    "ASPECT_WARN",
    "DOWNSCALE_WARN",
    "format_names",
]

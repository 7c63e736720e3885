"""The figures of one app path against the reference: agreement, accuracy, max |dp|, pixel drift, decisive flips."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carspotter.measure.metrics import topk, topk_accuracy
from carspotter.measure.parity_rule import APP_PATH_MIN_MARGIN
from carspotter.measure.resizers import AppPath


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


def figures(
    path: AppPath,
    model: str,
    reference: np.ndarray,
    probs: np.ndarray,
    truth: np.ndarray | None,
    names: list[str],
    exact: np.ndarray,
    pixels: np.ndarray | None,
    upscaled: np.ndarray,
    min_margin: float = APP_PATH_MIN_MARGIN,
) -> PathFigures:
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
    flips = [
        {"photo": names[i], "margin": round(float(margins[i]), 4)}
        for i in range(len(names))
        if margins[i] >= min_margin and r1[i] != q1[i]
    ]
    drift = np.abs(pixels - exact.astype(np.float32)) if pixels is not None else None
    a1, a3 = _agreement(reference, probs, everything)
    u1, u3 = _agreement(reference, probs, upscaled)
    return PathFigures(
        path=path.name,
        client=path.client,
        model=model,
        photos=len(names),
        top1_agreement=a1,
        top3_agreement=a3,
        top1=topk_accuracy(probs, truth, 1) if truth is not None else None,
        top3=topk_accuracy(probs, truth, 3) if truth is not None else None,
        reference_top1=topk_accuracy(reference, truth, 1) if truth is not None else None,
        max_abs_diff=float(np.abs(reference - probs).max()),
        decisive=int((margins >= min_margin).sum()),
        decisive_flips=flips,
        pixel_drift_mean=float(drift.mean()) if drift is not None else None,
        pixel_drift_max=float(drift.max()) if drift is not None else None,
        upscaled={
            "photos": int(upscaled.sum()),
            "top1_agreement": u1,
            "top3_agreement": u3,
            "pixel_drift_mean": float(drift[upscaled].mean()) if drift is not None and upscaled.any() else None,
        },
    )


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

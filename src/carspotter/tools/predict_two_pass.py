"""``carspotter predict --two-pass``: the reference's two-pass answer (the run's localizer) beside each prediction of
:mod:`carspotter.tools.predict`."""

from __future__ import annotations

import numpy as np

from carspotter.model import photos
from carspotter.tools.predict import PhotoPrediction, Source
from carspotter.util.errors import UsageError


def add_two_pass(source: Source, predictions: list[PhotoPrediction], k: int, roi=None) -> None:
    """Fill each prediction's ``two_pass`` with the reference's two-pass answer (the run's localizer).

    Raises:
        UsageError: no Keras reference, or its run has no localizer.
    """
    from carspotter.model.localizer import has_localizer, load_two_output, two_pass
    from carspotter.model.roi import check_roi

    if source.reference is None or source.run_dir is None:
        raise UsageError(
            "--two-pass runs the run's localizer in the Keras reference: keep keras in --format, and for a "
            "bundle whose run was not found pass --run RUN_DIR"
        )
    if not has_localizer(source.run_dir):
        raise UsageError(
            f"--two-pass: run {source.run_dir.name} has no localizer; train one with "
            f"`carspotter localize {source.run_dir}`"
        )
    model = load_two_output(source.run_dir, source.reference)
    for p in predictions:
        image = photos.decode_rgb(p.path)
        region = check_roi(roi, *image.size) if roi is not None else None
        answer = two_pass(lambda x: model.predict(x, verbose=0), image, source.size, region)
        top = np.argsort(-answer.probabilities)[:k]
        p.two_pass = {
            "passes": answer.passes,
            "roi": list(answer.roi) if answer.roi else None,
            "box": [round(float(v), 6) for v in answer.box],
            "top": [{"label": source.labels[j], "probability": round(float(answer.probabilities[j]), 6)} for j in top],
        }

"""The localizer: a box head on the classifier's own backbone, and two-pass recognition with it.

A run trained with ``carspotter localize RUN`` holds ``localizer/head.keras`` (the box head) and
``localizer/localizer.json`` (how it was trained and measured). :func:`two_output_model` joins the head to the run's
classifier: one model, one input (``[N, S, S, 3]`` RGB 0..255, preprocessing inside), two outputs —
``probabilities`` ``[N, C]`` and ``box`` ``[N, 4]``, the car's ``x0, y0, x1, y1`` in 0..1 of the input (which is the
photo, or the ROI, stretched to S x S, so 0..1 of it on each axis). Pass 1 and the box cost one forward pass.

:func:`two_pass` is the reference of two-pass recognition: pass 1 on the region (the whole photo by default), the
box logic of :mod:`carspotter.model.two_pass`, and when the car is small pass 2 on the box's pixels at full
resolution (:mod:`carspotter.model.roi`), the answer naming the ROI it used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carspotter.model.reference_resize import resize
from carspotter.model.roi import Roi, cut
from carspotter.model.two_pass import box_to_roi, needs_second_pass
from carspotter.util.errors import RunError

FOLDER = "localizer"
HEAD = "head.keras"
RECORD = "localizer.json"
FEATURE_LAYER_KEY = "feature_layer"
BOX_OUTPUT = "box"
"""The box output's name in the two-output model and in every file exported from it (:func:`two_output_model`)."""
BOX_MEANING = "the car's box x0, y0, x1, y1 in 0..1 of the input (carspotter localize)"
"""What the box output holds, as the manifest's ``box_output.meaning`` and the files' descriptions say it."""


def has_localizer(run_dir: str | Path) -> bool:
    """True when ``run_dir`` holds a trained localizer (``localizer/head.keras`` and ``localizer/localizer.json``)."""
    folder = Path(run_dir) / FOLDER
    return (folder / HEAD).is_file() and (folder / RECORD).is_file()


def read_record(run_dir: str | Path) -> dict:
    """``localizer/localizer.json``: method, feature layer, training composites and the measured IoU.

    Raises:
        RunError: no localizer in the run (train one with ``carspotter localize RUN``).
    """
    path = Path(run_dir) / FOLDER / RECORD
    if not path.is_file():
        raise RunError(f"{Path(run_dir)}: no localizer in this run; train one with `carspotter localize {run_dir}`")
    return json.loads(path.read_text(encoding="utf-8"))


def _around_backbone(model):
    """``(layers before the backbone, the backbone, layers after it)`` of the run's classifier (input layer left out).

    Raises:
        RunError: the model has no nested backbone.
    """
    import keras

    layers = model.layers[1:]
    at = next((i for i, lyr in enumerate(layers) if isinstance(lyr, keras.Model)), None)
    if at is None:
        raise RunError(
            "the run's model has no nested backbone; a localizer needs the classifier carspotter train makes"
        )
    return layers[:at], layers[at], layers[at + 1 :]


def _before_backbone(model, before):
    """The model's input through ``before`` (the layers ahead of the backbone: the rescaling)."""
    x = model.inputs[0]
    for lyr in before:
        x = lyr(x)
    return x


def available_layers(model, names) -> list[str]:
    """Those of ``names`` that are layers of the run model's backbone, in the given order."""
    have = {lyr.name for lyr in _around_backbone(model)[1].layers}
    return [n for n in names if n in have]


def feature_model(model, layer: str):
    """The classifier up to ``layer`` of its backbone: ``[N, S, S, 3]`` 0..255 -> that layer's ``[N, h, w, c]``.

    The run's model is ``image -> rescaling -> backbone (nested functional) -> pooling -> dropout -> probabilities``;
    ``layer`` names a layer of the backbone (``mixed7``: 17 x 17 x 768 at S = 299; ``mixed10``: 8 x 8 x 2048).
    """
    import keras

    before, backbone, _ = _around_backbone(model)
    inner = keras.Model(backbone.inputs, backbone.get_layer(layer).output)
    return keras.Model(model.inputs, inner(_before_backbone(model, before)), name=f"features_{layer}")


def two_output_model(model, head, layer: str):
    """``image -> (probabilities [N, C], box [N, 4])``: the classifier and the box head on its backbone's ``layer``."""
    import keras

    before, backbone, after = _around_backbone(model)
    inner = keras.Model(backbone.inputs, [backbone.get_layer(layer).output, backbone.output])
    tap, y = inner(_before_backbone(model, before))
    for lyr in after:
        y = lyr(y)
    box = keras.layers.Identity(name=BOX_OUTPUT)(head(tap))
    return keras.Model(model.inputs, [y, box], name="carspotter_two_output")  # y: the classifier's "probabilities"


def load_two_output(run_dir: str | Path, model=None):
    """The run's two-output model (see :func:`two_output_model`); ``model`` the run's loaded classifier, if at hand.

    Raises:
        RunError: no localizer in the run.
    """
    import keras

    record = read_record(run_dir)
    model = model or keras.saving.load_model(Path(run_dir) / "model.keras", compile=False)
    head = keras.saving.load_model(Path(run_dir) / FOLDER / HEAD, compile=False)
    return two_output_model(model, head, record[FEATURE_LAYER_KEY])


@dataclass
class TwoPassAnswer:
    """What two-pass recognition says of one photo.

    Attributes:
        probabilities: ``[C]`` 0..1, from pass 2 when it ran, else from pass 1.
        box: pass 1's box output, ``x0, y0, x1, y1`` in 0..1 of the region.
        roi: the ROI pass 2 classified (upright-photo pixels), or None when it did not run.
        found: the ROI the box logic made of the box (None: no usable box), whether or not pass 2 ran.
        passes: 1 or 2.
        first: ``[C]`` pass 1's probabilities.
    """

    probabilities: np.ndarray
    box: np.ndarray
    roi: Roi | None
    found: Roi | None
    passes: int
    first: np.ndarray


def two_pass(infer, image, size: int, region: Roi | None = None) -> TwoPassAnswer:
    """Two-pass recognition of one upright photo (the reference every package ports).

    Args:
        infer: ``[N, S, S, 3] uint8 -> (probabilities [N, C], box [N, 4])``, e.g. a two-output model's predict.
        image: upright RGB ``PIL.Image.Image`` or ``[H, W, 3]`` uint8, at full resolution.
        size: S, the model's input side in pixels.
        region: what pass 1 sees (a ROI the caller gave), default the whole photo.
    """
    w, h = image.size if hasattr(image, "getbands") else (image.shape[1], image.shape[0])
    region = region or Roi(0, 0, w, h)
    probs, box = infer(resize(cut(image, region), size)[None])
    probs, box = np.asarray(probs)[0], np.asarray(box, np.float32)[0]
    found = box_to_roi(box, region)
    if not needs_second_pass(found, region):
        return TwoPassAnswer(probs, box, None, found, 1, probs)
    second, _ = infer(resize(cut(image, found), size)[None])
    return TwoPassAnswer(np.asarray(second)[0], box, found, found, 2, probs)

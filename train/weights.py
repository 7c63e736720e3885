"""Backbone weights: Keras' ImageNet download, random initialization, or a local file."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from carspotter.model.spec import BACKBONE
from carspotter.util.errors import WeightsError, one_line


@dataclass
class WeightsUsed:
    """What the backbone was initialised from; recorded in run.json.

    Attributes:
        requested: ``"imagenet"``, ``"none"`` or a file path, as asked.
        used: what was actually loaded (differs from ``requested`` after a fallback).
        input_range: ``"-1,1"`` or ``"0,1"``, the pixel range the weights expect.
        fallback_reason: why ``used`` differs from ``requested``; None otherwise.
        sha256: sha256 of a weights file; None otherwise.
    """

    requested: str
    used: str
    input_range: str
    fallback_reason: str | None = None
    sha256: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


def make_base(image_size: int, weights: str, input_range: str | None, fallback_none: bool = False):
    """Create ``keras.applications.InceptionV3(include_top=False)`` (:data:`~carspotter.model.spec.BACKBONE`) with the requested weights.

    Args:
        image_size: input side in pixels.
        weights: ``"imagenet"`` (Keras download, range -1..1), ``"none"`` (random), or a
            path to a Keras weights file (``.weights.h5`` from ``save_weights`` or Keras'
            ``..._notop.h5``) of the same architecture.
        input_range: the range the weights expect; required for a file path.
        fallback_none: if the ImageNet download fails, go on from random initialization
            (warning loudly) instead of raising.

    Returns:
        ``(base model, WeightsUsed)``.

    Raises:
        WeightsError: download failed (without fallback), file missing, or not weights
            for this architecture.
    """
    shape = (image_size, image_size, 3)
    if weights == "none":
        base = BACKBONE.application()(include_top=False, weights=None, input_shape=shape)
        return base, WeightsUsed("none", "none", input_range or BACKBONE.imagenet_range)
    if weights == "imagenet":
        return _imagenet_base(shape, input_range, fallback_none)
    return _file_base(shape, weights, input_range)


def _imagenet_base(shape: tuple, input_range: str | None, fallback_none: bool):
    """:func:`make_base` with Keras' ImageNet weights: downloaded, or (``fallback_none``) random ones, said loudly."""
    if input_range not in (None, BACKBONE.imagenet_range):
        raise WeightsError(
            f"--input-range {input_range}: Keras' ImageNet weights for {BACKBONE.name} expect {BACKBONE.imagenet_range}"
        )
    try:
        base = BACKBONE.application()(include_top=False, weights="imagenet", input_shape=shape)
        return base, WeightsUsed("imagenet", "imagenet", BACKBONE.imagenet_range)
    except Exception as exc:  # keras.utils.get_file wraps network errors in plain Exception
        reason = f"could not download Keras' ImageNet weights for {BACKBONE.name} ({one_line(exc, 160)})"
        if not fallback_none:
            raise WeightsError(
                reason + "; pass --weights PATH --input-range 0,1|-1,1 for a local weights file, or --weights none"
            ) from None
        print(
            f"\n!!! WARNING: {reason}.\n!!! Training goes on from RANDOM INITIALIZATION: accuracy will be low. "
            "Recorded in run.json as weights.used = none.\n",
            file=sys.stderr,
        )
        base = BACKBONE.application()(include_top=False, weights=None, input_shape=shape)
        return base, WeightsUsed("imagenet", "none", BACKBONE.imagenet_range, fallback_reason=reason)


def _file_base(shape: tuple, weights: str, input_range: str | None):
    """:func:`make_base` with the weights of a local Keras weights file (``input_range`` required)."""
    path = Path(weights)
    if not path.is_file():
        raise WeightsError(
            f"--weights {weights}: no such file; pass imagenet, none, or a Keras weights file (.weights.h5)"
        )
    if input_range is None:
        raise WeightsError(
            f"--weights {weights}: also pass --input-range 0,1 or -1,1, the pixel range these weights were trained on"
        )
    base = BACKBONE.application()(include_top=False, weights=None, input_shape=shape)
    try:
        base.load_weights(str(path))
    except Exception as exc:
        raise WeightsError(
            f"{path}: not Keras weights for {BACKBONE.name} without top ({one_line(exc, 160)})"
        ) from None
    from carspotter.util.hashing import sha256_file

    return base, WeightsUsed(str(weights), str(path.resolve()), input_range, sha256=sha256_file(path))


def reference_model(cfg, dist, num_classes: int):
    """The reference model around the backbone ``cfg`` asks for (a :class:`carspotter.train.trainer.TrainConfig`),
    built under the distribution strategy ``dist``: ``(model, WeightsUsed)``.

    Raises:
        WeightsError: the weights cannot be had or loaded (the mixed-precision policy is reset first).
    """
    from carspotter.train import model as mdl
    from carspotter.train.distribute import set_mixed_precision

    try:
        with dist.strategy.scope():
            base, weights_used = make_base(cfg.image_size, cfg.weights, cfg.input_range, cfg.weights_fallback_none)
            return mdl.build(num_classes, cfg.image_size, weights_used.input_range, base), weights_used
    except BaseException:
        set_mixed_precision(False)
        raise


def float32_copy(image_size: int, model, input_range: str):
    """The same weights in a float32 model: the reference model is float32 whatever the training policy."""
    from carspotter.train import model as mdl
    from carspotter.train.distribute import set_mixed_precision

    weights = model.get_weights()
    set_mixed_precision(False)
    base32, _ = make_base(image_size, "none", input_range)
    model = mdl.build(model.output_shape[-1], image_size, input_range, base32)
    model.set_weights(weights)
    return model

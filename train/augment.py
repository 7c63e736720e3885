"""Training-time augmentation, applied in the ``tf.data`` pipeline to training batches only.

Never part of the saved model, so val, test, export and parity see the photos exactly as
:mod:`carspotter.photos` makes them. Configured by a spec string such as
``"flip,crop=0.6,rotate=5,brightness=0.1,contrast=0.1"`` or ``"none"``:

- ``flip``: horizontal flip with probability 0.5 (cars are left-right symmetric enough;
  no vertical flip).
- ``crop=A``: random resized crop as in Inception training (Szegedy et al. 2015, "Going
  deeper with convolutions"; torchvision ``RandomResizedCrop``): a box covering a fraction
  ``A..1`` of the photo with aspect ratio 3/4..4/3, resized back to the input size.
- ``rotate=D``: rotation by up to +-D degrees (``keras.layers.RandomRotation``, reflect fill).
- ``brightness=B``: add up to +-B x 255 to every pixel of a photo.
- ``contrast=C``: scale each channel's distance from its mean by 1-C..1+C
  (as ``tf.image.adjust_contrast``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from carspotter.errors import UsageError

DEFAULT_SPEC = "flip,crop=0.6,rotate=5,brightness=0.1,contrast=0.1"


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings (see the module docstring); the defaults are all off.

    Attributes:
        flip: random horizontal flip.
        crop: smallest area fraction of a random resized crop (1.0 = off), 0.05..1.
        rotate: largest rotation in degrees (0 = off), 0..45.
        brightness: largest brightness shift as a fraction of 255 (0 = off), 0..1.
        contrast: largest contrast change as a fraction (0 = off), 0..1.
    """

    flip: bool = False
    crop: float = 1.0
    rotate: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0

    @property
    def active(self) -> bool:
        """True when any augmentation is on."""
        return self.flip or self.crop < 1.0 or self.rotate > 0 or self.brightness > 0 or self.contrast > 0

    def spec(self) -> str:
        """The canonical spec string (parses back to an equal config)."""
        parts = (["flip"] if self.flip else []) + [f"{k}={getattr(self, k):g}" for k, off in
                                                    (("crop", 1.0), ("rotate", 0.0), ("brightness", 0.0), ("contrast", 0.0))
                                                    if getattr(self, k) != off]
        return ",".join(parts) or "none"


_LIMITS = {"crop": (0.05, 1.0), "rotate": (0.0, 45.0), "brightness": (0.0, 1.0), "contrast": (0.0, 1.0)}


def parse(spec: str) -> AugmentConfig:
    """Parse an augmentation spec string.

    Raises:
        UsageError: unknown name, missing or out-of-range value (one line naming it).
    """
    spec = spec.strip()
    if spec.lower() in ("none", "off", ""):
        return AugmentConfig()
    values: dict = {}
    for part in spec.split(","):
        name, _, value = part.strip().partition("=")
        name = name.strip().lower()
        if name == "flip" and not value:
            values["flip"] = True
            continue
        if name not in _LIMITS:
            raise UsageError(f"--augment {spec!r}: unknown part {part.strip()!r}; use flip, crop=A, rotate=D, brightness=B, contrast=C or none")
        try:
            number = float(value)
        except ValueError:
            raise UsageError(f"--augment {spec!r}: {name} needs a number, e.g. {name}=0.1") from None
        lo, hi = _LIMITS[name]
        if not (lo <= number <= hi) or math.isnan(number):
            raise UsageError(f"--augment {spec!r}: {name}={value} is outside {lo:g}..{hi:g}")
        values[name] = number
    return AugmentConfig(**values)


def make_augmenter(cfg: AugmentConfig, image_size: int, seed: int):
    """A function augmenting a batch ``[B, S, S, 3]`` float32 (pixel values 0..255) in TensorFlow.

    Returns:
        ``f(images) -> images`` of the same shape, values clipped to 0..255; the identity
        when nothing is on.
    """
    import keras
    import tensorflow as tf

    if not cfg.active:
        return lambda images: images
    # float32 whatever the global dtype policy: augmentation belongs to the input pipeline.
    rotation = (keras.layers.RandomRotation(cfg.rotate / 360.0, fill_mode="reflect", seed=seed, dtype="float32")
                if cfg.rotate else None)

    def augment(images):
        n = tf.shape(images)[0]
        if cfg.crop < 1.0:
            area = tf.random.uniform([n], cfg.crop, 1.0)
            log_ratio = tf.random.uniform([n], math.log(3 / 4), math.log(4 / 3))
            w = tf.minimum(tf.sqrt(area * tf.exp(log_ratio)), 1.0)
            h = tf.minimum(tf.sqrt(area / tf.exp(log_ratio)), 1.0)
            x0 = tf.random.uniform([n]) * (1.0 - w)
            y0 = tf.random.uniform([n]) * (1.0 - h)
            boxes = tf.stack([y0, x0, y0 + h, x0 + w], axis=1)
            images = tf.image.crop_and_resize(images, boxes, tf.range(n), [image_size, image_size], method="bilinear")
        if cfg.flip:
            images = tf.image.random_flip_left_right(images)
        if rotation is not None:
            images = rotation(images, training=True)
        if cfg.brightness:
            images = images + tf.random.uniform([n, 1, 1, 1], -cfg.brightness, cfg.brightness) * 255.0
        if cfg.contrast:
            mean = tf.reduce_mean(images, axis=[1, 2], keepdims=True)
            images = (images - mean) * tf.random.uniform([n, 1, 1, 1], 1 - cfg.contrast, 1 + cfg.contrast) + mean
        return tf.clip_by_value(images, 0.0, 255.0)

    return augment

"""Training-time augmentation, applied in the ``tf.data`` pipeline to training batches only.

Never part of the saved model, so val, test, export and parity see the photos exactly as
:mod:`carspotter.model.photos` makes them. Configured by a spec string such as
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

Against the app's own resizing (an app stretches the photo with whatever its platform does:
MediaPipe, Vision, OpenCV, sharp), so that the resizer cannot flip the answer:

- ``resize=P``: with probability P per batch, resample the photo as another resizer would
  have made it: to a random scale 0.5..3 of the input (bicubic; below 1 this is a small photo
  an app upscales, above 1 a large one it downscales) and back to the input size with a random
  kernel (bilinear or nearest, antialiasing on or off, area, bicubic, lanczos3:
  ``tf.image.resize``).
- ``jpeg=Q``: re-encode each photo as JPEG at a random quality Q..100
  (``tf.image.stateless_random_jpeg_quality``), as phones and chat apps do.
- ``blur=S``: Gaussian blur with a random sigma 0..S pixels per batch (defocus, motion, a soft
  resizer).

For street photos, where the car is a part of the frame (training for scale):

- ``zoomout=P``: with probability P per photo, a copy-paste composite at the input's size (Dwibedi et al.,
  ICCV 2017; Ghiasi et al., CVPR 2021): the photo shrunk to a random 30..100 % of the input's side (both axes alike),
  placed at a random spot, on a background made from another photo of the batch blurred to an out-of-focus
  blotch (a 31 x 31 average, 4x downsampled and upsampled). What a car at 30 % of a street photo's width looks like
  after the reference resize, with its label; photos where the car fills the frame keep the other 1 - P.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from carspotter.util.errors import UsageError

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
        resize: probability of resampling a batch with another resizer (0 = off), 0..1.
        jpeg: lowest JPEG re-encoding quality (100 = off), 10..100.
        blur: largest Gaussian blur sigma in pixels (0 = off), 0..5.
        zoomout: probability of a zoom-out composite per photo (0 = off), 0..1.
    """

    flip: bool = False
    crop: float = 1.0
    rotate: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    resize: float = 0.0
    jpeg: float = 100.0
    blur: float = 0.0
    zoomout: float = 0.0

    @property
    def active(self) -> bool:
        """True when any augmentation is on."""
        return self.flip or any(getattr(self, k) != off for k, off in _OFF)

    def spec(self) -> str:
        """The canonical spec string (parses back to an equal config)."""
        parts = (["flip"] if self.flip else []) + [
            f"{k}={getattr(self, k):g}" for k, off in _OFF if getattr(self, k) != off
        ]
        return ",".join(parts) or "none"


_OFF = (
    ("crop", 1.0),
    ("rotate", 0.0),
    ("brightness", 0.0),
    ("contrast", 0.0),
    ("resize", 0.0),
    ("jpeg", 100.0),
    ("blur", 0.0),
    ("zoomout", 0.0),
)
_LIMITS = {
    "crop": (0.05, 1.0),
    "rotate": (0.0, 45.0),
    "brightness": (0.0, 1.0),
    "contrast": (0.0, 1.0),
    "resize": (0.0, 1.0),
    "jpeg": (10.0, 100.0),
    "blur": (0.0, 5.0),
    "zoomout": (0.0, 1.0),
}


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
            raise UsageError(
                f"--augment {spec!r}: unknown part {part.strip()!r}; use flip, crop=A, rotate=D, brightness=B, "
                "contrast=C, resize=P, jpeg=Q, blur=S, zoomout=P or none"
            )
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
    rotation = (
        keras.layers.RandomRotation(cfg.rotate / 360.0, fill_mode="reflect", seed=seed, dtype="float32")
        if cfg.rotate
        else None
    )

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
        if cfg.resize:
            images = tf.cond(tf.random.uniform([]) < cfg.resize, lambda: _resample(images, image_size), lambda: images)
        if cfg.blur:
            images = _blur(images, tf.random.uniform([], 0.0, cfg.blur))
        if cfg.zoomout:
            images = _zoomout(images, image_size, cfg.zoomout)
        images = tf.clip_by_value(images, 0.0, 255.0)
        if cfg.jpeg < 100:
            images = _jpeg(images, int(cfg.jpeg))
        return images

    return augment


_KERNELS = (
    ("bilinear", False),
    ("bilinear", True),
    ("nearest", False),
    ("area", False),
    ("bicubic", True),
    ("lanczos3", True),
)
"""Second-step kernels of :func:`_resample`: ``(tf.image.resize method, antialias)``."""


ZOOMOUT_SHARES = (0.3, 1.0)
"""The photo's share of the input's side in a zoom-out composite, uniform in this range."""


def _zoomout(images, size: int, probability: float):
    """Zoom-out composites (``zoomout=P`` in the module docstring) of a ``[B, S, S, 3]`` float32 batch."""
    import tensorflow as tf

    n = tf.shape(images)[0]
    share = tf.random.uniform([n], *ZOOMOUT_SHARES)
    share = tf.where(tf.random.uniform([n]) < probability, share, tf.ones([n]))
    ox, oy = tf.random.uniform([n]) * (1.0 - share), tf.random.uniform([n]) * (1.0 - share)
    # crop_and_resize with a box larger than the photo: the photo lands at (ox, oy) with side `share`, 0 around it
    boxes = tf.stack([-oy / share, -ox / share, (1.0 - oy) / share, (1.0 - ox) / share], axis=1)
    index = tf.range(n)
    placed = tf.image.crop_and_resize(images, boxes, index, [size, size], method="bilinear")
    mask = tf.image.crop_and_resize(tf.ones_like(images[..., :1]), boxes, index, [size, size], method="bilinear")
    other = tf.roll(images, shift=1, axis=0)
    small = tf.nn.avg_pool2d(other, 31, 4, "SAME")
    background = tf.image.resize(small, [size, size], method="bilinear")
    return placed + (1.0 - mask) * background


def _resample(images, size: int):
    """Resize a batch to a random scale 0.5..3 of ``size`` (bicubic) and back to ``size`` with a random kernel."""
    import math

    import tensorflow as tf

    scale = tf.exp(tf.random.uniform([], math.log(0.5), math.log(3.0)))
    side = tf.cast(tf.round(scale * size), tf.int32)
    middle = tf.image.resize(images, [side, side], method="bicubic", antialias=True)
    branches = [lambda m=m, a=a: tf.image.resize(middle, [size, size], method=m, antialias=a) for m, a in _KERNELS]
    out = tf.switch_case(tf.random.uniform([], 0, len(_KERNELS), dtype=tf.int32), branches)
    return tf.ensure_shape(tf.cast(out, tf.float32), images.shape)


def _blur(images, sigma):
    """Separable Gaussian blur of a batch with ``sigma`` pixels (a 9-tap kernel; sigma near 0 leaves it unchanged)."""
    import tensorflow as tf

    x = tf.range(-4.0, 5.0)
    k = tf.exp(-0.5 * tf.square(x / tf.maximum(sigma, 1e-3)))
    k = k / tf.reduce_sum(k)
    rows = tf.tile(tf.reshape(k, [9, 1, 1, 1]), [1, 1, 3, 1])
    cols = tf.tile(tf.reshape(k, [1, 9, 1, 1]), [1, 1, 3, 1])
    padded = tf.pad(images, [[0, 0], [4, 4], [4, 4], [0, 0]], mode="SYMMETRIC")
    return tf.nn.depthwise_conv2d(
        tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID"), cols, [1, 1, 1, 1], "VALID"
    )


def _jpeg(images, min_quality: int):
    """Each photo of a batch re-encoded as JPEG at a random quality ``min_quality``..100."""
    import tensorflow as tf

    def one(image):
        seed = tf.random.uniform([2], 0, 2**31 - 1, dtype=tf.int32)  # drawn like the other ops, from the op seed
        return tf.image.stateless_random_jpeg_quality(image / 255.0, min_quality, 100, seed) * 255.0

    return tf.map_fn(one, images, fn_output_signature=tf.float32)

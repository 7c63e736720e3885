"""A tiny stand-in for InceptionV3, for tests whose subject is not the backbone itself.

:func:`tiny_backbone` replaces ``keras.applications.InceptionV3`` (:meth:`carspotter.model.spec.BackboneSpec.application`)
with a small convolutional network of the same interface: ``include_top=False``, ``weights=None``, an
``input_shape``, a model named ``inception_v3`` whose last block is a 4-D feature map called ``mixed10`` (Grad-CAM's
layer). Everything around it is the product's own code: training (both phases, BatchNormalization frozen), the
Rescaling inside the model, export to every format, parity, the packages. A run then trains and exports in seconds
instead of minutes; what depends on InceptionV3 itself (its weights, its 299 px figures) keeps the real backbone.
"""

from __future__ import annotations

import contextlib

import pytest


def tiny_application(include_top: bool = False, weights=None, input_shape=(75, 75, 3), **_):
    """``keras.applications.InceptionV3``'s signature, a 3-block CNN behind it (about 100,000 parameters: large
    enough that an int8 file is a quarter of the fp32 one, small enough to train and convert in seconds)."""
    import keras

    if include_top or weights not in (None, "none"):
        raise ValueError("the tiny backbone has no top and no pretrained weights")
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", name="conv2d")(inputs)
    x = keras.layers.BatchNormalization(name="batch_normalization")(x)
    x = keras.layers.Activation("relu", name="activation")(x)
    x = keras.layers.Conv2D(64, 3, strides=2, padding="same", name="conv2d_1")(x)
    x = keras.layers.BatchNormalization(name="batch_normalization_1")(x)
    x = keras.layers.Activation("relu", name="activation_1")(x)
    x = keras.layers.AveragePooling2D(2, name="average_pooling2d")(x)
    x = keras.layers.Conv2D(128, 3, padding="same", activation="relu", name="mixed10")(x)
    return keras.Model(inputs, x, name="inception_v3")


@contextlib.contextmanager
def tiny_backbone():
    """Within the block, the backbone the trainer builds is :func:`tiny_application` (in this process only)."""
    from carspotter.model.spec import BackboneSpec

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BackboneSpec, "application", lambda self: tiny_application)
        yield

"""The reference model: Keras InceptionV3 backbone + pooled dense softmax head.

Input ``[N, S, S, 3]`` float32 NHWC RGB holding raw pixel values 0..255 (see
:mod:`carspotter.model.photos`). A ``keras.layers.Rescaling`` layer inside the model maps them
to the range the backbone's weights were trained on, so every exported format takes raw
pixels. Output ``[N, C]`` softmax probabilities, layer name ``probabilities``.
No Lambda layers: the saved model loads with ``safe_mode=True``.
"""

from __future__ import annotations

from dataclasses import dataclass

from carspotter.util.errors import UsageError
from carspotter.model.spec import BACKBONE, OUTPUT_NAME, InputSpec

MIN_IMAGE_SIZE = BACKBONE.min_size  # keras.applications refuses smaller inputs
FINETUNE_LAYERS = BACKBONE.finetune_layers  # top layers of the base unfrozen in phase 2


@dataclass
class HeadConfig:
    """Head hyperparameters.

    Attributes:
        dropout: dropout rate before the dense layer (0..1).
    """

    dropout: float = 0.3


def check_image_size(size: int) -> None:
    """Raise :class:`UsageError` unless InceptionV3 can take ``size x size`` input."""
    if size < MIN_IMAGE_SIZE:
        raise UsageError(
            f"--image-size {size}: {BACKBONE.name} needs at least {MIN_IMAGE_SIZE} px "
            f"({BACKBONE.native_size} is its native size)"
        )


def build(num_classes: int, image_size: int, input_range: str, base, head: HeadConfig = HeadConfig()):
    """Assemble the reference model around a backbone.

    Args:
        num_classes: C, the number of classes.
        image_size: S, input side in pixels (>= 75).
        input_range: key of :data:`carspotter.model.spec.INPUT_RANGES`, the range ``base`` expects.
        base: ``keras.applications.InceptionV3(include_top=False, input_shape=(S, S, 3))``.
        head: head hyperparameters.

    Returns:
        ``keras.Model`` mapping ``[N, S, S, 3]`` raw pixels to ``[N, C]`` probabilities.
        The base is called with ``training=False``, so its BatchNormalization layers stay
        in inference mode even when unfrozen (Keras transfer-learning guide).
    """
    import keras

    spec = InputSpec(image_size, input_range)
    scale, offset = spec.rescaling
    inputs = keras.Input((spec.size, spec.size, 3), dtype=spec.dtype, name=spec.name)
    x = keras.layers.Rescaling(scale, offset, name="rescale_to_" + input_range.replace(",", "_").replace("-", "m"))(
        inputs
    )
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dropout(head.dropout, name="dropout")(x)
    # float32 softmax even under the mixed_float16 policy (Keras mixed-precision guide).
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=spec.output_name, dtype="float32")(x)
    return keras.Model(inputs, outputs, name="carspotter_inception_v3")


def uint8_fed(model):
    """The model as trained from uint8 batches: ``[N, S, S, 3]`` uint8 -> a cast to float32 on the device -> ``model``.

    It shares every layer and weight with ``model`` (training it trains ``model``); the saved reference model keeps its
    documented float32 input, so the exported files do too. With float32 batches the copy from host memory limits a
    GPU: measured 3.3x slower for the fine-tune step on an H200 (../shared/GPU.md).
    """
    import keras

    inputs = keras.Input(model.input_shape[1:], dtype="uint8", name="image_uint8")
    x = keras.layers.Rescaling(1.0, 0.0, dtype="float32", name="cast_uint8_to_float32")(inputs)
    return keras.Model(inputs, model(x), name=model.name + "_uint8_fed")


def feature_extractor(model):
    """The frozen part of phase 1 as a model: ``[N, S, S, 3]`` raw pixels -> ``[N, 2048]`` pooled features
    (Rescaling, InceptionV3 in inference mode, global average pooling)."""
    import keras

    return keras.Model(model.input, model.get_layer("avg_pool").output, name="bottleneck_features")


def build_head(num_classes: int, feature_dim: int, head: HeadConfig = HeadConfig()):
    """The head alone, for training on cached bottleneck features: ``[N, 2048]`` -> ``[N, C]``
    probabilities, with the same layer names as :func:`build`'s head."""
    import keras

    inputs = keras.Input((feature_dim,), dtype="float32", name="features")
    x = keras.layers.Dropout(head.dropout, name="dropout")(inputs)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=OUTPUT_NAME, dtype="float32")(x)
    return keras.Model(inputs, outputs, name="carspotter_head")


def copy_head(head_model, model) -> None:
    """Copy the trained head's dense weights into the full model made by :func:`build`."""
    model.get_layer(OUTPUT_NAME).set_weights(head_model.get_layer(OUTPUT_NAME).get_weights())


def base_of(model):
    """The InceptionV3 sub-model inside a model made by :func:`build`."""
    return model.get_layer(BACKBONE.keras_layer)


def freeze_base(model) -> None:
    """Phase 1: the whole base frozen, only the head trains."""
    base_of(model).trainable = False


def unfreeze_top(model, n_layers: int = FINETUNE_LAYERS) -> int:
    """Phase 2: unfreeze the top ``n_layers`` layers of the base, BatchNormalization excepted.

    Returns:
        The number of layers made trainable.
    """
    import keras

    base = base_of(model)
    base.trainable = True
    count = 0
    for i, layer in enumerate(base.layers):
        top = i >= len(base.layers) - n_layers
        trainable = top and not isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = trainable
        count += trainable
    return count

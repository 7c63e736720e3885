"""Class-activation heatmaps: Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep
Networks via Gradient-based Localization", ICCV 2017) on the reference model's last convolutional block.

For class c with score y^c and the last convolutional block's feature maps A^k (``[h, w, K]``),
the weight of map k is the spatial mean of dy^c/dA^k and the heatmap is ReLU(sum_k weight_k
A^k), scaled to 0..1 and resized to the input (bilinear). In the carspotter model the block is
InceptionV3's last one, ``mixed10`` (8 x 8 x 2048 at 299 px), the output of the
``inception_v3`` layer; the head after it is average pooling, dropout (inference: identity)
and the dense layer.

The score is the class's log-probability, ``z_c - logsumexp(z)`` of the pre-softmax logits z,
not the paper's raw ``z_c``: the map then shows where the photo favours c over the other
classes. With the raw score a weak model's top class often has no location of positive
evidence at all (its logit is only the least negative): 25 of 120 original-size Stanford
photos gave an all-zero map with a 20-class run, none with the log-probability.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from carspotter.util.errors import UsageError


def last_conv_block(model) -> tuple[object, str]:
    """The last layer of ``model`` whose output is a 4-D feature map, and its name for people
    (``inception_v3/mixed10`` for a nested backbone).

    Raises:
        UsageError: the model has no convolutional block (every layer output is flat).
    """
    for layer in reversed(model.layers):
        if len(layer.output.shape) == 4 and type(layer).__name__ not in ("InputLayer", "Rescaling"):
            inner = layer.layers[-1].name if hasattr(layer, "layers") and layer.layers else None
            return layer, f"{layer.name}/{inner}" if inner else layer.name
    raise UsageError(
        f"--report: the model {model.name} has no convolutional block (no layer with a 4-D output), "
        "so no heatmap can be made; predict without --report"
    )


def gradcam(model, pixels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Grad-CAM heatmaps for one class per photo, at the input's size.

    Args:
        model: the Keras reference (raw pixels in, probabilities out, Dense softmax last).
        pixels: ``[N, S, S, 3]`` uint8 RGB, the exact inputs.
        classes: ``[N]`` class index to explain per photo (usually the top-1).

    Returns:
        ``[N, S, S]`` float32 heatmaps 0..1: :func:`gradcam_maps` divided by each map's maximum
        (all zeros where no location raises the score), resized bilinearly.

    Raises:
        UsageError: see :func:`gradcam_maps`.
    """
    cams = gradcam_maps(model, pixels, classes)
    size = pixels.shape[1]
    out = np.zeros((len(cams), size, size), np.float32)
    for i, cam in enumerate(cams):
        top = cam.max()
        if top > 0:
            out[i] = np.asarray(
                Image.fromarray((cam / top).astype(np.float32), "F").resize((size, size), Image.Resampling.BILINEAR)
            )
    return np.clip(out, 0.0, 1.0)


def gradcam_maps(model, pixels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Grad-CAM at the block's resolution: ``[N, h, w]`` float32, ReLU(sum_k alpha_k^c A^k), unscaled.

    Args: as :func:`gradcam`.

    Raises:
        UsageError: no convolutional block (:func:`last_conv_block`), or the model does not end
            in a Dense layer (no pre-softmax score).
    """
    import tensorflow as tf

    block, _ = last_conv_block(model)
    chain = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]  # the model is a chain of layers
    before, after = chain[: chain.index(block) + 1], chain[chain.index(block) + 1 :]
    dense = after[-1] if after else None
    if dense is None or not hasattr(dense, "kernel"):
        raise UsageError(
            f"--report: the model {model.name} does not end in a Dense layer; Grad-CAM needs its pre-softmax score"
        )
    maps = tf.convert_to_tensor(pixels.astype(np.float32))
    for layer in before:
        maps = layer(maps, training=False)
    with tf.GradientTape() as tape:
        tape.watch(maps)
        h = maps
        for layer in after[:-1]:
            h = layer(h, training=False)
        logits = tf.matmul(h, dense.kernel) + (dense.bias if dense.use_bias else 0.0)
        log_probs = tf.nn.log_softmax(logits, axis=-1)
        score = tf.gather(log_probs, tf.convert_to_tensor(classes, tf.int32), axis=1, batch_dims=1)
    grads = tape.gradient(score, maps).numpy()
    maps = maps.numpy()
    weights = grads.mean(axis=(1, 2), keepdims=True)  # [N, 1, 1, K]: alpha_k^c
    return np.maximum((weights * maps).sum(axis=-1), 0.0).astype(np.float32)  # [N, h, w]


def overlay(pixels: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The input with the heatmap over it: ``[S, S, 3]`` uint8 (heat 0 blue .. 1 red, ``alpha`` 0..1 at full heat)."""
    h = heat[..., None]
    colour = np.concatenate(
        [np.clip(2 * h, 0, 1), np.clip(2 - np.abs(4 * h - 2), 0, 1) * 0.9, np.clip(1 - 2 * h, 0, 1)], -1
    )
    a = alpha * np.clip(1.5 * h, 0, 1)  # cold areas keep the photo as it is
    return np.clip(pixels * (1 - a) + 255 * colour * a, 0, 255).astype(np.uint8)


def centre_of_mass(heat: np.ndarray) -> tuple[float, float]:
    """``(x, y)`` of a heatmap's centre of mass, as fractions 0..1 of the input's width and height."""
    total = heat.sum()
    if total <= 0:
        return 0.5, 0.5
    ys, xs = np.mgrid[0 : heat.shape[0], 0 : heat.shape[1]]
    return float((xs * heat).sum() / total / heat.shape[1]), float((ys * heat).sum() / total / heat.shape[0])

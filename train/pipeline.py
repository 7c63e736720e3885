"""The ``tf.data`` input pipeline over a :class:`~carspotter.train.store.PhotoStore`.

Elements are photo indices; each batch of indices is gathered from the decoded pixel
array (RAM or memmap) in a ``tf.numpy_function``, augmented for training only, and prefetched
(``tf.data.AUTOTUNE``), so the next batch is ready while the model runs on the current one
(tf.data performance guide: "Better performance with the tf.data API"). Photo batches stay
uint8 (``uint8=True``): 4x fewer bytes cross from host memory to the device, and the training
model casts them there (:func:`carspotter.train.model.uint8_fed`); measured on a GPU, that made
the fine-tune step 3.3x faster than float32 batches (../shared/GPU.md). Augmentation computes in
float32 and rounds back to uint8 (photos are 8-bit anyway).

Sampling: shuffled once per epoch (default); or ``balanced``, drawing every class with
equal probability (``tf.data.Dataset.sample_from_datasets`` over per-class streams, small
classes repeated) for the same number of photos per epoch.
"""

from __future__ import annotations

import numpy as np

SAMPLINGS = ("class-weights", "balanced", "none")


def _order(labels: np.ndarray, num_classes: int, *, training: bool, balanced: bool, seed: int):
    """The positions ``0..n-1`` of a split in the order one epoch visits them: as they are (evaluation), shuffled
    each epoch, or drawn class by class with equal probability (``balanced``, small classes repeated), n in all."""
    import tensorflow as tf

    positions = np.arange(len(labels), dtype=np.int64)
    if training and balanced:
        streams = [
            tf.data.Dataset.from_tensor_slices(positions[labels == c])
            .shuffle(max(1, int((labels == c).sum())), seed=seed + c)
            .repeat()
            for c in range(num_classes)
            if (labels == c).any()
        ]
        d = tf.data.Dataset.sample_from_datasets(streams, weights=[1.0 / len(streams)] * len(streams), seed=seed)
        return d.take(len(labels))
    d = tf.data.Dataset.from_tensor_slices(positions)
    return d.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True) if training else d


def batches(
    pixels: np.ndarray,
    indices: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    batch_size: int,
    *,
    training: bool,
    seed: int,
    augment=None,
    balanced: bool = False,
    with_labels: bool = True,
    uint8: bool = False,
):
    """Build a ``tf.data.Dataset`` of ``(images, targets)`` batches.

    Args:
        pixels: ``[N, S, S, 3]`` uint8 store (all photos of the run), or any ``[N, ...]``
            array, e.g. ``[N, 2048]`` float32 cached features.
        indices: ``[n]`` rows of ``pixels`` in this split.
        labels: ``[n]`` class indices, aligned with ``indices``.
        num_classes: C, for one-hot targets.
        batch_size: photos per batch (the global batch under a distribution strategy).
        training: shuffle (or balance) and augment.
        seed: shuffling seed.
        augment: ``f(images) -> images`` from :func:`carspotter.train.augment.make_augmenter`.
        balanced: equal-probability class sampling (training only).
        with_labels: yield ``(images, targets)``; False yields images only.
        uint8: yield uint8 photo batches (values 0..255) for a model that casts them itself
            (:func:`carspotter.train.model.uint8_fed`); False: float32 holding 0..255.

    Returns:
        Dataset of ``[b, S, S, 3]`` uint8 or float32 images (``[b, ...]`` float32 for other
        arrays) and ``[b, C]`` float32 one-hot targets.
    """
    import tensorflow as tf

    indices = np.asarray(indices, np.int64)
    labels = np.asarray(labels, np.int64)
    d = _order(labels, num_classes, training=training, balanced=balanced, seed=seed).batch(batch_size)
    load = _loader(pixels, indices, labels, num_classes, augment if training else None, with_labels, uint8)
    return d.map(load, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _loader(pixels: np.ndarray, indices: np.ndarray, labels: np.ndarray, num_classes: int, augment, with_labels, uint8):
    """:func:`batches`' map function: a batch of split positions -> its images gathered from ``pixels`` (augmented
    when ``augment`` is given), with their one-hot targets unless ``with_labels`` is False."""
    import tensorflow as tf

    item_shape = list(pixels.shape[1:])
    dtype = tf.as_dtype(pixels.dtype)
    table = tf.constant(labels)
    rows = tf.constant(indices)

    def gather(batch_rows):
        return np.ascontiguousarray(pixels[batch_rows])

    def load(pos):
        images = tf.reshape(tf.numpy_function(gather, [tf.gather(rows, pos)], dtype, stateful=False), [-1] + item_shape)
        keep_uint8 = uint8 and dtype == tf.uint8
        if not keep_uint8:
            images = tf.cast(images, tf.float32)
        if augment is not None:
            images = augment(tf.cast(images, tf.float32))
            if keep_uint8:
                images = tf.cast(tf.clip_by_value(tf.round(images), 0.0, 255.0), tf.uint8)
        if not with_labels:
            return images
        return images, tf.one_hot(tf.gather(table, pos), num_classes, dtype=tf.float32)

    return load

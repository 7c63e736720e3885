"""Cached bottleneck features for the head phase.

With the base frozen, phase 1 computes the same InceptionV3 forward pass on every photo
in every epoch. Here it runs once: the pooled ``[N, 2048]`` features of the training
photos (plus ``views`` augmented copies of each) and of the validation photos are
computed once and the head is trained on them, which costs milliseconds per epoch
(the "bottleneck" approach of TensorFlow's image-retraining tutorial / TF-Hub
``retrain.py``). Features are kept in the run's resume folder, so a resumed run does not
compute them again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from carspotter.util.atomic import atomic_write
from carspotter.train import pipeline


def extract(
    feature_model,
    pixels: np.ndarray,
    rows: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    batch_size: int,
    views: int = 0,
    augment=None,
    seed: int = 0,
    label: str = "features",
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features of photos, once as they are and ``views`` times augmented.

    Args:
        feature_model: ``[B, S, S, 3]`` -> ``[B, D]`` (see :func:`carspotter.train.model.feature_extractor`).
        pixels: ``[N, S, S, 3]`` uint8 photo store.
        rows: ``[n]`` store rows to use; labels: ``[n]`` their classes.
        num_classes: C.
        batch_size: photos per forward pass.
        views: augmented copies per photo besides the plain one (0 = none).
        augment: batch augmenter (needed when ``views > 0``).
        seed: augmentation seed.
        label: progress-bar label.

    Returns:
        ``(features [n * (1 + views), D] float32, labels [n * (1 + views)] int64)``.
    """
    import tensorflow as tf
    from tqdm import tqdm

    forward = tf.function(lambda x: feature_model(x, training=False), reduce_retracing=True)
    out, out_labels = [], []
    steps = -(-len(rows) // batch_size) * (1 + views)
    with tqdm(total=steps, desc=label, unit="batch", leave=False, disable=None, file=sys.stderr) as bar:
        for view in range(1 + views):
            d = pipeline.batches(
                pixels,
                rows,
                labels,
                num_classes,
                batch_size,
                training=view > 0,
                seed=seed + view,
                augment=augment if view > 0 else None,
            )
            for images, targets in d:
                out.append(forward(images).numpy().astype(np.float32))
                out_labels.append(np.argmax(targets.numpy(), axis=1))
                bar.update(1)
    dim = feature_model.output.shape[-1]
    return (
        np.concatenate(out) if out else np.zeros((0, dim), np.float32),
        np.concatenate(out_labels).astype(np.int64) if out_labels else np.zeros((0,), np.int64),
    )


def save(path: Path, **arrays: np.ndarray) -> None:
    """Write arrays to ``path`` (``.npz``) atomically."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write)


def load(path: Path) -> dict[str, np.ndarray] | None:
    """Arrays saved by :func:`save`, or None when the file is missing."""
    if not path.is_file():
        return None
    with np.load(path) as data:
        return {k: data[k] for k in data.files}

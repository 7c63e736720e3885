"""Shared timing for the benchmark scripts."""

from __future__ import annotations

import argparse

from carspotter.util.timing import median_ms  # noqa: F401  (the benchmarks import it from here)


def bundle_arguments(doc: str) -> argparse.Namespace:
    """Command line of a bundle benchmark: ``BUNDLE_DIR [--repeats N]`` (default 20), ``doc`` as its help."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle")
    parser.add_argument("--repeats", type=int, default=20)
    return parser.parse_args()


def bundle_photo_and_keras_ms(bundle: str, repeats: int):
    """Read a bundle, decode its first test photo, and time the Keras reference on it.

    Returns:
        ``(manifest, pixels [1, S, S, 3] uint8, Keras ms per photo)``; the reference runs as
        a compiled ``tf.function`` (graph mode: Keras' fastest batch-1 path).
    """
    import tensorflow as tf

    from carspotter.parity.context import GOLDEN, LIVE, ParityContext

    ctx = ParityContext(bundle, limit=1)
    pixels = ctx.basis(LIVE if LIVE in ctx.bases else GOLDEN).photos.pixels[:1]
    model = ctx.source.model()
    forward = tf.function(lambda t: model(t, training=False))
    x = tf.constant(pixels.astype("float32"))
    return ctx.manifest, pixels, median_ms(lambda: forward(x).numpy(), repeats)

"""The zoom-out augmentation (training for scale): a photo shrunk onto a blurred other photo of the batch."""

from __future__ import annotations

import numpy as np
import pytest

from carspotter.train.augment import ZOOMOUT_SHARES, _zoomout, parse
from carspotter.util.errors import UsageError


def test_zoomout_is_parsed_and_bounded():
    assert parse("flip,zoomout=0.5").zoomout == 0.5 and parse("zoomout=0.5").spec() == "zoomout=0.5"
    with pytest.raises(UsageError, match="zoomout=1.5 is outside 0..1"):
        parse("zoomout=1.5")


def test_every_photo_shrinks_onto_another_photos_blur_at_probability_one():
    import tensorflow as tf

    tf.random.set_seed(3)
    batch = np.stack([np.full((64, 64, 3), v, np.float32) for v in (200.0, 20.0, 200.0, 20.0)])
    out = _zoomout(tf.constant(batch), 64, 1.0).numpy()
    for i in range(4):
        own = np.isclose(out[i], batch[i, 0, 0, 0], atol=1.0).all(axis=-1).mean()
        other = np.isclose(out[i], batch[i - 1, 0, 0, 0], atol=1.0).all(axis=-1).mean()
        # the photo covers share**2 of the frame (30..100 % of the side), the blurred neighbour the rest
        assert ZOOMOUT_SHARES[0] ** 2 * 0.8 <= own <= 1.0 and own + other > 0.9, (i, own, other)
    assert out.min() >= 0 and out.max() <= 255


def test_zoomout_at_probability_zero_changes_nothing():
    import tensorflow as tf

    batch = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(_zoomout(tf.constant(batch), 32, 0.0).numpy(), batch, atol=1e-3)

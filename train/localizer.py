"""Train the localizer of a run: a box head on the classifier's backbone, from copy-paste composites.

``carspotter localize RUN`` (after ``carspotter train``): the run's own training photos, each pasted into scenes
at random scale and place (:mod:`carspotter.measure.composites`; the crop itself counts as a scene whose box is the
whole frame), give inputs with exact boxes; ``--extra-photos DIR`` adds crops of other classes (the box does not
depend on the class; the run's own photos, every split, are left out so its validation and test photos stay unseen). The backbone stays frozen (the classifier is not changed by a
byte): its features are computed once per scene, and small heads are fitted on them. Candidates (the method is
chosen by measurement, on the validation split's composites, never the test split's):

- ``mixed10``: the backbone's last block (8 x 8 x 2048 at S = 299): 1 x 1 convolution to 128 channels, flatten,
  dense 128, dense 4 (sigmoid);
- ``mixed7``: the block before the last reduction (17 x 17 x 768): 1 x 1 convolution to 64, 3 x 3 stride 2 to 64,
  flatten, dense 128, dense 4 (sigmoid).

(A backbone without one of these layers, e.g. the tests' tiny stand-in, has that candidate left out.) Both regress
the box's corners ``x0, y0, x1, y1`` in 0..1 of the input with L1 plus generalized-IoU loss
(Rezatofighi et al., CVPR 2019). The one with the higher mean IoU on the validation composites is kept:
``localizer/head.keras`` and ``localizer/localizer.json`` (method, both candidates' figures with 95 % intervals,
composites and seeds), written atomically into the run folder.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from carspotter.contracts.photoset import data_folder
from carspotter.contracts.runfolder import read_run
from carspotter.measure.composites import compose
from carspotter.measure.intervals import wilson
from carspotter.model import localizer as loc
from carspotter.model import photos
from carspotter.model.reference_resize import resize
from carspotter.model.roi import iou

CANDIDATES = ("mixed10", "mixed7")
SCENE = (1196, 897)
"""Training scenes' size (4 x 299 by 3 x 299): after the box pre-reduction close to what a 12 MP photo gives."""
SHARES = (0.15, 1.0)
"""The car's share of the scene's width, uniform in this range."""


def scenes(cars: list[np.ndarray], per_photo: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs with exact boxes: each car as it is (box: the whole input), and ``per_photo - 1`` composites.

    Returns:
        ``([N, S, S, 3] uint8, [N, 4] float32 box x0, y0, x1, y1 in 0..1)``.
    """
    rng = np.random.default_rng(seed)
    inputs, boxes = [], []
    for i, car in enumerate(cars):
        inputs.append(resize(car, size))
        boxes.append([0.0, 0.0, 1.0, 1.0])
        for j in range(per_photo - 1):
            shape = SCENE if rng.random() < 0.75 else SCENE[::-1]
            s = compose(car, float(rng.uniform(*SHARES)), seed * 100003 + i * 97 + j, shape)
            inputs.append(resize(s.pixels, size))
            w, h = shape
            boxes.append([s.box.x0 / w, s.box.y0 / h, s.box.x1 / w, s.box.y1 / h])
    return np.stack(inputs), np.asarray(boxes, np.float32)


def _box_loss(true, pred):
    """L1 on the corners plus 1 - generalized IoU (Rezatofighi et al., CVPR 2019), per box."""
    from keras import ops

    l1 = ops.mean(ops.abs(true - pred), axis=-1)
    x0, y0 = ops.minimum(pred[:, 0], pred[:, 2]), ops.minimum(pred[:, 1], pred[:, 3])
    x1, y1 = ops.maximum(pred[:, 0], pred[:, 2]), ops.maximum(pred[:, 1], pred[:, 3])
    area_p = (x1 - x0) * (y1 - y0)
    area_t = (true[:, 2] - true[:, 0]) * (true[:, 3] - true[:, 1])
    iw = ops.relu(ops.minimum(x1, true[:, 2]) - ops.maximum(x0, true[:, 0]))
    ih = ops.relu(ops.minimum(y1, true[:, 3]) - ops.maximum(y0, true[:, 1]))
    inter = iw * ih
    union = area_p + area_t - inter + 1e-7
    hull = (ops.maximum(x1, true[:, 2]) - ops.minimum(x0, true[:, 0])) * (
        ops.maximum(y1, true[:, 3]) - ops.minimum(y0, true[:, 1])
    )
    giou = inter / union - (hull - union) / (hull + 1e-7)
    return l1 + 1.0 - giou


def head(kind: str, shape: tuple[int, int, int], seed: int):
    """The box head for feature map ``shape`` (``[h, w, c]``) of layer ``kind`` (see the module docstring)."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape)
    if kind == "mixed7":
        x = keras.layers.Conv2D(64, 1, activation="relu")(inp)
        x = keras.layers.Conv2D(64, 3, strides=2, activation="relu")(x)
    else:
        x = keras.layers.Conv2D(128, 1, activation="relu")(inp)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.3)(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    out = keras.layers.Dense(4, activation="sigmoid")(x)
    return keras.Model(inp, out, name=f"box_head_{kind}")


def iou_figures(pred: np.ndarray, true: np.ndarray) -> dict:
    """IoU of ``[N, 4]`` predicted against true boxes: mean with a 95 % bootstrap interval (2,000 resamples,
    seeded), median, and the share at IoU >= 0.5 with its Wilson interval."""
    ious = np.array([iou(p, t) for p, t in zip(pred.astype(np.float64), true.astype(np.float64))])
    rng = np.random.default_rng(0)
    boot = ious[rng.integers(0, len(ious), (2000, len(ious)))].mean(axis=1)
    hits = int((ious >= 0.5).sum())
    return {
        "n": len(ious),
        "mean_iou": float(ious.mean()),
        "mean_iou_ci": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
        "median_iou": float(np.median(ious)),
        "iou_at_least_0.5": hits / len(ious),
        "iou_at_least_0.5_ci": list(wilson(hits, len(ious))),
        "interval": "bootstrap 95 % (mean), Wilson 95 % (share)",
    }


def _fit(kind, train_x, train_y, val_x, epochs: int, seed: int):
    import keras

    from carspotter.train.callbacks import EpochProgress

    model = head(kind, train_x.shape[1:], seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=_box_loss)
    steps = EpochProgress(epochs, f"fit the {kind} box head")
    model.fit(train_x, train_y, batch_size=64, epochs=epochs, verbose=0, shuffle=True, callbacks=[steps])
    return model, model.predict(val_x, batch_size=64, verbose=0)


def _cars(root: Path, rows) -> list[np.ndarray]:
    return [np.asarray(photos.decode_rgb(root / r.path)) for r in rows]


def _extra_cars(folder: Path | None, limit: int, seed: int, avoid: set[Path], log) -> list[np.ndarray]:
    """Up to ``limit`` car crops from ``folder`` (any photos, labels unused), seeded, none of the run's own photos.

    Raises:
        UsageError: the folder has no photo.
    """
    from carspotter.util.errors import UsageError

    if folder is None or limit <= 0:
        return []
    found = [p for p in photos.find_photos(folder) if p.resolve() not in avoid]
    if not found:
        raise UsageError(f"--extra-photos {folder}: no photos there (car photos cropped to the car, any folder layout)")
    chosen = [found[i] for i in sorted(np.random.default_rng(seed).permutation(len(found))[:limit])]
    cars, skipped = [], 0
    for path in chosen:
        try:
            cars.append(np.asarray(photos.decode_rgb(path)))
        except photos.PhotoError:
            skipped += 1
    log(f"{len(cars)} extra car photos from {folder} ({skipped} not read)")
    return cars


def _scene_sets(run, root: Path, size: int, per_photo: int, seed: int, extra: tuple, log, t0: float) -> tuple:
    """The training scenes (the run's training photos', then ``extra``'s: folder, limit, scenes per photo; every photo
    of the run's own splits left out) and the validation scenes, with their boxes; and localizer.json's
    ``composites``."""
    folder, extra_limit, extra_per_photo = extra
    train_rows, val_rows = run.split_rows("train"), run.split_rows("val")
    own = {(root / r.path).resolve() for split in ("train", "val", "test") for r in run.split_rows(split)}
    train_in, train_box = scenes(_cars(root, train_rows), per_photo, size, seed)
    more = _extra_cars(Path(folder) if folder else None, extra_limit, seed, own, log)
    if more:
        more_in, more_box = scenes(more, extra_per_photo, size, seed + 2)
        train_in, train_box = np.concatenate([train_in, more_in]), np.concatenate([train_box, more_box])
    val_in, val_box = scenes(_cars(root, val_rows), per_photo, size, seed + 1)
    log(
        f"{len(train_in)} training and {len(val_in)} validation scenes from {len(train_rows)} + {len(val_rows)} photos "
        f"({time.perf_counter() - t0:.0f} s)"
    )
    composites = {
        "per_photo": per_photo,
        "scene": list(SCENE),
        "shares": list(SHARES),
        "seed": seed,
        "train_photos": len(train_rows),
        "val_photos": len(val_rows),
        "extra_photos": len(more),
        "extra_per_photo": extra_per_photo if more else 0,
        "training_scenes": len(train_in),
    }
    return train_in, train_box, val_in, val_box, composites


def _features(features, inputs: np.ndarray, desc: str, batch: int = 16) -> np.ndarray:
    """``features`` on ``[N, S, S, 3]`` scenes in batches, with progress (a bar, or a line every 30 s off a
    terminal): ``[N, h, w, c]`` float32."""
    from carspotter.util.progress import progress

    starts = range(0, len(inputs), batch)
    chunks = (features.predict(inputs[i : i + batch], verbose=0) for i in starts)
    return np.concatenate(list(progress(chunks, len(starts), desc, unit="batch")))


def _fit_candidates(model, layers: tuple[str, ...], train: tuple, val: tuple, epochs: int, seed: int, log, t0: float):
    """A box head fitted on each candidate layer the backbone has: ``{layer: (head, validation IoU figures)}``."""
    (train_in, train_box), (val_in, val_box) = train, val
    found = {}
    for kind in loc.available_layers(model, layers):
        features = loc.feature_model(model, kind)
        fx, vx = (
            _features(features, train_in, f"{kind} features, batches of 16 scenes"),
            _features(features, val_in, f"{kind} features, batches of 16 scenes"),
        )
        fitted, pred = _fit(kind, fx, train_box, vx, epochs, seed)
        found[kind] = (fitted, iou_figures(pred, val_box))
        log(
            f"{kind}: validation mean IoU {found[kind][1]['mean_iou']:.3f} on {len(val_in)} scenes "
            f"({time.perf_counter() - t0:.0f} s)"
        )
    return found


def localize(
    run_dir: str | Path,
    data_dir: str | Path | None = None,
    per_photo: int = 6,
    epochs: int = 60,
    seed: int = 0,
    log=print,
    extra: str | Path | None = None,
    extra_limit: int = 0,
    extra_per_photo: int = 3,
    layers: tuple[str, ...] = CANDIDATES,
) -> dict:
    """Train, choose and write the run's localizer (module docstring); returns ``localizer.json``'s content.

    Args:
        run_dir: a run from ``carspotter train``. data_dir: its photos, when they moved.
        per_photo: scenes per training photo (the crop itself and ``per_photo - 1`` composites).
        epochs: passes over the cached features per candidate head. seed: composites and heads.
        extra: a folder of more car crops for training only (the box is class-agnostic, so other classes' photos
            teach it too); every photo of the run's own splits is left out, so its validation and test photos stay
            unseen. extra_limit: at most this many of them; extra_per_photo: scenes for each.
        layers: the candidates to fit (those the backbone has).

    Raises:
        RunError: the run or its photos are missing; UsageError: ``extra`` holds no photo.
    """
    import keras

    from carspotter.util.atomic import atomic_folder

    t0 = time.perf_counter()
    run = read_run(run_dir)
    root, size = data_folder(run, data_dir), run.input.size
    model = keras.saving.load_model(Path(run_dir) / "model.keras", compile=False)
    train_in, train_box, val_in, val_box, composites = _scene_sets(
        run, root, size, per_photo, seed, (extra, extra_limit, extra_per_photo), log, t0
    )
    found = _fit_candidates(model, layers, (train_in, train_box), (val_in, val_box), epochs, seed, log, t0)
    chosen = max(found, key=lambda k: found[k][1]["mean_iou"])
    record = {
        "method": "box head on the frozen classifier backbone, L1 + GIoU, chosen by validation mean IoU",
        loc.FEATURE_LAYER_KEY: chosen,
        "candidates": {k: v[1] for k, v in found.items()},
        "whole_frame_baseline": iou_figures(np.tile([0, 0, 1, 1], (len(val_box), 1)).astype(np.float32), val_box),
        "composites": composites,
        "epochs": epochs,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    with atomic_folder(Path(run_dir) / loc.FOLDER) as tmp:
        found[chosen][0].save(tmp / loc.HEAD)
        (tmp / loc.RECORD).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    log(f"kept {chosen}: localizer written to {Path(run_dir) / loc.FOLDER}")
    return record

"""Per-layer drift (carspotter.measure.drift, carspotter drift): the reference's cut points, the file's tensors
matched to them, and a damaged layer found where it is."""

from __future__ import annotations

import json
import shutil

import numpy as np

from carspotter.measure.drift import ReferenceProbes, cut_points, match, measure_drift


def test_cut_points_are_the_layers_every_path_goes_through():
    import keras

    x = keras.Input((8, 8, 3), name="in")
    stem = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="stem")(x)
    a = keras.layers.Conv2D(2, 1, name="branch_a")(stem)
    b = keras.layers.Conv2D(2, 3, padding="same", name="branch_b")(stem)
    b = keras.layers.Activation("relu", name="branch_b_act")(b)
    joined = keras.layers.Concatenate(name="mixed")([a, b])
    out = keras.layers.GlobalAveragePooling2D(name="pool")(joined)
    model = keras.Model(x, out)
    assert cut_points(model) == ["stem", "mixed", "pool"]  # no layer inside the two parallel branches


def test_match_takes_the_closest_tensor_of_the_shape_in_order_and_refuses_a_far_one():
    rng = np.random.default_rng(0)
    ref1, ref2 = rng.normal(size=(1, 4, 4, 3)), rng.normal(size=(1, 5))
    tensors = [
        ("pre", ref1 - 3.0),
        ("post", ref1 + 1e-6),
        ("nchw", (ref1 + 1e-6).transpose(0, 3, 1, 2)),
        ("other", rng.normal(size=(1, 5)) * 10),
        ("logits", ref2 * 1.01),
    ]
    assert match(["a", "b"], [ref1, ref2], tensors) == ["post", "logits"]
    assert match(["a"], [ref1], [("pre", ref1 - 3.0)]) == [None]  # further than MATCH_LIMIT: not the same quantity


def test_a_tensor_holding_non_finite_values_matches_nothing():
    """A runtime may log a buffer before writing it (Core AI's logger, for an in-place op): NaN or inf there is no
    match, however the comparison of NaN errors falls."""
    ref = np.random.default_rng(1).normal(size=(1, 4, 4, 3))
    stale = ref.copy()
    stale[0, 0, 0, 0] = np.nan
    assert match(["a"], [ref], [("stale", stale), ("written", ref + 1e-6)]) == ["written"]
    assert match(["a"], [ref], [("stale", stale), ("inf", ref + np.inf)]) == [None]


class _Scaled:
    """A file's tensors with one matched tensor (and everything after it) off by a factor: a damaged layer."""

    def __init__(self, inner, after: str, factor: float):
        self.inner, self.after, self.factor = inner, after, factor

    def run(self, px):
        out, hit = [], False
        for name, value in self.inner.run(px):
            hit = hit or name == self.after
            out.append((name, value * self.factor if hit else value))
        return out


def test_an_exact_file_matches_every_probe_and_a_damaged_layer_is_the_first_beyond(pipeline, tmp_path):
    from carspotter.contracts.manifest import read_manifest
    from carspotter.contracts.runfolder import read_run
    from carspotter.contracts.photoset import split_photoset
    from carspotter.export.formats.onnx import drift as intermediates
    from carspotter.model.runtimes import load_reference

    run_dir, bundle = pipeline
    run = read_run(run_dir)
    probes = ReferenceProbes(load_reference(run))
    pixels = split_photoset(run, "test", limit=4).pixels
    onnx_file = bundle / read_manifest(bundle).formats["onnx"].variants["fp32"].path
    exact = measure_drift("onnx/fp32", probes, intermediates.onnx_file_tensors(onnx_file), pixels)
    assert exact.photos == 4 and len(exact.matched) == len(probes.names) >= 5
    assert max(p.rel_error for p in exact.matched) < 1e-4 and exact.first_beyond is None
    # the same file with activation_1's tensor (and all after it) 30 % too large
    damaged_at = exact.probes[probes.names.index("inception_v3/activation_1")].tensor
    damaged = measure_drift(
        "damaged", probes, _Scaled(intermediates.onnx_file_tensors(onnx_file), damaged_at, 1.3), pixels
    )
    assert damaged.first_beyond.layer == "inception_v3/activation_1"
    assert all(p.rel_error < 1e-4 for p in damaged.matched[: damaged.matched.index(damaged.first_beyond)])
    assert damaged.contributors(1)[0][0] == "inception_v3/activation_1"


def test_drift_command_writes_json_and_a_page_with_the_same_figures(pipeline, tmp_path, capsys):
    from carspotter.cli import main

    run_dir, bundle = pipeline
    assert (
        main(
            [
                "drift",
                str(bundle),
                "--run",
                str(run_dir),
                "--photos",
                "2",
                "--variants",
                "tflite/fp32,onnx/fp32",
                "--out",
                str(tmp_path / "d"),
            ]
        )
        == 0
    )
    doc = json.loads((tmp_path / "d" / "drift.json").read_text())
    assert [d["variant"] for d in doc["drift"]] == ["tflite/fp32", "onnx/fp32"]
    assert all(d["photos"] == 2 and d["first_beyond"] is None for d in doc["drift"])
    page = (tmp_path / "d" / "drift.html").read_text()
    shown = json.loads(page.split('<script type="application/json" id="figures">')[1].split("</script>")[0])
    assert shown == doc and "data:image/png;base64," in page
    assert main(["drift", str(bundle), "--run", str(run_dir), "--variants", "tflite/nope"]) == 2
    assert "choose shipped variants" in capsys.readouterr().err
    # by default the page goes into the bundle, beside parity's, and the bundle still verifies
    from carspotter.contracts.manifest import verify_bundle

    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    assert main(["drift", str(copy), "--run", str(run_dir), "--photos", "1", "--variants", "onnx/fp32"]) == 0
    assert (copy / "drift.html").is_file() and verify_bundle(copy).formats

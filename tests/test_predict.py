"""``carspotter predict``: answers per format side by side, warnings with numbers, Grad-CAM, the report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from carspotter.measure import gradcam
from carspotter.model import photos
from carspotter.cli import main
from carspotter.util.errors import UsageError
from carspotter.tools.predict import warnings_for
from conftest import SAMPLE


def test_warnings_carry_their_numbers():
    (phone,) = warnings_for(4032, 3024, 299, 0.9, None, None)  # 4:3 is no stretch to warn about
    assert phone.startswith("downscaled 13.5x: the photo's long side (4032 px) maps to 299 input pixels")
    assert "a car 200 px wide in the photo becomes 15 px" in phone
    stretched, small = warnings_for(600, 180, 299, 0.9, None, None)
    assert stretched.startswith("stretched: the 600x180 photo (3.33:1) is squeezed to 299x299 (1:1), a change of 3.33x")
    assert small.startswith("upscaled 1.7x: the photo (600x180)")
    assert warnings_for(1920, 1080, 299, 0.9, None, None) == []  # 16:9 (1.78) and 6.4x: below both limits
    (unsure,) = warnings_for(800, 600, 299, 0.512, 0.733, 0.8)
    assert unsure == (
        "not sure: top-1 probability 0.512 is below the run's threshold 0.733 for 80% precision; "
        'an app would show "not sure"'
    )
    assert warnings_for(800, 600, 299, 0.8, 0.733, 0.8) == []


def _sample_photos(n=4):
    return sorted(p for p in SAMPLE.rglob("*.jpg"))[:n]


def test_predict_every_format_side_by_side_with_unreadable_photo_listed(pipeline, tmp_path, capsys):
    from carspotter.contracts.runfolder import read_run
    from carspotter.model.runtimes import keras_probs, load_reference

    run_dir, bundle = pipeline
    folder = tmp_path / "photos"
    folder.mkdir()
    for p in _sample_photos():
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    assert main(["predict", str(bundle), str(folder), "--run", str(run_dir), "--json", "--top", "2"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert f"skipped {folder / 'broken.jpg'}: not an image Pillow can read" in captured.err
    assert doc["skipped"] == [
        {"photo": "broken.jpg", "reason": "not an image Pillow can read; remove it or convert it to JPEG/PNG"}
    ]
    keys = [f["format"] if f["format"] == "keras" else f"{f['format']}/{f['variant']}" for f in doc["formats"]]
    assert keys[0] == "keras" and {k.split("/")[0] for k in keys} == {"keras", "coreml", "coreai", "tflite", "onnx"}
    coreml = next(f for f in doc["formats"] if f["format"] == "coreml")
    assert coreml["target"].startswith("MIL execution")  # Linux: named as such
    run = read_run(run_dir)
    reference = keras_probs(
        load_reference(run),
        np.stack(
            [photos.load_photo(f, run.input.size) for f in sorted(folder.glob("*.jpg")) if f.name != "broken.jpg"]
        ),
    )
    assert [p["photo"] for p in doc["photos"]] == sorted(p.name for p in _sample_photos())
    for i, p in enumerate(doc["photos"]):
        assert len(p["top"]["keras"]) == 2
        best = np.argsort(-reference[i])[:2]
        assert [t["label"] for t in p["top"]["keras"]] == [run.labels[j] for j in best]
        assert p["top"]["keras"][0]["probability"] == pytest.approx(reference[i, best[0]], abs=1e-5)
        assert p["agree"] == (len({v[0]["label"] for v in p["top"].values()}) == 1)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--top", "0"], "--top 0: must be at least 1"),
        (["--format", "tensorrt"], "--format tensorrt: unknown format tensorrt"),
        (["--variant", "int8-nope"], "--variant int8-nope: coreml in"),
        (["--format", "onnx", "--report", "REPORT"], "--report: heatmaps need the Keras reference"),
    ],
)
def test_bad_predict_options_are_one_line_exit_2(pipeline, tmp_path, capsys, args, message):
    run_dir, bundle = pipeline
    argv = ["predict", str(bundle), str(_sample_photos(1)[0]), "--run", str(run_dir)] + [
        a.replace("REPORT", str(tmp_path / "r")) for a in args
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_run_folder_has_only_keras_and_empty_folder_is_refused(pipeline, tmp_path, capsys):
    run_dir, _ = pipeline
    assert main(["predict", str(run_dir), str(_sample_photos(1)[0]), "--format", "coreml"]) == 2
    assert (
        "is a run folder, which holds only the Keras reference; pass a bundle folder for coreml"
        in capsys.readouterr().err
    )
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(run_dir), str(tmp_path / "empty")]) == 2
    assert f"{tmp_path / 'empty'}: no photos in this folder" in capsys.readouterr().err


def test_gradcam_weights_are_the_closed_form_for_a_pooled_dense_head(pipeline):
    """With global average pooling then Dense, the gradient of log p_c by A^k is (W_c - sum_j p_j W_j) / (h w)
    at every location: the map is computed here from the backbone output, the kernel and the probabilities."""
    from carspotter.contracts.runfolder import read_run
    from carspotter.model.runtimes import load_reference

    run_dir, _ = pipeline
    run = read_run(run_dir)
    model = load_reference(run)
    pixels = np.stack([photos.load_photo(p, run.input.size) for p in _sample_photos(3)])
    classes = np.array([0, 1, 2])
    block, name = gradcam.last_conv_block(model)
    assert name == "inception_v3/mixed10"
    maps = gradcam.gradcam_maps(model, pixels, classes)
    feats = block(model.get_layer(index=1)(pixels.astype(np.float32)), training=False).numpy()  # rescale, backbone
    kernel = model.layers[-1].kernel.numpy()
    probs = model(pixels.astype(np.float32), training=False).numpy()
    h, w = feats.shape[1:3]
    weights = (kernel[:, classes].T - probs @ kernel.T) / (h * w)  # [N, K]
    cam = np.maximum(np.einsum("nhwk,nk->nhw", feats, weights), 0)
    np.testing.assert_allclose(maps, cam, rtol=1e-4, atol=1e-6)
    heat = gradcam.gradcam(model, pixels, classes)
    size = run.input.size
    assert heat.shape == (3, size, size) and heat.min() >= 0 and heat.max() <= 1
    # each map divided by its maximum, then resized bilinearly (half-pixel centres): the nearest output pixels sit
    # half an output pixel, 1 / (2 s) cells, from the peak cell's centre (s = size / h), so however sharp the peak
    # the resized maximum is at least (1 - 1 / (2 s))^2 of it, and the peak stays where the block's peak is
    floor = (1 - h / (2 * size)) * (1 - w / (2 * size))
    for i in range(3):
        if cam[i].max() > 0:
            py, px = np.unravel_index(heat[i].argmax(), heat[i].shape)
            assert heat[i].max() >= floor - 1e-6 and cam[i][py * h // size, px * w // size] >= 0.9 * cam[i].max()


def test_model_without_a_convolutional_block_has_no_heatmap():
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x), name="flat")
    with pytest.raises(UsageError, match="the model flat has no convolutional block"):
        gradcam.last_conv_block(model)


def test_report_is_self_contained_and_names_only_photos(pipeline, tmp_path, capsys):
    run_dir, bundle = pipeline
    folder = tmp_path / "my secret folder"
    folder.mkdir()
    for p in _sample_photos(2):
        (folder / p.name).write_bytes(p.read_bytes())
    Image.new("RGB", (1200, 300), (90, 90, 90)).save(folder / "wide.png")
    report = tmp_path / "report"
    assert main(["predict", str(bundle), str(folder), "--run", str(run_dir), "--report", str(report)]) == 0
    capsys.readouterr()
    html = (report / "predict.html").read_text()
    doc = json.loads((report / "predict.json").read_text())
    assert str(tmp_path) not in html and "my secret folder" not in html and str(SAMPLE) not in html
    assert doc["heatmap_layer"] == "inception_v3/mixed10" and len(doc["photos"]) == 3
    wide = next(p for p in doc["photos"] if p["photo"] == "wide.png")
    assert any(w.startswith("stretched: the 1200x300 photo (4.00:1)") for w in wide["warnings"])
    assert (
        html.count("<section") == 3
        and html.count("data:image/png;base64,") >= 3
        and "http" not in html.replace("http-equiv", "")
    )

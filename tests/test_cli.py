"""User errors reach the console as one line naming the path or value and the fix, exit code 2."""

from __future__ import annotations

import pytest

from carspotter.cli import main
from images import write_photos


def run_cli(capsys, *argv):
    code = main(list(argv))
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


@pytest.fixture
def data(tmp_path):
    for i, name in enumerate(["a", "b"]):
        write_photos(tmp_path / "data" / name, 6, seed=i, size=(96, 96))
    return tmp_path / "data"


def test_missing_data_dir(capsys, tmp_path):
    code, line = run_cli(capsys, "train", str(tmp_path / "nope"), "--out", str(tmp_path / "run"))
    assert code == 2
    assert line.startswith("carspotter train: error:") and "nope: no such file or folder" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--max-classes", "0"], "--max-classes 0: must be at least 2"),
        (["--image-size", "50"], "--image-size 50: InceptionV3 needs at least 75 px"),
        (["--weights", "/no/such/weights.h5", "--input-range", "0,1"], "--weights /no/such/weights.h5: no such file"),
        (["--batch-size", "0"], "--batch-size 0: must be at least 1"),
        (["--augment", "flip,zoom=2"], "--augment 'flip,zoom=2': unknown part 'zoom=2'"),
        (["--label-smoothing", "1"], "--label-smoothing 1.0: must be at least 0 and below 1"),
        (["--patience", "-1"], "--patience -1: must be 0 or more"),
        (["--mapping", "/no/such/map.json"], "/no/such/map.json: mapping file not found"),
        (["--crop-to-box"], "--crop-to-box needs bounding boxes"),
        (["--strategy", "mirrored"], "--strategy mirrored needs two or more GPUs on this host; found 0"),
    ],
)
def test_bad_arguments(capsys, data, tmp_path, args, needle):
    code, line = run_cli(capsys, "train", str(data), "--out", str(tmp_path / "run"), *args)
    assert code == 2 and needle in line


def test_weights_file_needs_input_range(capsys, data, tmp_path):
    fake = tmp_path / "w.weights.h5"
    fake.write_text("not weights")
    code, line = run_cli(capsys, "train", str(data), "--out", str(tmp_path / "run"), "--weights", str(fake))
    assert code == 2 and "also pass --input-range" in line


def test_weights_file_that_is_not_weights(capsys, data, tmp_path):
    fake = tmp_path / "w.weights.h5"
    fake.write_text("not weights")
    code, line = run_cli(
        capsys,
        "train",
        str(data),
        "--out",
        str(tmp_path / "run"),
        "--weights",
        str(fake),
        "--input-range",
        "0,1",
        "--image-size",
        "75",
    )
    assert code == 2 and f"{fake}: not Keras weights for InceptionV3" in line


def test_imagenet_download_failure_says_what_to_do(capsys, data, tmp_path, monkeypatch):
    import keras.src.applications.inception_v3 as iv3

    def offline(*a, **k):
        raise Exception(
            "URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3] Temporary failure in name resolution"
        )

    monkeypatch.setattr(iv3.file_utils, "get_file", offline)
    code, line = run_cli(capsys, "train", str(data), "--out", str(tmp_path / "run"), "--image-size", "75")
    assert code == 2
    assert "could not download Keras' ImageNet weights" in line and "--weights none" in line


def test_unreadable_photos_below_minimum_fail_clearly(capsys, data, tmp_path):
    for p in sorted((data / "b").iterdir())[:3]:
        p.write_bytes(b"")
    code, line = run_cli(capsys, "train", str(data), "--out", str(tmp_path / "run"), "--image-size", "75")
    assert code == 2 and "classes below the minimum of 5: 'b' (3)" in line


def test_export_of_missing_or_incomplete_run(capsys, tmp_path):
    code, line = run_cli(capsys, "export", str(tmp_path / "nope"), "--out", str(tmp_path / "b"))
    assert code == 2 and "no such run folder" in line
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "run.json").write_text("{}")
    code, line = run_cli(capsys, "export", str(tmp_path / "half"), "--out", str(tmp_path / "b"))
    assert code == 2 and "not a complete run folder (missing model.keras" in line
    assert not (tmp_path / "b").exists()


def test_parity_and_verify_of_missing_bundle(capsys, tmp_path):
    for cmd in ("parity", "verify"):
        code, line = run_cli(capsys, cmd, str(tmp_path / "nope"))
        assert code == 2 and "no such bundle folder" in line


def test_debug_shows_the_traceback(tmp_path):
    from carspotter.util.errors import DatasetError

    with pytest.raises(DatasetError):
        main(["--debug", "train", str(tmp_path / "nope"), "--out", str(tmp_path / "run")])


@pytest.mark.parametrize(
    "command", [[], ["train"], ["export"], ["parity"], ["predict"], ["evaluate"], ["benchmark"], ["report"], ["verify"]]
)
def test_every_help_page_renders(command, capsys):
    """argparse expands %-formats in help texts: a bare '%' (as in '% of fp32 peak') broke `carspotter --help`."""
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    assert "usage: carspotter" in capsys.readouterr().out

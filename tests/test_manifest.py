"""manifest.json: schema validation, sha256 verification, and fuzzed reading."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carspotter.util.errors import BundleError
from carspotter.contracts.manifest import Manifest, file_table, read_manifest, verify_bundle, write_manifest

LABELS = ["Audi TTS Coupe 2012", "BMW M3 Coupe 2012"]


def _onnx_entry() -> dict:
    """The manifest's entry of the bundle's one format: ONNX, its fp32 variant shipped."""
    return {
        "platform": "onnx",
        "path": "onnx/carspotter.onnx",
        "labels": "onnx/labels.txt",
        "readme": "onnx/README.md",
        "precision": "fp32",
        "bytes": 11,
        "export_s": 1.0,
        "default_variant": "fp32",
        "variants": {
            "fp32": {
                "family": "fp32",
                "precision": "fp32",
                "bytes": 11,
                "gate": "top-3 parity passes",
                "gate_passed": True,
                "gate_enforced": False,
                "shipped": True,
                "path": "onnx/carspotter.onnx",
                "figures": {
                    "photos": 4,
                    "top1": 0.5,
                    "top3": 1.0,
                    "top1_agreement": 1.0,
                    "parity": {"passed": True},
                    "max_abs_diff": 0.0,
                },
            }
        },
    }


def make_bundle(root):
    (root / "onnx").mkdir(parents=True)
    (root / "onnx" / "carspotter.onnx").write_bytes(b"model bytes")
    labels = "".join(x + "\n" for x in LABELS).encode()
    (root / "onnx" / "labels.txt").write_bytes(labels)
    (root / "onnx" / "README.md").write_text("readme")
    manifest = {
        "schema_version": 2,
        "name": "t",
        "carspotter_version": "0",
        "created": "now",
        "labels": LABELS,
        "labels_sha256": hashlib.sha256(labels).hexdigest(),
        "input": {
            "name": "image",
            "shape": [None, 299, 299, 3],
            "dtype": "float32",
            "layout": "NHWC",
            "color": "RGB",
            "pixel_range": [0, 255],
            "model_input_range": "0,1",
        },
        "preprocessing": {"resize": {"method": "bilinear", "aspect": "stretch"}, "exif_orientation": "applied"},
        "source_run": {"name": "x", "model_sha256": "0" * 64, "test_split": "split_test.csv"},
        "training": {"metrics": {}, "weights": {}},
        "variants": {
            "requested": None,
            "gates": {},
            "gates_enforced": False,
            "calibration_photos": 0,
            "evaluation_photos": 4,
        },
        "formats": {"onnx": _onnx_entry()},
        "files": file_table(root),
        "golden": None,
        "parity": None,
    }
    write_manifest(root, Manifest.from_json(manifest))
    return manifest


def test_fresh_bundle_verifies(tmp_path):
    make_bundle(tmp_path)
    assert verify_bundle(tmp_path).labels == LABELS
    assert set(file_table(tmp_path)) == {"onnx/carspotter.onnx", "onnx/labels.txt", "onnx/README.md"}


def test_changed_file_is_named(tmp_path):
    make_bundle(tmp_path)
    (tmp_path / "onnx" / "carspotter.onnx").write_bytes(b"model bytez")
    with pytest.raises(BundleError, match=r"onnx/carspotter\.onnx: changed after export"):
        verify_bundle(tmp_path)


def test_missing_and_extra_files_are_named(tmp_path):
    make_bundle(tmp_path)
    (tmp_path / "onnx" / "extra.bin").write_bytes(b"x")
    with pytest.raises(BundleError, match=r"onnx/extra\.bin: not listed"):
        verify_bundle(tmp_path)
    (tmp_path / "onnx" / "extra.bin").unlink()
    (tmp_path / "onnx" / "README.md").unlink()
    with pytest.raises(BundleError, match=r"onnx/README\.md: listed in manifest.json but missing"):
        verify_bundle(tmp_path)


def test_schema_violation_names_the_field(tmp_path):
    m = make_bundle(tmp_path)
    m["labels_sha256"] = "not a hash"
    (tmp_path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="labels_sha256"):
        read_manifest(tmp_path)


def test_missing_folder_and_manifest(tmp_path):
    with pytest.raises(BundleError, match="no such bundle folder"):
        read_manifest(tmp_path / "nope")
    with pytest.raises(BundleError, match="manifest.json: missing"):
        read_manifest(tmp_path)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=80, deadline=None)
@given(doc=json_values)
def test_any_json_document_is_a_bundle_error_not_a_crash(tmp_path_factory, doc):
    root = tmp_path_factory.mktemp("m")
    (root / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(BundleError):
        read_manifest(root)


@settings(max_examples=60, deadline=None)
@given(raw=st.binary(max_size=300))
def test_any_bytes_are_a_bundle_error_not_a_crash(tmp_path_factory, raw):
    root = tmp_path_factory.mktemp("r")
    (root / "manifest.json").write_bytes(raw)
    with pytest.raises(BundleError):
        read_manifest(root)


@settings(max_examples=40, deadline=None)
@given(
    key=st.sampled_from(["labels", "files", "formats", "input", "golden", "parity", "schema_version"]),
    value=json_values,
)
def test_mutated_valid_manifest_reads_or_fails_cleanly(tmp_path_factory, key, value):
    root = tmp_path_factory.mktemp("v")
    m = make_bundle(root)
    m[key] = value
    (root / "manifest.json").write_text(json.dumps(m))
    try:
        assert read_manifest(root).to_json()[key] == value
    except BundleError as exc:
        assert "manifest" in str(exc)

"""Signed bundles: ``carspotter sign`` / ``carspotter verify`` (OpenSSF model-signing) on a real exported bundle."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from carspotter.cli import main


def _keys(folder: Path, name: str = "k") -> tuple[Path, Path]:
    """A fresh P-256 key pair as PEM files: ``(private, public)``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / f"{name}.pem", folder / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


@pytest.fixture
def signed(pipeline, tmp_path, capsys):
    """A copy of the pipeline's bundle, signed with a fresh key: ``(bundle, public key)``."""
    _, bundle = pipeline
    copy = tmp_path / "signed"
    shutil.copytree(bundle, copy)
    (copy / "parity.html").write_text("a report already there when it is signed")  # reports are never signed
    private, public = _keys(tmp_path)
    assert main(["sign", str(copy), "--key", str(private)]) == 0
    assert "signed" in capsys.readouterr().out
    return copy, public


def _verify(bundle: Path, public: Path, capsys) -> tuple[int, str]:
    code = main(["verify", str(bundle), "--public-key", str(public)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_signed_bundle_verifies_and_reports_after_signing_do_not_break_it(signed, capsys):
    from carspotter.contracts.signature import SIGNATURE
    from carspotter.parity.run import run_parity

    bundle, public = signed
    code, out = _verify(bundle, public, capsys)
    assert code == 0 and "signature OK" in out, out
    manifest_before = (bundle / "manifest.json").read_bytes()
    assert run_parity(bundle, app_paths=False, references=()) == 0  # parity.json / parity.html written into it
    assert (bundle / "parity.json").is_file() and (bundle / SIGNATURE).is_file()
    assert (bundle / "manifest.json").read_bytes() == manifest_before  # left as signed
    code, out = _verify(bundle, public, capsys)
    assert code == 0 and "signature OK" in out, out


@pytest.mark.parametrize("target", ["manifest.json", "model", "labels.txt"])
def test_one_changed_byte_fails_verify_naming_the_file(signed, capsys, target):
    import json

    bundle, public = signed
    manifest = json.loads((bundle / "manifest.json").read_text())
    rel = {
        "manifest.json": "manifest.json",
        "labels.txt": manifest["formats"]["onnx"]["labels"],
        "model": manifest["formats"]["onnx"]["path"],
    }[target]
    path = bundle / rel
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    code, out = _verify(bundle, public, capsys)
    assert code == 2 and str(path) in out, out
    assert len([ln for ln in out.splitlines() if "error" in ln]) == 1, out


def test_manifest_edit_the_sha256_table_cannot_see_is_caught_by_the_signature(signed, capsys):
    bundle, public = signed
    path = bundle / "manifest.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"name": ', '"name":  ', 1), encoding="utf-8")
    assert main(["verify", str(bundle)]) == 0  # the manifest's own table does not cover manifest.json
    assert "signature not checked" in capsys.readouterr().out
    code, out = _verify(bundle, public, capsys)
    assert code == 2 and f"{path}: changed after signing" in out, out


def test_another_key_an_added_file_and_an_unsigned_bundle_are_refused(signed, pipeline, tmp_path, capsys):
    bundle, public = signed
    _, other = _keys(tmp_path, "other")
    code, out = _verify(bundle, other, capsys)
    assert code == 2 and "carspotter.sig: does not verify" in out, out
    _, unsigned = pipeline
    code, out = _verify(unsigned, public, capsys)
    assert code == 2 and "not signed" in out, out
    code = main(["sign", str(bundle), "--key", str(tmp_path / "missing.pem")])
    assert code == 2 and "missing.pem: no such private key file" in capsys.readouterr().err

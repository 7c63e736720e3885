"""The Swift package's model delivered apart from the app, as export writes it (no Swift compiler here: the macOS
workflow builds it and runs ``DeliveredModelTests``): the Background Assets manifest templates are valid JSON with
Apple's keys, Package.swift and the READMEs name the verified load, and ``ModelDigest.swift`` computes the digest
Python writes (checked by running its steps in Python on a real folder)."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from conftest import REPO

IOS = REPO / "export" / "packages" / "ios"


def _info(name="cars10", coreai=False):
    from carspotter.export.platform_package import PackageInfo

    return PackageInfo(
        name=name,
        version="0.0.0",
        labels=("a", "b", "c"),
        size=128,
        threshold=None,
        not_a_car=None,
        model="CarSpotterModel.mlpackage",
        others=(),
        model_sha256="0" * 64,
        golden=False,
        deployment_target="iOS16",
        joined_model="CarSpotterModel.aimodel" if coreai else None,
        joined_sha256="1" * 64 if coreai else None,
    )


@pytest.mark.parametrize("coreai", [False, True])
def test_background_assets_manifests_have_apples_keys(tmp_path, coreai):
    from carspotter.export.formats.coreml.package import swift_package

    ios = tmp_path / "ios"
    model = ios / "Sources" / "CarSpotter" / "CarSpotterModel.mlpackage" / "Data"
    model.mkdir(parents=True)
    (model / "weight.bin").write_bytes(b"\0" * (3 * 2**20))  # 3 MiB
    swift_package(ios, _info(coreai=coreai))
    delivery = ios / "Delivery" / "BackgroundAssets"
    names = sorted(p.name for p in delivery.glob("*.json"))
    assert names == (["CoreAI.json", "CoreML.json"] if coreai else ["CoreML.json"])
    for name in names:
        doc = json.loads((delivery / name).read_text())
        assert set(doc) == {"assetPackID", "downloadPolicy", "fileSelectors", "platforms"}
        assert doc["downloadPolicy"] == {"onDemand": {}} and doc["platforms"] == ["iOS", "macOS"]
        assert re.fullmatch(r"[a-z0-9.-]+", doc["assetPackID"])
        (selector,) = doc["fileSelectors"]
        assert list(selector) == ["directory"] and selector["directory"].endswith((".mlpackage", ".aimodel"))
    assert json.loads((delivery / "CoreML.json").read_text())["assetPackID"] == "carspotter-cars10-model"
    readme = (delivery / "README.md").read_text()
    assert (
        "carspotter-cars10-model`, 3.0 MiB" in readme
        and 'CarClassifier.load(assetPackID: "carspotter-cars10-model")' in readme
    )
    assert '"prefetch": {"installationEventTypes": ["firstInstallation"]}' in readme and "modelDigestMismatch" in readme
    package = (ios / "Package.swift").read_text()
    assert "CarClassifier.load(modelURL:) checks its SHA-256 against carspotter.json" in package


def test_the_pack_is_archived_by_apples_tool_from_where_its_selectors_resolve(tmp_path):
    """Apple's "Creating managed asset packs": selectors are relative to where `xcrun ba-package MANIFEST -o X.aar`
    runs. The README and the macOS workflow run it from Sources/CarSpotter, where every selector names a model."""
    from carspotter.export.formats.coreml.package import swift_package

    ios = tmp_path / "ios"
    sources = ios / "Sources" / "CarSpotter"
    (sources / "CarSpotterModel.mlpackage").mkdir(parents=True)
    swift_package(ios, _info(coreai=False))
    doc = json.loads((ios / "Delivery" / "BackgroundAssets" / "CoreML.json").read_text())
    assert all((sources / s["directory"]).is_dir() for s in doc["fileSelectors"])
    readme = (ios / "Delivery" / "BackgroundAssets" / "README.md").read_text()
    assert (
        "cd Sources/CarSpotter && xcrun ba-package ../../Delivery/BackgroundAssets/CoreML.json -o CoreML.aar" in readme
    )
    workflow = (REPO / ".github" / "workflows" / "macos-coreml-parity.yml").read_text()
    at = workflow.index("xcrun --find ba-package")
    step = workflow[at : at + 1200]
    assert "working-directory: bundles/sample/ios/Sources/CarSpotter" in workflow[at - 400 : at]
    assert 'xcrun ba-package "$f" -o "$out"' in step and 'test -s "$out"' in step


def test_policies_other_than_apples_are_refused():
    from carspotter.export.formats.coreml.delivery import manifest

    assert manifest("cars10", "m.mlpackage", "prefetch")["downloadPolicy"] == {
        "prefetch": {"installationEventTypes": ["firstInstallation"]}
    }
    assert manifest("cars10", "m.onnx", "essential", folder=False)["fileSelectors"] == [{"file": "m.onnx"}]
    with pytest.raises(ValueError, match="is not one of essential, prefetch, onDemand"):
        manifest("cars10", "m.mlpackage", "always")


def test_readme_shows_the_three_ways_and_the_verified_load():
    from carspotter.export.formats.coreml.readme import ios_readme
    from carspotter.model.spec import InputSpec

    readme = ios_readme("CarSpotterModel.mlpackage", InputSpec(size=128, model_input_range="0,1"), 3, bundle="cars10")
    section = readme[readme.index("## Shipping the model") : readme.index("## Core AI")]
    for way in ("**In the app**", "**A Background Assets managed asset pack**", "**Your own download**"):
        assert way in section, way
    assert "CarClassifier.load(modelURL: url)" in section and "URLSession" in section
    assert section.count("The model's MiB leave the app binary") == 2
    assert "modelDigestMismatch(expected:found:url:)" in section and "Delivery/BackgroundAssets/CoreML.json" in section
    assert "`[1, 128, 128, 3]`" in readme  # the Core AI section still formatted


def test_swift_sources_load_verified_and_name_the_documented_apis():
    api = (IOS / "Sources" / "CarSpotter" / "CarClassifier.swift").read_text()
    load = api[api.index("public static func load(modelURL: URL") :]
    load = load[: load.index("\n    }\n")]
    assert load.index("ModelDigest.verify(modelURL, expected: info.modelSha256)") < load.index("CoreMLBackend.load(")
    assert load.index("ModelDigest.verify(modelURL, expected: expected)") < load.index("CoreAISupport.load(")
    errors = (IOS / "Sources" / "CarSpotter" / "Classification.swift").read_text()
    assert "case modelDigestMismatch(expected: String, found: String, url: URL)" in errors
    digest = (IOS / "Sources" / "CarSpotter" / "ModelDigest.swift").read_text()
    assert "import CryptoKit" in digest and "var hasher = SHA256()" in digest and "read(upToCount: chunk)" in digest
    assert "$0.utf8.lexicographicallyPrecedes($1.utf8)" in digest and '"\\(try fileSha256' in digest
    pack = (IOS / "Sources" / "CarSpotter" / "AssetPackDelivery.swift").read_text()
    assert "#if canImport(BackgroundAssets)" in pack and "@available(iOS 26.0, macOS 26.0" in pack
    for call in (
        "AssetPackManager.shared",
        "manager.assetPack(withID: assetPackID)",
        "manager.ensureLocalAvailability(of: pack)",
        "manager.url(for: FilePath(name))",
        "load(modelURL: url, backend: backend",
    ):
        assert call in pack, call
    tests = (IOS / "Tests" / "CarSpotterTests" / "DeliveredModelTests.swift").read_text()
    assert (
        "testACopyWithOneByteChangedIsRefused" in tests and "testAnIntactCopyLoadsAndAnswersAsThePackagedModel" in tests
    )


def test_the_swift_listing_rule_gives_pythons_digest(tmp_path):
    """ModelDigest.swift's steps (regular files, relative paths, sorted by UTF-8 bytes, ``<hex>  <path>\\n``) in
    Python, on a folder whose names sort differently by bytes than by code points or case."""
    from carspotter.contracts.bundle_facts import model_digest

    root = tmp_path / "m.mlpackage"
    for rel, data in {
        "Manifest.json": b"{}",
        "Data/com.apple.CoreML/weights/weight.bin": b"w" * 5000,
        "Data/com.apple.CoreML/model.mlmodel": b"m",
        "a.txt": b"a",
        "\u00e9t\u00e9.bin": b"e",
        "Z/\U0001f697.bin": b"car",
        ".hidden": b"h",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    files = sorted((p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()), key=lambda r: r.encode())
    listing = "".join(f"{hashlib.sha256((root / r).read_bytes()).hexdigest()}  {r}\n" for r in files)
    assert hashlib.sha256(listing.encode()).hexdigest() == model_digest(root)
    assert files[0] == ".hidden" and files.index("Manifest.json") < files.index("a.txt")  # bytes, not case-folded

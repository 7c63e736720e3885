"""The Android library's model delivered apart from the app: the digest check (``core/ModelDigest.kt``) compiled with
Debian's Kotlin 1.3 and run on the JVM against the bundle's own .tflite (accepted intact, refused with one byte
changed, the digest Python's ``model_digest``), the Play for On-device AI pack template (``android/aipack/``), the README's
three ways to ship the model, and the Android workflow that builds the pack in an app.

Uses the quick tiny bundle of ``conftest.pipeline`` (named ``small``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import JUNIT_JARS, REPO, kotlin_root


def _run(jar_package, assets: Path, python_sha: str | None) -> subprocess.CompletedProcess:
    jar, package = jar_package
    props = [f"-Dcarspotter.assets={assets}"] + ([f"-Dcarspotter.pythonSha256={python_sha}"] if python_sha else [])
    return subprocess.run(
        [
            "java",
            *props,
            "-cp",
            os.pathsep.join([str(jar), *JUNIT_JARS]),
            "org.junit.runner.JUnitCore",
            f"{package}.ModelDigestTest",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_kotlin_digest_is_pythons_accepts_the_intact_model_and_refuses_one_byte_changed(pipeline, kotlin_tests):
    from carspotter.contracts.bundle_facts import model_digest

    assets = pipeline[1] / "android" / "src" / "main" / "assets"
    facts = json.loads((assets / "carspotter_small" / "carspotter.json").read_text())
    python = model_digest(assets / "carspotter_small" / facts["model"])
    assert facts["modelSha256"] == python
    done = _run(kotlin_tests, assets, python)
    assert done.returncode == 0 and "OK (4 tests)" in done.stdout, done.stdout[-3000:]
    # the comparison with Python's digest bites
    wrong = _run(kotlin_tests, assets, "0" * 64)
    assert wrong.returncode == 1 and "Python's model_digest" in wrong.stdout, wrong.stdout[-3000:]


def test_kotlin_refuses_a_bundle_model_changed_by_one_byte(pipeline, kotlin_tests, tmp_path):
    """The library's own asset folder with its model changed by one byte: the intact-model case fails with the one-line
    ModelDigestMismatchException naming both digests and the file."""
    source = pipeline[1] / "android" / "src" / "main" / "assets"
    shutil.copytree(source, tmp_path / "assets")
    model = tmp_path / "assets" / "carspotter_small" / "carspotter.tflite"
    data = bytearray(model.read_bytes())
    data[len(data) // 3] ^= 0x80
    model.write_bytes(bytes(data))
    expected = json.loads((source / "carspotter_small" / "carspotter.json").read_text())["modelSha256"]
    done = _run(kotlin_tests, tmp_path / "assets", None)
    assert done.returncode == 1 and "ModelDigestMismatchException" in done.stdout, done.stdout[-3000:]
    line = next(x for x in done.stdout.splitlines() if "ModelDigestMismatchException" in x)
    assert f"not carspotter.json's modelSha256 {expected}" in line and str(model) in line


def test_ai_pack_template_names_the_plugin_a_pack_and_a_delivery_type(pipeline):
    from carspotter.export.formats.tflite.delivery import DELIVERY_TYPES, ai_pack_gradle, ai_pack_name

    android = pipeline[1] / "android"
    module = (
        android / "aipack" / "carspotter_small_model"
    )  # named after the pack: AGP finds a pack's files by that name
    gradle = (module / "build.gradle.kts").read_text()
    assert re.search(r'plugins \{\s*id\("com\.android\.ai-pack"\)\s*\}', gradle)
    pack = re.search(r'aiPack \{\s*packName = "([^"]+)"', gradle).group(1)
    assert pack == ai_pack_name("small") == "carspotter_small_model" == module.name and re.fullmatch(
        r"[A-Za-z][A-Za-z0-9_]*", pack
    )
    delivery = re.search(r'dynamicDelivery \{\s*deliveryType = "([^"]+)"\s*\}', gradle).group(1)
    assert delivery in DELIVERY_TYPES and delivery == "on-demand"
    # the model is copied from the library's assets at build time, not stored twice in the bundle
    source = re.search(r'from\(layout\.projectDirectory\.file\("([^"]+)"\)\)', gradle).group(1)
    assert (module / source).resolve() == (android / "src/main/assets/carspotter_small/carspotter.tflite").resolve()
    assert f'dir("src/main/assets/{pack}")' in gradle and not list((android / "aipack").rglob("*.tflite"))
    assert "MiB" in (android / "aipack" / "README.md").read_text()
    for kind in DELIVERY_TYPES:
        assert f'deliveryType = "{kind}"' in ai_pack_gradle("small", "carspotter.tflite", kind)
    with pytest.raises(ValueError, match="not one of install-time, fast-follow, on-demand"):
        ai_pack_gradle("small", "carspotter.tflite", "onDemand")
    # the library finds the same pack: CarSpotter.AI_PACK is the asset folder's name + "_model"
    library = (kotlin_root(android) / "CarSpotter.kt").read_text()
    assert "val AI_PACK: String = ASSETS.trimEnd('/') + \"_model\"" in library


def test_android_library_loads_a_delivered_model_verified(pipeline):
    android = pipeline[1] / "android"
    root = kotlin_root(android)
    library = (root / "CarSpotter.kt").read_text()
    assert "suspend fun create(context: Context, modelFile: File, engine: Engine" in library
    assert "suspend fun createFromAiPack(context: Context, pack: String = AI_PACK" in library
    assert "ModelDigest.verify(model, info.modelSha256, file)" in library and "setModelAssetBuffer(model)" in library
    delivered = (root / "DeliveredModel.kt").read_text()
    assert "getPackLocation(pack)" in delivered and "assetsPath()" in delivered and "STORAGE_FILES" in delivered
    gradle = (android / "build.gradle.kts").read_text()
    assert 'compileOnly("com.google.android.play:ai-delivery:' in gradle and '"carspotter.modelInAssets"' in gradle
    assert "-dontwarn com.google.android.play.core.aipacks.**" in (android / "consumer-rules.pro").read_text()
    instrumented = next((android / "src" / "androidTest").rglob("DeliveredModelTest.kt")).read_text()
    assert "ModelDigestMismatchException" in instrumented and "CarSpotter.create(" in instrumented


def test_android_readme_shows_three_ways_to_ship_the_model(pipeline):
    readme = (pipeline[1] / "android" / "README.md").read_text()
    for text in (
        "## Shipping the model",
        "CarSpotter.create(context)",
        "CarSpotter.create(context, file)",
        "CarSpotter.createFromAiPack(context)",
        "install-time",
        "fast-follow",
        "on-demand",
        'assetPacks += ":carspotter_<name>_model"',
        "carspotter.modelInAssets=false",
        "ModelDigestMismatchException",
        "leave the\n   base APK / AAB module",
        "copies it from the library's assets",
    ):
        assert text in readme, text


def test_android_workflow_builds_the_ai_pack_and_refuses_a_corrupted_copy():
    workflow = (REPO / ".github" / "workflows" / "android-package.yml").read_text()
    for step in (
        ":app:bundleRelease",
        "carspotter_sample_model/assets/carspotter_sample_model/carspotter.tflite",
        "ModelDigestTest",
        "DELIVERED REFUSED",
    ):
        assert step in workflow, step
    host = REPO / ".github" / "android-app-host"
    settings = (host / "settings.gradle.kts").read_text()
    assert 'include(":carspotter_sample_model")' in settings and "android/aipack/carspotter_sample_model" in settings
    app = (host / "app" / "build.gradle.kts").read_text()
    assert 'assetPacks += ":carspotter_sample_model"' in app and "com.google.android.play:ai-delivery:" in app
    activity = (
        host / "app" / "src" / "main" / "kotlin" / "dev" / "carspotter" / "host" / "MainActivity.kt"
    ).read_text()
    assert "ModelDigestMismatchException" in activity and "DELIVERED REFUSED" in activity


@pytest.mark.parametrize("delivery", ["install-time", "fast-follow", "on-demand"])
def test_the_export_option_chooses_the_ai_packs_delivery_type(tmp_path, delivery):
    """``carspotter export --ai-pack-delivery`` reaches the AI pack's build file (PackageInfo.options)."""
    from carspotter.export.formats.tflite.package import android_library
    from carspotter.export.platform_package import PackageInfo
    from carspotter.model.formats import FORMATS

    assert {o.flag: o.default for o in FORMATS["tflite"].conversion.options}["--ai-pack-delivery"] == "on-demand"
    info = PackageInfo(
        name="cars10",
        version="0.0.0",
        labels=("a", "b"),
        size=128,
        threshold=None,
        not_a_car=None,
        model="carspotter.tflite",
        others=(),
        model_sha256="0" * 64,
        golden=False,
        options={"ai_pack_delivery": delivery},
    )
    android_library(tmp_path / "android", info)
    [gradle] = (tmp_path / "android" / "aipack").glob("*/build.gradle.kts")
    assert f'deliveryType = "{delivery}"' in gradle.read_text()

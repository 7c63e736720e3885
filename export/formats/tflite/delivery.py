"""Shipping the Android library's model apart from the app: a Play for On-device AI pack module
(``android/aipack/carspotter_<name>_model/``) and the README text on the three ways to ship the model.

The module is what Google's guide ("Play for On-device AI", https://developer.android.com/google/play/on-device-ai)
describes: a Gradle project applying ``com.android.ai-pack`` (AGP 8.8+) with ``aiPack { packName = "..."; dynamicDelivery
{ deliveryType = "install-time" | "fast-follow" | "on-demand" } }``, its files under ``src/main/assets/``; the app lists
it in ``android { assetPacks += ":<pack>" }`` and ``settings.gradle.kts`` includes it. The model is **not** copied into
the pack at export (that would ship the bundle's largest file twice): the pack's build file copies it from the
library's asset folder (``src/main/assets/carspotter_<name>/``) at build time, before any of the pack's tasks.

**The module's folder is named after the pack** (``aipack/<pack>/``), and the app must include it under that name
(``:<pack>``): AGP's asset-pack tasks find a pack's manifest and assets by looking for the pack's Gradle project name
in their paths (``ProcessAssetPackManifestTask``: the manifest path contains the project path;
``AssetPackPreBundleTask``: the assets folder path contains ``<name>/src/main/assets``), as Google's guide has it ("this
directory name is used as the AI pack name"). A module in a folder named otherwise would fail or ship an empty pack.
Whichever way the model arrives, ``CarSpotter.create(context, file)`` / ``createFromAiPack`` check its SHA-256 against
``carspotter.json`` before loading it (``core/ModelDigest.kt``).
"""

from __future__ import annotations

import json
from pathlib import Path

from carspotter.export.package_names import android_assets

AI_PACK_DIR = "aipack"
"""The folder in ``android/`` holding the AI pack module (``aipack/<pack>/``, named after the pack) and its README."""

DELIVERY_TYPES = ("install-time", "fast-follow", "on-demand")
"""Play's delivery types for an AI pack: ``install-time`` (installed with the app, as an APK split: the model is in the
app's assets), ``fast-follow`` (downloaded right after install, into the app's internal storage), ``on-demand`` (when
the app asks: AiPackManager.fetch)."""

DEFAULT_DELIVERY = "on-demand"
"""The template's delivery type: the model downloads only when the app asks for it."""

AI_DELIVERY = "com.google.android.play:ai-delivery:0.1.1-alpha01"
"""The Play AI Delivery library (the version Google's guide names), which an app that loads from an AI pack adds."""


def ai_pack_name(bundle: str) -> str:
    """``carspotter_<name>_model`` (an AI pack name: a letter first, then letters, digits and underscores): the
    library's asset folder name + ``_model``, as ``CarSpotter.AI_PACK`` derives it in Kotlin."""
    return android_assets(bundle) + "_model"


def ai_pack_gradle(bundle: str, model: str, delivery: str = DEFAULT_DELIVERY) -> str:
    """``aipack/<pack>/build.gradle.kts``: the ``com.android.ai-pack`` module and the task copying ``model`` from the
    library's asset folder into ``src/main/assets/<pack>/`` before any of its own tasks run.

    Raises:
        ValueError: a delivery type that is not one of :data:`DELIVERY_TYPES`.
    """
    if delivery not in DELIVERY_TYPES:
        raise ValueError(f"AI pack delivery type {delivery!r} is not one of {', '.join(DELIVERY_TYPES)}")
    pack, assets = ai_pack_name(bundle), android_assets(bundle)
    return f"""// Play for On-device AI pack holding the bundle's model (AGP 8.8+). In the app's settings.gradle.kts:
//   include(":{pack}"); project(":{pack}").projectDir = file("path/to/bundle/android/{AI_PACK_DIR}/{pack}")
// (the project's name must be this folder's, {pack}: AGP finds an asset pack's files by that name in their paths)
// and in the app's build.gradle.kts: android {{ assetPacks += ":{pack}" }}. Delivery: "install-time" (installed with
// the app), "fast-follow" (downloaded right after install) or "on-demand" (when the app asks: the default here).
// The model is not stored here twice: copyCarspotterModel copies it from the library's assets at build time.
plugins {{
    id("com.android.ai-pack")
}}

aiPack {{
    packName = "{pack}"
    dynamicDelivery {{
        deliveryType = "{delivery}"
    }}
}}

// ../../src/main/assets/{assets}/{model} -> src/main/assets/{pack}/{model}: CarSpotter.createFromAiPack reads
// <pack>/{model} from the pack's assets and checks its SHA-256 against carspotter.json before loading it.
val copyCarspotterModel = tasks.register<Copy>("copyCarspotterModel") {{
    from(layout.projectDirectory.file({json.dumps(f"../../src/main/assets/{assets}/{model}")}))
    into(layout.projectDirectory.dir({json.dumps(f"src/main/assets/{pack}")}))
}}
// The app reads the pack's src/main/assets (its packElements artifact) after the pack's manifest task: both wait for the copy.
tasks.configureEach {{
    if (name != copyCarspotterModel.name && !name.startsWith("clean")) dependsOn(copyCarspotterModel)
}}
configurations.matching {{ it.name == "packElements" }}.configureEach {{
    outgoing.artifacts.configureEach {{ (this as? ConfigurablePublishArtifact)?.builtBy(copyCarspotterModel) }}
}}
"""


def _mib(path: Path) -> float:
    """A file's size in MiB (0 when it is not there)."""
    return path.stat().st_size / 2**20 if path.is_file() else 0.0


def write_ai_pack(android: Path, bundle: str, model: str, delivery: str = DEFAULT_DELIVERY) -> Path:
    """Write ``android/aipack/``: the module ``<pack>/build.gradle.kts`` (:func:`ai_pack_gradle`) and a README giving
    the model's MiB.

    Returns:
        The AI pack module's folder (``android/aipack/<pack>``).
    """
    out = android / AI_PACK_DIR
    module = out / ai_pack_name(bundle)
    module.mkdir(parents=True, exist_ok=True)
    (module / "build.gradle.kts").write_text(ai_pack_gradle(bundle, model, delivery), encoding="utf-8")
    size = _mib(android / "src" / "main" / "assets" / android_assets(bundle) / model)
    (out / "README.md").write_text(
        PACK_README.format(
            pack=ai_pack_name(bundle),
            model=model,
            mib=size,
            delivery=delivery,
            assets=android_assets(bundle),
            library=AI_DELIVERY,
        ),
        encoding="utf-8",
    )
    return module


PACK_README = """# Play for On-device AI pack: the model apart from the base APK

`{pack}/build.gradle.kts` declares AI pack `{pack}` (`com.android.ai-pack`, AGP 8.8+; delivery `{delivery}`), holding
`{pack}/{model}` ({mib:.1f} MiB): that much leaves the base module of the app's APK / AAB (and, delivered
`on-demand` or `fast-follow`, the app's install until Play downloads the pack). The model is copied from the library's
`src/main/assets/{assets}/` when the pack is built (task `copyCarspotterModel`, into `{pack}/src/main/assets/{pack}/`),
so the bundle stores it once.

In the app: `settings.gradle.kts` includes `:{pack}` (under that name: AGP finds an asset pack's files by its
project name in their paths; its `projectDir` the folder `{pack}` here), `app/build.gradle.kts` has
`android {{ assetPacks += ":{pack}" }}` and `implementation("{library}")`, and `-Pcarspotter.modelInAssets=false`
(or that line in `gradle.properties`) leaves the model out of the library's assets. Then
`CarSpotter.createFromAiPack(context)` loads it, verified against `carspotter.json` (which stays in the app).
Change `deliveryType` in `{pack}/build.gradle.kts` to `"install-time"` (installed with the app) or `"fast-follow"` (downloaded right after install).
"""
"""``aipack/README.md``."""


SHIPPING = """## Shipping the model: in the app, an AI pack, or your own download

The model is the library's largest part (its MiB: `aipack/README.md`). Three ways to ship it:

1. **In the app's assets** (as added): `CarSpotter.create(context)`. The APK / AAB includes the model.
2. **A Play for On-device AI pack** (`aipack/`, AGP 8.8+, an app bundle published on Google Play): include the module
   in `settings.gradle.kts` under its own name (`include(":carspotter_<name>_model")`, its `projectDir`
   `path/to/bundle/android/aipack/carspotter_<name>_model`),
   add `assetPacks += ":carspotter_<name>_model"` to the app's `android {}` and
   `implementation("com.google.android.play:ai-delivery:0.1.1-alpha01")`; its delivery type is `on-demand` (fetch it
   with `AiPackManager.fetch` first), `fast-follow` or `install-time` in its `build.gradle.kts`. Then
   `CarSpotter.createFromAiPack(context)`: the model's file from `AiPackManager.getPackLocation(pack).assetsPath()`,
   or from the app's assets for an install-time pack. With `on-demand` and `fast-follow` the model's MiB leave the
   base APK / AAB module that installs the app (the AAB carries them as the pack; Play downloads them into the app's
   storage after install or when asked); with `install-time` they leave the base module but are installed with the
   app, so the install size is unchanged.
3. **Your own download** (to a file in the app's storage): `CarSpotter.create(context, file)`. The model's MiB leave
   the APK / AAB; you host, resume and update it.

For 2 and 3, build with `-Pcarspotter.modelInAssets=false` (or put `carspotter.modelInAssets=false` in
`gradle.properties`) so the model leaves the library's assets. Either way the model's SHA-256 is computed on the bytes
the runtime is then given (the file mapped, 1 MiB at a time) and compared with `carspotter.json`'s `modelSha256`,
which stays in the library's assets: a damaged, incomplete or other model throws `ModelDigestMismatchException`
(`expected`, `found`, `file`; an `IOException`) and is never loaded. The AI pack's model is not stored in the bundle
twice: the pack's `build.gradle.kts` copies it from the library's assets when the pack is built.
"""
"""The Android README's section on the three ways to ship the model."""

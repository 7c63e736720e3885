"""Shipping the Swift package's model apart from the app: a Background Assets managed asset pack template
(``ios/Delivery/BackgroundAssets/``) and the README text on the three ways to ship the model.

The manifest's fields are those of Apple's managed asset pack template (``assetPackID``, ``downloadPolicy`` with one of
``essential`` / ``prefetch`` / ``onDemand``, ``fileSelectors`` with ``file`` or ``directory`` paths relative to where
the packaging tool runs, ``platforms``): https://developer.apple.com/documentation/backgroundassets/creating-managed-asset-packs.
Whatever way the model arrives, ``CarClassifier.load(modelURL:)`` checks its SHA-256 against ``carspotter.json``
before loading it (``ModelDigest.swift``).
"""

from __future__ import annotations

import json
from pathlib import Path

from carspotter.export.package_names import npm_name

DELIVERY = Path("Delivery") / "BackgroundAssets"
"""The template's folder in ``ios/``."""

POLICIES = {
    "essential": {"installationEventTypes": ["firstInstallation"]},
    "prefetch": {"installationEventTypes": ["firstInstallation"]},
    "onDemand": {},
}
"""Apple's download policies: ``essential`` (downloaded while the app installs; it opens once the pack is there),
``prefetch`` (starts while it installs, may finish after), ``onDemand`` (only when the app asks: the default here)."""

PLATFORMS = ["iOS", "macOS"]
"""The platforms the Swift package supports, as the manifest names them."""


def asset_pack_id(bundle: str, core_ai: bool = False) -> str:
    """The template's ``assetPackID``: ``carspotter-<bundle>-model`` (``-coreai-model`` for the Core AI one)."""
    return f"{npm_name(bundle)}-{'coreai-' if core_ai else ''}model"


def manifest(bundle: str, model: str, policy: str = "onDemand", core_ai: bool = False, folder: bool = True) -> dict:
    """A managed asset pack manifest holding one model (``model``: its file or folder name, relative to
    ``Sources/CarSpotter``, where the packaging tool is run).

    Raises:
        ValueError: a policy that is not one of :data:`POLICIES`.
    """
    if policy not in POLICIES:
        raise ValueError(f"download policy {policy!r} is not one of {', '.join(POLICIES)}")
    return {
        "assetPackID": asset_pack_id(bundle, core_ai),
        "downloadPolicy": {policy: dict(POLICIES[policy])},
        "fileSelectors": [{"directory" if folder else "file": model}],
        "platforms": list(PLATFORMS),
    }


def _mib(path: Path) -> float:
    """Size of a file or folder in MiB (0 when it is not there)."""
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def write_templates(ios: Path, bundle: str, model: str, core_ai_model: str | None) -> list[Path]:
    """Write ``ios/Delivery/BackgroundAssets/``: one manifest per model (``CoreML.json``; ``CoreAI.json`` when the
    bundle has a Core AI model) and a README with each model's size in MiB (what leaves the app).

    Returns:
        The manifests written.
    """
    out = ios / DELIVERY
    out.mkdir(parents=True, exist_ok=True)
    sources = ios / "Sources" / "CarSpotter"
    written, sizes = [], []
    for name, core_ai, file in (("CoreML.json", False, model), ("CoreAI.json", True, core_ai_model)):
        if not file:
            continue
        path = out / name
        doc = manifest(bundle, file, core_ai=core_ai, folder=not (sources / file).is_file())
        path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        written.append(path)
        sizes.append(f"- `{name}`: `{file}` in asset pack `{doc['assetPackID']}`, {_mib(sources / file):.1f} MiB")
    (out / "README.md").write_text(
        TEMPLATE_README.format(sizes="\n".join(sizes), pack=asset_pack_id(bundle)), encoding="utf-8"
    )
    return written


TEMPLATE_README = """# Background Assets: the model as a managed asset pack (iOS 26+ / macOS 26+)

Managed asset pack manifests (Apple's format: `assetPackID`, `downloadPolicy`, `fileSelectors`, `platforms`), one per
model; the model leaves the app by its size:

{sizes}

The download policy is `onDemand` (downloaded when the app first calls `CarClassifier.load(assetPackID:)`). To change
it, replace `"onDemand": {{}}` with `"prefetch": {{"installationEventTypes": ["firstInstallation"]}}` (starts while the
app installs) or `"essential"` with the same value (the app opens once the model is there).

Package it from `Sources/CarSpotter` (the selectors are relative to where Apple's packaging tool runs; see "Creating
managed asset packs"), remove the model from `Package.swift`'s `resources:` (list it in `exclude:`), adopt
`ManagedDownloaderExtension` (or StoreKit's `StoreDownloaderExtension` for Apple hosting). Apple's packaging tool
makes the archive to upload (the macOS workflow runs exactly this):

```sh
cd Sources/CarSpotter && xcrun ba-package ../../Delivery/BackgroundAssets/CoreML.json -o CoreML.aar
```

Then, in the app:

```swift
let spotter = try await CarClassifier.load(assetPackID: "{pack}")  // downloads if need be, verifies, loads
```

The model's SHA-256 is checked against `carspotter.json` (which stays in the app) before it is loaded: a damaged or
other model throws `CarSpotterError.modelDigestMismatch`.
"""
"""``Delivery/BackgroundAssets/README.md`` (``{sizes}``: a line per model; ``{pack}``: the Core ML pack's ID)."""


SHIPPING = """## Shipping the model: in the app, an asset pack, or your own download

The model is the package's largest part (its size: `Delivery/BackgroundAssets/README.md`). Three ways to ship it:

1. **In the app** (as added): `CarClassifier.load()`. The app's download and install size include the model.
2. **A Background Assets managed asset pack** (iOS 26+ / macOS 26+): `Delivery/BackgroundAssets/CoreML.json` is its
   manifest (download policy `onDemand`; `prefetch` or `essential` there). `try await
   CarClassifier.load(assetPackID: "carspotter-<bundle>-model")` downloads it if need be and loads it verified.
   The model's MiB leave the app binary; the system downloads, updates and stores it.
3. **Your own download** (`URLSession` to a file, then unzip the `.mlpackage` folder): `try await
   CarClassifier.load(modelURL: url)`. The model's MiB leave the app binary; you host, resume and update it.

For 2 and 3, move the model from `Package.swift`'s `resources:` to `exclude:`, so it is not in the app. Either way
`load(modelURL:)` first recomputes the model's SHA-256 (its files streamed 1 MiB at a time, CryptoKit) and compares
it with `carspotter.json`'s `modelSha256` (`coreAIModelSha256` for an `.aimodel`), which stays in the app: a damaged,
incomplete or other model throws `CarSpotterError.modelDigestMismatch(expected:found:url:)` and is never loaded.
"""
"""The Swift README's section on the three ways to ship the model."""

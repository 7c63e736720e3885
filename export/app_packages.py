"""What every platform package written around a bundle's model files shares (each format's own writer is in its
package: ``carspotter.export.formats.NAME.package``).

Each platform folder *is* the package: its sources are copied from ``export/packages/<platform>/`` (the same
reference resize ported to Swift, Kotlin and JavaScript, the parity rule, a typed API and the self-test), the
model files sit where the platform's build wants them (:attr:`Shipping.model_dir`), and the few bundle facts
the code needs (name, input side, labels, threshold, "not a car" class, model file and digest) are one
``carspotter.json`` (:func:`bundle_facts`), the same bytes in all three packages: the Swift package decodes it, the
Android library parses it with ``org.json``, the npm package imports it as ``bundle.js`` (the same JSON as an ES
module's default export, since JSON modules need import attributes that Metro and older bundlers do not parse).
Around it: ``Package.swift``, ``build.gradle.kts``'s excludes, ``package.json``. Nothing here reads the run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from carspotter.export.platform_package import PackageInfo

SOURCES = Path(__file__).with_name("packages")
"""Package sources, one folder per platform (``ios``, ``android``, ``onnx``)."""


def copy_sources(platform: str, folder: Path) -> None:
    """Copy a platform's package sources (``export/packages/<platform>/``) into ``folder``, build outputs left out."""
    shutil.copytree(
        SOURCES / platform,
        folder,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__", ".DS_Store", "build", ".gradle", ".build", "node_modules"),
    )


FACTS = "carspotter.json"
"""The bundle-facts file's name in every platform package."""


def bundle_facts(info: PackageInfo) -> dict:
    """The facts every platform package reads, one spelling for all three (camelCase, as Swift and JS name them).

    Returns:
        ``{"name", "version", "size" (input side S, px), "labels" (C names, the model's output order),
        "threshold" (probability 0..1 or null), "notACar" (a label or null), "model" (the default model's file
        name in the package), "modelSha256" (hex digest of its bytes: the Swift package's compile-cache key),
        "coreAIModel" (the Core AI model's file name beside it, which the Swift package runs on iOS 27+ / macOS 27+, or
        null), "coreAIModelSha256" (its digest, or null)}``.
    """
    return {
        "name": info.name,
        "version": info.version,
        "size": info.size,
        "labels": list(info.labels),
        "threshold": info.threshold,
        "notACar": info.not_a_car,
        "model": info.model,
        "modelSha256": info.model_sha256,
        "coreAIModel": info.joined_model,
        "coreAIModelSha256": info.joined_sha256,
    }


def facts_text(info: PackageInfo) -> str:
    """``carspotter.json``'s text (UTF-8, labels as written)."""
    return json.dumps(bundle_facts(info), ensure_ascii=False, indent=1) + "\n"


def write_facts(folder: Path, info: PackageInfo) -> str:
    """Write ``carspotter.json`` (:func:`facts_text`) in ``folder`` (made if missing); returns its text."""
    text = facts_text(info)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FACTS).write_text(text, encoding="utf-8")
    return text

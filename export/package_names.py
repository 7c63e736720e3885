"""The names a bundle's platform packages take, derived from the bundle's name, so two bundles live in one app.

The rule (docs/bundles-and-apps.md, "Two models in one app"):

1. The bundle's name (its folder name: ``bundles/cars10`` -> ``cars10``) is split into runs of ASCII letters and
   digits; everything else (spaces, ``-``, ``_``, ``.``, non-ASCII letters) separates words. No word at all: ``bundle``.
2. **Swift** package, product, target and module: ``CarSpotter`` followed by each word with its first letter upper
   case (``cars10`` -> ``CarSpotterCars10``, ``my-cars.v2`` -> ``CarSpotterMyCarsV2``). It starts with a letter, so
   it is a valid Swift identifier; the test target is the module name + ``Tests``.
3. **Android** namespace and Kotlin package: ``dev.carspotter.`` followed by the words joined by ``_`` in lower case
   (``dev.carspotter.cars10``, ``dev.carspotter.my_cars_v2``); a segment that would start with a digit gets ``b``
   in front (``2024-cars`` -> ``dev.carspotter.b2024_cars``), and a Java/Kotlin keyword gets ``_`` after it. The
   pure-Kotlin core is the namespace + ``.core``; the asset folder is ``carspotter_`` + the same segment
   (``src/main/assets/carspotter_cars10``), so two libraries' assets never merge into one folder.
4. **npm** package: :func:`npm_name` (``carspotter-`` + the name in npm's alphabet), unchanged.

Two names that differ only in what the rule drops (``cars-10`` and ``cars_10``) map to the same identifiers: rename
one bundle folder.
"""

from __future__ import annotations

import re

KEYWORDS = frozenset(
    "abstract as assert boolean break byte case catch char class const continue default do double else enum extends "
    "false final finally float for fun goto if implements import in instanceof int interface is long native new null "
    "object package private protected public return short static strictfp super switch synchronized this throw throws "
    "transient true try typealias typeof val var void volatile when while".split()
)
"""Java and Kotlin (hard) keywords: not allowed as a package segment."""


def words(bundle: str) -> list[str]:
    """Rule 1: the ASCII letter-and-digit runs of ``bundle`` (``["bundle"]`` when there are none)."""
    return re.findall(r"[A-Za-z0-9]+", bundle) or ["bundle"]


def swift_module(bundle: str) -> str:
    """Rule 2: ``CarSpotterCars10`` for ``cars10``: the Swift package, product, target and module name."""
    return "CarSpotter" + "".join(w[:1].upper() + w[1:] for w in words(bundle))


def android_segment(bundle: str) -> str:
    """Rule 3's last segment: ``cars10``, ``my_cars_v2``, ``b2024_cars``."""
    segment = "_".join(words(bundle)).lower()
    if segment[0].isdigit():
        segment = "b" + segment
    return segment + "_" if segment in KEYWORDS else segment


def android_namespace(bundle: str) -> str:
    """Rule 3: ``dev.carspotter.cars10``: the library's namespace and its Kotlin package."""
    return f"dev.carspotter.{android_segment(bundle)}"


def android_assets(bundle: str) -> str:
    """Rule 3: ``carspotter_cars10``: the folder under ``src/main/assets`` holding the model and its facts."""
    return f"carspotter_{android_segment(bundle)}"


def npm_name(bundle: str) -> str:
    """Rule 4: an npm package name: ``carspotter-`` and the bundle name in npm's alphabet (lower case, ``-._``)."""
    return "carspotter-" + (re.sub(r"[^a-z0-9._-]+", "-", bundle.lower()).strip("-._") or "bundle")

"""The bundle's Swift package as export writes it (``swift_package``), without a bundle: names from the bundle's name
(two bundles in one app), a bundle without a golden set, the banded resize with regions of interest, the two-pass box
logic and the ``classify`` API. Swift cannot be compiled here: these check what the sources say, and
``.github/workflows/macos-coreml-parity.yml`` builds and tests them (two bundles in one SwiftPM workspace, a
``--golden 0`` bundle whose tests skip)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

IOS = REPO / "export" / "packages" / "ios"


def _info(name: str, golden: bool = True):
    from carspotter.export.platform_package import PackageInfo

    return PackageInfo(
        name=name,
        version="0.0.0",
        labels=("a", "b", "c"),
        size=128,
        threshold=None,
        not_a_car=None,
        model="CarSpotterModel.mlpackage",
        others=("carspotter.fp32.mlpackage",),
        model_sha256="0" * 64,
        golden=golden,
        deployment_target="iOS16",
    )


def _write(tmp_path: Path, name: str, golden: bool = True) -> Path:
    from carspotter.export.formats.coreml.package import swift_package

    folder = tmp_path / name / "ios"
    swift_package(folder, _info(name, golden))
    return folder


def _manifest(folder: Path) -> dict:
    """The names a generated Package.swift declares."""
    text = (folder / "Package.swift").read_text()
    return {
        "package": re.search(r'^    name: "([^"]+)"', text, re.M)[1],
        "products": re.findall(r'\.library\(name: "([^"]+)"', text),
        "targets": re.findall(r'\.target\(\s*name: "([^"]+)",\s*path: "([^"]+)"', text),
        "tests": re.findall(r'\.testTarget\(name: "([^"]+)", dependencies: \["([^"]+)"\], path: "([^"]+)"', text),
        "text": text,
    }


def test_two_bundles_get_their_own_package_product_and_module(tmp_path):
    names = {}
    for bundle, module in (("cars10", "CarSpotterCars10"), ("trucks", "CarSpotterTrucks")):
        ios = _write(tmp_path, bundle)
        m = _manifest(ios)
        assert m["package"] == module and m["products"] == [module], m["text"]
        assert m["targets"] == [(module, "Sources/CarSpotter")]  # the folders stay: paths in the manifest, other code
        assert m["tests"] == [(f"{module}Tests", module, "Tests/CarSpotterTests")]
        assert (ios / "Sources" / "CarSpotter" / "CarClassifier.swift").is_file()
        tests = (ios / "Tests" / "CarSpotterTests" / "CarSpotterTests.swift").read_text()
        assert f"@testable import {module}\n" in tests and not re.search(
            r"^(@testable )?import CarSpotter$", tests, re.M
        )
        assert f"import {module}" in m["text"]  # the header says which module to import
        names[bundle] = m
    products = [p for m in names.values() for p in m["products"]]
    assert len(products) == len(set(products)) == 2  # no duplicate product in one app
    modules = [t[0] for m in names.values() for t in m["targets"] + m["tests"]]
    assert len(modules) == len(set(modules)) == 4


def test_readme_imports_the_bundles_module():
    from carspotter.export.formats.coreml.readme import ios_readme
    from carspotter.model.spec import InputSpec

    spec = InputSpec(size=128, model_input_range="0,1")
    assert "\nimport CarSpotterCars10\n" in ios_readme("CarSpotterModel.mlpackage", spec, 3, bundle="cars10")
    generic = ios_readme("CarSpotterModel.mlpackage", spec, 3)
    assert "\nimport CarSpotter\n" not in generic and "CarSpotterCars10" in generic  # names the rule without the name
    assert "48 MP photo (8000 x 6000) costs the package about 4 MB" in generic and "one at a time" in generic


@pytest.mark.parametrize("golden", [True, False])
def test_test_target_compiles_with_and_without_a_golden_set(tmp_path, golden):
    """Without a golden set the test target has no resources, so SwiftPM generates no ``Bundle.module`` for it: the
    sources must not name it, and the golden-set tests skip with the reason."""
    ios = _write(tmp_path, "trucks", golden=golden)
    package = _manifest(ios)["text"]
    tests = ios / "Tests" / "CarSpotterTests"
    generated = (tests / "GoldenResource.swift").read_text()
    assert "func packagedGoldenFolder() -> URL?" in generated
    sources = "".join(p.read_text() for p in tests.glob("*.swift"))
    code = "\n".join(line.split("//")[0] for line in sources.splitlines())  # comments aside
    if golden:
        assert 'resources: [.copy("golden")]' in package and "Bundle.module" in code
    else:
        assert 'resources: [.copy("golden")]' not in package.split(".testTarget")[1]
        assert "Bundle.module" not in code and "{ nil }" in generated
    main = (tests / "CarSpotterTests.swift").read_text()
    assert (
        "packagedGoldenFolder()" in main
        and 'throw XCTSkip("no golden set: the bundle was exported with --golden 0' in main
    )
    # every test that reads the golden set asks for it first (goldenSet() throws XCTSkip), so it skips, not fails
    for name, body in re.findall(r"func (test\w+)\(\) (?:async )?throws \{\n(.*?)\n    \}\n", main, re.S):
        if re.search(r"golden|Golden|decode\(", body):  # goldenPhotos() and decodeGolden() call goldenSet() first
            assert re.search(r"goldenSet\(\)|goldenPhotos\(\)|decodeGolden\(", body), name


def test_workflow_builds_two_bundles_in_one_workspace_and_a_bundle_without_golden_set():
    macos = (REPO / ".github" / "workflows" / "macos-coreml-parity.yml").read_text()
    assert "--out bundles/trucks" in macos and "--golden 0" in macos
    host = REPO / ".github" / "swift-host"
    manifest = (host / "Package.swift").read_text()
    for module in ("CarSpotterSample", "CarSpotterTrucks"):
        assert (
            f'.package(path: "Packages/{module}")' in manifest
            and f'.product(name: "{module}", package: "{module}")' in manifest
        )
        assert f"Packages/{module}" in macos
    assert "swift run TwoBundles" in macos and "tests? skipped" in macos
    main = (host / "Sources" / "TwoBundles" / "main.swift").read_text()
    assert "import CarSpotterSample" in main and "import CarSpotterTrucks" in main


def _cases(source: str, name: str) -> dict[int, str]:
    """Orientation (0..8) -> the returned expression of BandReduce.swift's ``name`` (``columnOffset``, ``rowOffset``,
    ``storedRect``), as Python: non-negative Ints, so Swift's ``/`` is ``//``."""
    body = source[source.index(f"static func {name}(") :]
    body = body[: body.index("\n    }\n")]
    out = {}
    for cases, expr in re.findall(r"(case [\d, ]+|default): return ([^\n]+)", body):
        for o in range(0, 9) if cases == "default" else map(int, cases[5:].split(",")):
            out.setdefault(o, compile(expr.strip().replace("/", "//"), f"{name}[{o}]", "eval"))
    assert sorted(out) == list(range(9)), name
    return out


def _swift_band_reduce(stored, orientation: int, size: int, roi=None):
    """BandReduce.swift's reduction as written: the stored pixels of ``storedRect``, each summed at
    ``rowOffset + columnOffset`` (evaluated on whole rows and columns at once), then the means rounded half up."""
    from carspotter.model.reference_resize import box_factors

    source = (IOS / "Sources" / "CarSpotter" / "BandReduce.swift").read_text()
    rect, columns, rows = (_cases(source, n) for n in ("storedRect", "columnOffset", "rowOffset"))
    h, w = stored.shape[:2]
    uw, uh = (h, w) if orientation >= 5 else (w, h)
    x0, y0, x1, y1 = roi or (0, 0, uw, uh)
    rw, rh = x1 - x0, y1 - y0
    kx, ky = box_factors(rw, rh, size)
    out_w, out_h = -(-rw // kx), -(-rh // ky)
    env = {"width": w, "height": h, "x0": x0, "y0": y0, "x1": x1, "y1": y1, "kx": kx, "ky": ky, "outW": out_w}
    sx0, sy0, sx1, sy1 = eval(rect[orientation], {}, env)
    assert 0 <= sx0 < sx1 <= w and 0 <= sy0 < sy1 <= h and (sx1 - sx0) * (sy1 - sy0) == rw * rh
    at = (
        eval(rows[orientation], {}, {**env, "sy": np.arange(sy0, sy1)})[:, None]
        + eval(columns[orientation], {}, {**env, "sx": np.arange(sx0, sx1)})[None, :]
    )
    sums = np.zeros(out_w * out_h * 3, dtype=np.int64)
    for c in range(3):
        np.add.at(sums, at + c, stored[sy0:sy1, sx0:sx1, c].astype(np.int64))
    counts = np.array([[min(kx, rw - ox * kx) * min(ky, rh - oy * ky) for ox in range(out_w)] for oy in range(out_h)])
    return ((sums.reshape(out_h, out_w, 3) + counts[..., None] // 2) // counts[..., None]).astype(np.uint8)


@pytest.mark.parametrize("shape", [(37, 23), (23, 37), (50, 50), (9, 61)])
def test_swift_band_offsets_reduce_as_the_reference_in_every_orientation(shape):
    """BandReduce.swift's ``storedRect``, ``columnOffset`` and ``rowOffset``, evaluated as written, sum each stored
    pixel of a region of interest (or of the whole photo) into its upright box: the result is Pillow's transpose, the
    ROI cut, then the reference's ``box_reduce``, for every orientation, ROIs at odd offsets and at the edges."""
    from PIL import Image

    from carspotter.model.reference_resize import box_reduce

    transpose = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }  # Pillow's ImageOps.exif_transpose
    h, w = shape
    rng = np.random.default_rng(w * h)
    stored = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    for size in (4, 7, 40):
        for o in range(0, 9):
            upright = np.asarray(Image.fromarray(stored).transpose(transpose[o])) if o > 1 else stored
            uh, uw = upright.shape[:2]
            x0, y0 = int(rng.integers(0, uw)), int(rng.integers(0, uh))
            for roi in (
                None,
                (x0, y0, int(rng.integers(x0 + 1, uw + 1)), int(rng.integers(y0 + 1, uh + 1))),
                (uw - 1, 0, uw, uh),
                (0, uh - 2, uw, uh),
            ):
                cut = upright if roi is None else upright[roi[1] : roi[3], roi[0] : roi[2]]
                got = _swift_band_reduce(stored, o, size, roi)
                assert np.array_equal(got, box_reduce(cut, size)), (shape, size, o, roi)


def test_swift_roi_and_two_pass_state_the_reference_rules():
    """Roi.swift's rule and TwoPass.swift's constants and rule line are the reference's (model/roi.py, two_pass.py);
    the XCTests read the golden set's ROI and box vectors."""
    from carspotter.model import roi, two_pass

    sources = IOS / "Sources" / "CarSpotter"
    roi_swift = (sources / "Roi.swift").read_text()
    assert f'public static let rule = "{roi.RULE}"' in roi_swift
    for kind in ("not-a-number", "not-whole", "negative", "empty", "outside"):  # golden/resize/bad_rois.txt's kinds
        assert f'= "{kind}"' in roi_swift or f"case {kind}\n" in roi_swift, kind
    assert (
        "public init(checking x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, width: Int, height: Int) throws"
        in roi_swift
    )
    assert "public init(checking x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, width: Int, height: Int) throws" in roi_swift
    assert "public init(visionRect rect: CGRect, uprightWidth: Int, uprightHeight: Int) throws" in roi_swift
    assert "struct RoiError: LocalizedError" in roi_swift
    tp = (sources / "TwoPass.swift").read_text()
    assert f"public static let minBoxSide = {two_pass.MIN_BOX_SIDE}\n" in tp
    num, den = two_pass.SECOND_PASS_BELOW
    assert f"public static let secondPassBelow = (numerator: {num}, denominator: {den})\n" in tp
    statement = tp[tp.index("public static let rule = ") :]
    statement = statement[: statement.index("\n\n")]
    assert "".join(re.findall(r'"([^"]*)"', statement)) == two_pass.RULE
    assert "public static func boxToRoi(_ box: [Float], region: Roi) -> Roi?" in tp
    assert "public static func needsSecondPass(_ roi: Roi?, region: Roi) -> Bool" in tp
    tests = (IOS / "Tests" / "CarSpotterTests" / "CarSpotterTests.swift").read_text()
    for needle in (
        '"resize/vectors.txt"',
        '"resize/bad_rois.txt"',
        '"two_pass/box_vectors.txt"',
        "Float(bitPattern: UInt32($0, radix: 16)!)",
        '$0 + ["1", "-"]',
    ):
        assert needle in tests, needle


def test_classify_reads_bands_and_takes_turns():
    api = (IOS / "Sources" / "CarSpotter" / "CarClassifier.swift").read_text()
    classify = api[api.index("public func classify(_ image: CGImage") :]
    classify = classify[: classify.index("\n    }\n")]
    assert (
        "BandReduce.prepare(try CGImageRows(image)" in classify
        and "roi: roi)" in classify
        and "packedPixels" not in classify
    )
    assert "await takeTurn()" in classify and "defer { endTurn() }" in classify
    bands = (IOS / "Sources" / "CarSpotter" / "BandReduce.swift").read_text()
    assert (
        "image.cropping(to: CGRect(x: left, y: top, width: columns, height: count))" in bands
    )  # a band, or a ROI's window
    assert "CGImageSourceCreateThumbnail" not in bands + api and "kCGImageSourceSubsampleFactor" not in bands
    assert "about 4 MB" in bands and "48 MP" in bands


def test_classify_has_no_default_orientation_and_a_uiimage_overload():
    api = (IOS / "Sources" / "CarSpotter" / "CarClassifier.swift").read_text()
    assert (
        "public func classify(_ image: CGImage, orientation: CGImagePropertyOrientation, roi: Roi? = nil) async throws"
        in api
    )
    assert not re.search(r"orientation: CGImagePropertyOrientation\s*=", api)
    ui = (IOS / "Sources" / "CarSpotter" / "UIImageSupport.swift").read_text()
    assert ui.count("#if canImport(UIKit)") == 1 and ui.rstrip().endswith("#endif")
    assert "public func classify(_ image: UIImage, roi: Roi? = nil) async throws -> Classification" in ui
    assert "CarClassifier.exifOrientation(image.imageOrientation)" in ui and "rawValue" not in ui.split("switch")[1]
    cases = dict(re.findall(r"case \.(\w+): return \.(\w+)", ui))
    names = ["up", "upMirrored", "down", "downMirrored", "left", "leftMirrored", "right", "rightMirrored"]
    assert cases == {n: n for n in names}  # by name (Apple's CGImagePropertyOrientation page): raw values differ
    # the README shows both calls, and no call without an orientation but the UIImage one
    from carspotter.export.formats.coreml.readme import ios_readme
    from carspotter.model.spec import InputSpec

    readme = ios_readme("CarSpotterModel.mlpackage", InputSpec(size=128, model_input_range="0,1"), 3, bundle="cars10")
    assert "spotter.classify(uiImage)" in readme and "classify(cgImage, orientation: exifOrientation)" in readme
    assert "CarClassifier.exifOrientation(uiImage.imageOrientation)" in readme

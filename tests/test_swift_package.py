"""The bundle's Swift package as export writes it (``swift_package``), without a bundle: names from the bundle's name
(two bundles in one app), a bundle without a golden set, the banded resize and the ``classify`` API. Swift cannot be
compiled here: these check what the sources say, and ``.github/workflows/macos-coreml-parity.yml`` builds and tests
them (two bundles in one SwiftPM workspace, a ``--golden 0`` bundle whose tests skip)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO

IOS = REPO / "export" / "packages" / "ios"


def _info(name: str, golden: bool = True):
    from carspotter.export.platform_package import PackageInfo

    return PackageInfo(name=name, version="0.0.0", labels=("a", "b", "c"), size=128, threshold=None, not_a_car=None,
                       model="CarSpotterModel.mlpackage", others=("carspotter.fp32.mlpackage",), model_sha256="0" * 64,
                       golden=golden, deployment_target="iOS16")


def _write(tmp_path: Path, name: str, golden: bool = True) -> Path:
    from carspotter.export.app_packages import swift_package

    folder = tmp_path / name / "ios"
    swift_package(folder, _info(name, golden))
    return folder


def _manifest(folder: Path) -> dict:
    """The names a generated Package.swift declares."""
    text = (folder / "Package.swift").read_text()
    return {"package": re.search(r'^    name: "([^"]+)"', text, re.M)[1],
            "products": re.findall(r'\.library\(name: "([^"]+)"', text),
            "targets": re.findall(r'\.target\(\s*name: "([^"]+)",\s*path: "([^"]+)"', text),
            "tests": re.findall(r'\.testTarget\(name: "([^"]+)", dependencies: \["([^"]+)"\], path: "([^"]+)"', text),
            "text": text}


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
        assert f"@testable import {module}\n" in tests and not re.search(r"^(@testable )?import CarSpotter$", tests, re.M)
        assert f"import {module}" in m["text"]  # the header says which module to import
        names[bundle] = m
    products = [p for m in names.values() for p in m["products"]]
    assert len(products) == len(set(products)) == 2  # no duplicate product in one app
    modules = [t[0] for m in names.values() for t in m["targets"] + m["tests"]]
    assert len(modules) == len(set(modules)) == 4


def test_readme_imports_the_bundles_module():
    from carspotter.export.coreml_export import ios_readme
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
        assert "resources: [.copy(\"golden\")]" not in package.split(".testTarget")[1]
        assert "Bundle.module" not in code and "{ nil }" in generated
    main = (tests / "CarSpotterTests.swift").read_text()
    assert "packagedGoldenFolder()" in main and 'throw XCTSkip("no golden set: the bundle was exported with --golden 0' in main
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
        assert f'.package(path: "Packages/{module}")' in manifest and f'.product(name: "{module}", package: "{module}")' in manifest
        assert f"Packages/{module}" in macos
    assert "swift run TwoBundles" in macos and "tests? skipped" in macos
    main = (host / "Sources" / "TwoBundles" / "main.swift").read_text()
    assert "import CarSpotterSample" in main and "import CarSpotterTrucks" in main


def _offsets(source: str, name: str) -> dict[int, str]:
    """Orientation -> the offset expression of BandReduce.swift's ``name`` (``columnOffset``, ``rowOffset``)."""
    body = source[source.index(f"static func {name}("):]
    body = body[:body.index("\n    }\n")]
    out = {}
    for cases, expr in re.findall(r"(case [\d, ]+|default): return ([^\n]+)", body):
        for o in (range(1, 9) if cases == "default" else map(int, cases[5:].split(","))):
            out.setdefault(o, expr.strip())
    return out


@pytest.mark.parametrize("shape", [(37, 23), (23, 37), (50, 50), (9, 61)])
def test_swift_band_offsets_reduce_as_the_reference_in_every_orientation(shape):
    """BandReduce.swift's offset expressions, evaluated as written (non-negative Ints: Swift's ``/`` is ``//``), sum
    each stored pixel into its upright box: the result is Pillow's transpose then the reference's ``box_reduce``."""
    import numpy as np
    from PIL import Image

    from carspotter.model.reference_resize import box_factors, box_reduce

    source = (IOS / "Sources" / "CarSpotter" / "BandReduce.swift").read_text()
    columns, rows = _offsets(source, "columnOffset"), _offsets(source, "rowOffset")
    transpose = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
                 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                 8: Image.Transpose.ROTATE_90}  # Pillow's ImageOps.exif_transpose
    h, w = shape
    stored = np.random.default_rng(w * h).integers(0, 256, (h, w, 3), dtype=np.uint8)
    for size in (4, 7, 40):
        for o in range(1, 9):
            upright = np.asarray(Image.fromarray(stored).transpose(transpose[o])) if o > 1 else stored
            uh, uw = upright.shape[:2]
            kx, ky = box_factors(uw, uh, size)
            out_w, out_h = -(-uw // kx), -(-uh // ky)
            env = {"width": w, "height": h, "kx": kx, "ky": ky, "outW": out_w}
            sums = np.zeros(out_w * out_h * 3, dtype=np.int64)
            for sy in range(h):
                row = eval(rows[o].replace("/", "//"), {}, {**env, "sy": sy})
                for sx in range(w):
                    at = row + eval(columns[o].replace("/", "//"), {}, {**env, "sx": sx})
                    sums[at:at + 3] += stored[sy, sx]
            counts = np.array([[min(kx, uw - ox * kx) * min(ky, uh - oy * ky) for ox in range(out_w)] for oy in range(out_h)])
            got = ((sums.reshape(out_h, out_w, 3) + counts[..., None] // 2) // counts[..., None]).astype(np.uint8)
            assert np.array_equal(got, box_reduce(upright, size)), (shape, size, o)


def test_classify_reads_bands_and_takes_turns():
    api = (IOS / "Sources" / "CarSpotter" / "CarClassifier.swift").read_text()
    classify = api[api.index("public func classify(_ image: CGImage"):]
    classify = classify[:classify.index("\n    }\n")]
    assert "BandReduce.prepare(try CGImageRows(image)" in classify and "packedPixels" not in classify
    assert "await takeTurn()" in classify and "defer { endTurn() }" in classify
    bands = (IOS / "Sources" / "CarSpotter" / "BandReduce.swift").read_text()
    assert "image.cropping(to: CGRect(x: 0, y: top, width: width, height: count))" in bands
    assert "CGImageSourceCreateThumbnail" not in bands + api and "kCGImageSourceSubsampleFactor" not in bands
    assert "about 4 MB" in bands and "48 MP" in bands


def test_classify_has_no_default_orientation_and_a_uiimage_overload():
    api = (IOS / "Sources" / "CarSpotter" / "CarClassifier.swift").read_text()
    assert "public func classify(_ image: CGImage, orientation: CGImagePropertyOrientation) async throws" in api
    assert not re.search(r"orientation: CGImagePropertyOrientation\s*=", api)
    ui = (IOS / "Sources" / "CarSpotter" / "UIImageSupport.swift").read_text()
    assert ui.count("#if canImport(UIKit)") == 1 and ui.rstrip().endswith("#endif")
    assert "public func classify(_ image: UIImage) async throws -> Classification" in ui
    assert "CarClassifier.exifOrientation(image.imageOrientation)" in ui and "rawValue" not in ui.split("switch")[1]
    cases = dict(re.findall(r"case \.(\w+): return \.(\w+)", ui))
    names = ["up", "upMirrored", "down", "downMirrored", "left", "leftMirrored", "right", "rightMirrored"]
    assert cases == {n: n for n in names}  # by name (Apple's CGImagePropertyOrientation page): raw values differ
    # the README shows both calls, and no call without an orientation but the UIImage one
    from carspotter.export.coreml_export import ios_readme
    from carspotter.model.spec import InputSpec

    readme = ios_readme("CarSpotterModel.mlpackage", InputSpec(size=128, model_input_range="0,1"), 3, bundle="cars10")
    assert "spotter.classify(uiImage)" in readme and "classify(cgImage, orientation: exifOrientation)" in readme
    assert "CarClassifier.exifOrientation(uiImage.imageOrientation)" in readme

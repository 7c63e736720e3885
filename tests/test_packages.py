"""The platform packages in every bundle: the reference resize ported to JavaScript, Kotlin and Swift, checked
on the golden set's resize vectors wherever they run; the npm package's self-test in Node and in headless
Chromium; the Kotlin core compiled and its JVM tests run with Debian's Kotlin 1.3; the package layouts.

Uses the 10-class bundle of ``conftest.moved`` (every variant, 32-photo golden set). Swift cannot be compiled
here: its package is checked for what an Xcode build needs, and built and tested by the macOS workflow.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import (
    JUNIT_JARS,
    NODE_DIR,
    REPO,
    chromium_or_skip,
    chromium_self_test,
    compile_kotlin_core,
    install_npm_package,
    kotlin_root,
)


def test_resize_vectors_are_in_the_golden_set_and_bit_exact_in_python(moved, tmp_path):
    from carspotter.contracts import resize_vectors
    from carspotter.contracts.manifest import verify_bundle

    bundle = moved["bundle"]
    entry = verify_bundle(bundle).golden["resize_vectors"]
    assert entry["count"] == len(resize_vectors.VECTORS) == 18
    assert {v["name"] for v in entry["vectors"]} >= {
        "strip-1x613",
        "down10-3011x97",
        "rgba-301x157",
        "gen-4032x3024",
        "rgba-box-701x333",
        "gen-roi-orient6-640x480",
        "gen-roi-orient6-4032x3024",
    }
    results = resize_vectors.check_vectors(bundle / "golden")
    assert [r.differing for r in results] == [0] * 18
    # a port that rounds halves up instead of to even is caught
    copy = tmp_path / "golden"
    shutil.copytree(bundle / "golden", copy)
    out = copy / "resize" / "odd-497x231.out.ppm"
    data = bytearray(out.read_bytes())
    data[-1] ^= 1
    out.write_bytes(bytes(data))
    bad = {r.name: r for r in resize_vectors.check_vectors(copy)}
    assert bad["odd-497x231"].differing == 1 and bad["odd-497x231"].max_diff == 1


# -- JavaScript ---------------------------------------------------------------------------------------------


def test_npm_package_layout_and_main_entry_without_node_only_code(moved):
    pkg = moved["bundle"] / "onnx"
    meta = json.loads((pkg / "package.json").read_text())
    assert meta["name"] == "carspotter-cars10" and meta["type"] == "module"
    assert meta["exports"]["."]["types"] == "./index.d.ts" and meta["exports"]["./node"]["default"] == "./node.js"
    for sub, target in meta["exports"].items():  # every subpath but the JSON files has types, and they are shipped
        assert sub in ("./package.json", "./carspotter.json") or (pkg / target["types"]).is_file(), sub
    assert meta["exports"]["./carspotter.json"] == "./carspotter.json" and "carspotter.json" in meta["files"]
    assert meta["exports"]["./model"]["default"] == "./carspotter.onnx"
    readme = (pkg / "README.md").read_text()
    assert (
        "assetExts" in readme
        and "asset/resource" in readme
        and "?url" in readme
        and "experimental-vm-modules" in readme
    )
    assert "onnxruntime-common" in meta["peerDependencies"] and meta["peerDependenciesMeta"]["sharp"]["optional"]
    assert all((pkg / f).is_file() for f in meta["files"])
    bundle_js = (pkg / "bundle.js").read_text()
    assert json.loads(bundle_js[bundle_js.index("{") : bundle_js.rindex("}") + 1])["size"] == 128
    # what the main entry loads must run in React Native and browsers: no Node modules, import.meta, require, process
    assert meta["exports"]["./twopass"] == {"types": "./twopass.d.ts", "default": "./twopass.js"}
    main_graph = ["index.js", "resize.js", "twopass.js", "selftest.js", "bundle.js"]
    for name in main_graph:
        text = (pkg / name).read_text()
        imports = re.findall(r"^(?:import|export)\b[^;'\"]*?from '([^']+)'", text, flags=re.M)  # not in strings
        assert set(imports) <= {"onnxruntime-common", "./bundle.js", "./resize.js", "./twopass.js", "./selftest.js"}, (
            name,
            imports,
        )
        assert not re.search(r"import\.meta|\brequire\(|\bprocess\.|node:", text), name
        if name in ("resize.js", "twopass.js"):  # the subpaths an app may copy alone import nothing
            assert imports == [], (name, imports)
    assert "node:" in (pkg / "node.js").read_text()  # the Node-only helpers are in their own entry


def test_npm_package_in_headless_chromium_passes_the_self_test(moved, node_modules, tmp_path):
    chromium_or_skip()
    pkg = install_npm_package(moved["bundle"], tmp_path)
    result = chromium_self_test(tmp_path, pkg, moved["bundle"])
    assert "HeadlessChrome" in result["userAgent"] or "Chrome" in result["userAgent"]
    from carspotter.contracts.resize_vectors import VECTORS

    assert result["resize"]["passed"] and [v["differing"] for v in result["resize"]["vectors"]] == [0] * len(VECTORS), (
        result["lines"]
    )
    assert {v["name"] for v in result["resize"]["vectors"]} == {
        v.name for v in VECTORS
    }  # every orientation and ROI vector
    assert result["rois"]["passed"] and result["rois"]["rois"] == 13 and not result["rois"]["wrong"], result["lines"]
    box_rows = json.loads((moved["bundle"] / "manifest.json").read_text())["golden"]["box_vectors"]["count"]
    assert result["boxes"]["passed"] and result["boxes"]["rows"] == box_rows and not result["boxes"]["wrong"], result[
        "lines"
    ]
    assert result["boxOutput"]["passed"] and "no boxes" in result["boxOutput"]["skipped"]  # a run without a localizer
    assert result["exact"]["passed"] and result["exact"]["photos"] == 32, result["lines"]
    assert result["package"]["passed"] and result["package"]["photos"] == 32, result["lines"]
    # the browser's decode and the package's resize give the exact inputs: the same answers as the exact path
    assert result["package"]["top1Agreement"] == result["exact"]["top1Agreement"], result["lines"]
    assert result["package"]["maxPixelDrift"] == 0, result["lines"]
    assert len(result["classify"]["top"]) == 3 and isinstance(result["classify"]["show"], bool)
    roi = result[
        "roi"
    ]  # classify(..., roi) in the browser: the model on the ROI's input, a bad ROI refused in one line
    assert roi["same"] and roi["differs"] and len(roi["top"]) == 3, roi
    assert roi["badRoi"]["name"] == "RoiError" and "reaches outside the" in roi["badRoi"]["message"], roi
    assert "\n" not in roi["badRoi"]["message"] and "0 <= x0 < x1 <= width" in roi["badRoi"]["message"], roi


def test_npm_package_paths_reach_the_gate_at_export(moved):
    manifest = json.loads((moved["bundle"] / "manifest.json").read_text())
    rows = {r["path"]: r for r in manifest["app_paths"]["paths"]}
    for name in ("npm-node", "npm-chromium"):
        row = rows[name]
        assert "skipped" not in row, row
        assert row["gate_passed"] and row["top1_agreement"] >= 0.995 and "(min 99.5%)" in row["gate"], row
        assert row["pixel_drift_max"] == 0, row  # the reference's pixels, from the photo files
    readme = (moved["bundle"] / "onnx" / "README.md").read_text()
    assert "| npm-node |" in readme and "| npm-chromium |" in readme


TEMPLATE = REPO / "export" / "packages" / "onnx"
"""The npm package's sources, as every bundle's ``onnx/`` copies them."""

ROI_CHECK = r"""
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
const [pkg, root] = process.argv.slice(2);
const st = await import(pathToFileURL(`${pkg}/selftest.js`));
const { upright, checkRoi } = await import(pathToFileURL(`${pkg}/resize.js`));
const out = {};
for (const golden of ['good', 'bad']) {
  const readText = (rel) => readFile(`${root}/${golden}/${rel}`, 'utf8');
  const readBytes = async (rel) => new Uint8Array(await readFile(`${root}/${golden}/${rel}`));
  out[golden] = { resize: await st.checkResizeVectors(readText, readBytes), rois: await st.checkBadRois(readText),
                  boxes: await st.checkBoxVectors(readText) };
}
const orientations = [];  // all 8 EXIF orientations against Pillow's exif_transpose table, RGB and RGBA
for (const c of [3, 4]) {
  const stored = st.parsePnm(new Uint8Array(await readFile(`${root}/orient/in${c}.pnm`)));
  for (let o = 1; o <= 8; o++) {
    const want = st.parsePnm(new Uint8Array(await readFile(`${root}/orient/out${c}-${o}.pnm`)));
    const got = upright(stored.pixels, stored.width, stored.height, c, o);
    orientations.push(got.width === want.width && got.height === want.height && got.pixels.every((v, i) => v === want.pixels[i]));
  }
}
out.orientations = orientations;
out.checked = JSON.parse(await readFile(`${root}/rois.json`, 'utf8')).map(([w, h, roi]) => {
  try { const r = checkRoi(roi, w, h); return [r.x0, r.y0, r.x1, r.y1]; } catch (err) { return err.name; }
});
console.log(JSON.stringify(out));
"""


def _roi_check_inputs(tmp_path) -> tuple[str, list]:
    """A fresh golden set, a copy with one fault per file, Pillow's 8 orientations and a grid of ROIs for ROI_CHECK;
    returns the box row that was flipped and the grid."""
    import itertools

    import numpy as np
    from PIL import Image

    from carspotter.contracts import box_vectors, resize_vectors

    good = tmp_path / "good" / "golden"
    good.mkdir(parents=True)
    resize_vectors.write_vectors(good, 96)
    box_vectors.write_vectors(good)
    bad = tmp_path / "bad" / "golden"
    shutil.copytree(good, bad)
    index = bad / "resize" / "vectors.txt"  # orientation 6 read as 8: the rotation the other way
    index.write_text(index.read_text().replace("\t6\t31,101,470,633", "\t8\t31,101,470,633"))
    rois = bad / "resize" / "bad_rois.txt"  # a negative ROI marked as one to accept
    rois.write_text(rois.read_text().replace("-1\t0\t100\t100\tnegative", "-1\t0\t100\t100\tok"))
    boxes = bad / "two_pass" / "box_vectors.txt"  # one row's pass flipped
    lines = boxes.read_text().splitlines()
    lines[1] = lines[1][:-1] + ("1" if lines[1].endswith("2") else "2")
    boxes.write_text("\n".join(lines) + "\n")
    orient = tmp_path / "orient"
    orient.mkdir()
    rng = np.random.default_rng(5)
    for c in (3, 4):
        image = rng.integers(0, 256, (7, 11, c)).astype(np.uint8)
        resize_vectors.write_pnm(orient / f"in{c}.pnm", image)
        for o in range(1, 9):
            im = Image.fromarray(image, "RGBA" if c == 4 else "RGB")
            if o in resize_vectors.ORIENT:
                im = im.transpose(getattr(Image.Transpose, resize_vectors.ORIENT[o]))
            resize_vectors.write_pnm(orient / f"out{c}-{o}.pnm", np.asarray(im))
    values = [-1, 0, 1, 4, 5, 6, 2.0, 2.5]
    grid = [(5, 4, list(r)) for r in itertools.product(values, repeat=4)]
    (tmp_path / "rois.json").write_text(json.dumps(grid))
    return lines[1], grid


def test_npm_port_of_rois_and_box_logic_is_the_reference_in_node(node_modules, tmp_path):
    """The package's upright / checkRoi / resize(roi) / boxToRoi against the reference on a fresh golden set's resize
    vectors, bad ROIs and box vectors (and on copies with one fault each), all 8 EXIF orientations against Pillow, and
    check_roi's answers on a grid of ROIs; no model needed."""
    from carspotter.contracts import box_vectors, resize_vectors
    from carspotter.model.roi import RoiError, check_roi

    flipped, grid = _roi_check_inputs(tmp_path)
    (tmp_path / "check.mjs").write_text(ROI_CHECK)
    done = subprocess.run(
        ["node", str(tmp_path / "check.mjs"), str(TEMPLATE), str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    ok = out["good"]
    assert ok["resize"]["passed"] and ok["resize"]["withRois"], ok["resize"]
    assert [v["name"] for v in ok["resize"]["vectors"]] == [v.name for v in resize_vectors.VECTORS]
    assert ok["rois"]["passed"] and ok["rois"]["rois"] == len(resize_vectors.BAD_ROIS), ok["rois"]
    assert ok["boxes"]["passed"] and ok["boxes"]["rows"] == len(box_vectors.cases()), ok["boxes"]["wrong"][:3]
    broken = out["bad"]
    assert [v["name"] for v in broken["resize"]["vectors"] if v["differing"]] == ["gen-roi-orient6-640x480"]
    assert [w["line"].split("\t")[:4] for w in broken["rois"]["wrong"]] == [["640", "480", "-1", "0"]] * 2
    assert len(broken["boxes"]["wrong"]) == 1 and broken["boxes"]["wrong"][0]["line"] == flipped
    assert out["orientations"] == [True] * 16
    for (w, h, roi), got in zip(grid, out["checked"]):
        try:
            want = list(check_roi(roi, w, h))
        except RoiError:
            want = "RoiError"
        assert got == want, (roi, got, want)


ROI_CLASSIFY = r"""
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
const [pkg, root] = process.argv.slice(2);
const cs = await import(pathToFileURL(`${pkg}/index.js`));
const node = await import(pathToFileURL(`${pkg}/node.js`));
const fed = [];
const session = { inputNames: ['input'], outputNames: ['probabilities'],  // the model's place: records its input
                  run: async (feeds) => { fed.push(Float32Array.from(feeds.input.data));
                                          return { probabilities: { data: new Float32Array([0.1, 0.7, 0.2]) } }; } };
const out = { preprocess: {}, errors: {} };
for (const c of [3, 4]) {
  const p = cs.parsePnm(new Uint8Array(await readFile(`${root}/photo${c}.pnm`)));
  const want = new Uint8Array(await readFile(`${root}/expected${c}.raw`));
  const [x0, y0, x1, y1] = JSON.parse(await readFile(`${root}/roi.json`, 'utf8'));
  const same = (input) => input.length === want.length && input.every((v, i) => v === want[i]);
  const forms = [[x0, y0, x1, y1], { x0, y0, x1, y1 }, `${x0},${y0},${x1},${y1}`, new Int32Array([x0, y0, x1, y1])];
  out.preprocess[c] = forms.map((roi) => same(cs.preprocess(p.pixels, p.width, p.height, c, roi)));
  const answer = await cs.classify(session, p.pixels, p.width, p.height, c, [x0, y0, x1, y1]);
  out.preprocess[c].push(same(fed.at(-1)) && answer.best.label === cs.LABELS[1]);
  out.preprocess[c].push(!same(cs.preprocess(p.pixels, p.width, p.height, c)));  // without a ROI: the whole photo
}
const p = cs.parsePnm(new Uint8Array(await readFile(`${root}/photo3.pnm`)));
const bad = { outside: [0, 0, p.width + 1, p.height], nan: [NaN, 0, 10, 10], half: [10.5, 0, 20, 20],
              empty: [10, 10, 10, 20], negative: [-1, 0, 10, 10], rectangle: { x: 1, y: 2, width: 30, height: 40 },
              three: [1, 2, 3] };
for (const [name, roi] of Object.entries(bad)) {
  try {
    cs.preprocess(p.pixels, p.width, p.height, 3, roi);
    out.errors[name] = 'accepted';
  } catch (err) {
    out.errors[name] = `${err.name}: ${err.message}`;
  }
}
const before = fed.length;
out.classifyRejects = await cs.classify(session, p.pixels, p.width, p.height, 3, bad.outside).then(() => 'resolved',
                                                                                                 (err) => err.name);
out.modelRan = fed.length !== before;
await node.classifyFile(session, `${root}/photo.jpg`, JSON.parse(await readFile(`${root}/jpg_roi.json`, 'utf8')));
const jpg = new Uint8Array(await readFile(`${root}/expected_jpg.raw`));
out.classifyFile = fed.at(-1).every((v, i) => v === jpg[i]);
console.log(JSON.stringify(out));
"""


def test_npm_preprocess_and_classify_take_a_roi_in_node(node_modules, tmp_path):
    """preprocess / classify / classifyFile with a ROI give the reference's input for that ROI (RGB and RGBA, every
    form a ROI takes; a JPEG stored sideways, the ROI in upright pixels); a bad ROI throws one RoiError line naming
    the ROI, the photo's size and the rule, before the model runs. A stand-in session: no model needed."""
    from PIL import Image

    from carspotter.contracts import resize_vectors
    from carspotter.model.photos import load_photo

    pkg = tmp_path / "pkg"
    shutil.copytree(TEMPLATE, pkg)
    facts = {
        "name": "roi-test",
        "version": "0",
        "size": 48,
        "labels": ["a", "b", "c"],
        "threshold": None,
        "notACar": None,
        "model": "none.onnx",
        "modelSha256": "0" * 64,
    }
    (pkg / "bundle.js").write_text(f"export default {json.dumps(facts)};\n")
    (tmp_path / "node_modules").symlink_to(node_modules / "node_modules", target_is_directory=True)
    roi = (17, 9, 250, 190)
    (tmp_path / "roi.json").write_text(json.dumps(roi))
    for c in (3, 4):
        image = resize_vectors.photo(resize_vectors.Vector(f"roi-{c}", 301, 203, c, ""), seed=c)
        resize_vectors.write_pnm(tmp_path / f"photo{c}.pnm", image)
        (tmp_path / f"expected{c}.raw").write_bytes(resize_vectors.expected(image, 48, 1, roi).tobytes())
    stored = resize_vectors.generated_photo(160, 120, 9)  # stored landscape, EXIF orientation 6: upright 120 x 160
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "photo.jpg", quality=95, exif=exif.tobytes())
    jpg_roi = (7, 30, 101, 151)  # in the upright photo: outside the stored one's height
    (tmp_path / "jpg_roi.json").write_text(json.dumps(jpg_roi))
    (tmp_path / "expected_jpg.raw").write_bytes(load_photo(tmp_path / "photo.jpg", 48, jpg_roi).tobytes())
    (tmp_path / "check.mjs").write_text(ROI_CLASSIFY)
    done = subprocess.run(
        ["node", str(tmp_path / "check.mjs"), str(pkg), str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["preprocess"] == {"3": [True] * 6, "4": [True] * 6}, out["preprocess"]
    errors = out["errors"]
    for name, message in errors.items():
        assert message.startswith("RoiError: carspotter: ROI ") and "\n" not in message, (name, message)
        assert "301x203" in message and "0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height" in message, (name, message)
    assert "reaches outside the 301x203 photo" in errors["outside"] and "x0 is NaN" in errors["nan"]
    assert "x0 = 10.5 is not a whole pixel" in errors["half"] and "is empty" in errors["empty"]
    assert "negative coordinate" in errors["negative"] and "3 numbers, not four" in errors["three"]
    assert "pass [x, y, x + width, y + height]" in errors["rectangle"], errors["rectangle"]
    assert out["classifyRejects"] == "RoiError" and not out["modelRan"]
    assert out["classifyFile"], "classifyFile's ROI is not in the upright photo's pixels"


# -- Kotlin ---------------------------------------------------------------------------------------------------

KOTLIN_TESTS = (
    "ResizeVectorsTest",
    "OrientationTest",
    "ParityRuleTest",
    "CameraRotationTest",
    "RoiTest",
    "TwoPassTest",
)
"""The JVM test classes of the core (``src/test``), run by JUnit 4's console runner."""


def _junit(kotlin: tuple[Path, str], golden: Path, classes=KOTLIN_TESTS, jvm=()) -> subprocess.CompletedProcess:
    jar, package = kotlin
    return subprocess.run(
        [
            "java",
            *jvm,
            f"-Dcarspotter.golden={golden}",
            "-cp",
            os.pathsep.join([str(jar), *JUNIT_JARS]),
            "org.junit.runner.JUnitCore",
            *(f"{package}.{c}" for c in classes),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_kotlin_core_passes_its_jvm_tests_on_the_resize_vectors(pipeline, kotlin_tests):
    done = _junit(kotlin_tests, pipeline[1] / "golden")
    assert done.returncode == 0 and "OK (27 tests)" in done.stdout, done.stdout[-3000:]


def test_kotlin_resize_test_fails_on_a_wrong_vector(pipeline, kotlin_tests, tmp_path):
    copy = tmp_path / "golden"
    shutil.copytree(pipeline[1] / "golden" / "resize", copy / "resize")
    out = copy / "resize" / "down3-1000x330.out.ppm"
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 1
    out.write_bytes(bytes(data))
    done = _junit(kotlin_tests, copy)
    assert (
        done.returncode == 1
        and "down3-1000x330: values differing from the reference expected:<0> but was:<1>" in done.stdout
    )


def test_kotlin_roi_vector_is_checked_through_every_path(pipeline, kotlin_tests, tmp_path):
    """A ROI vector in an EXIF orientation with one value changed fails the steps, the fused and the band path."""
    copy = tmp_path / "golden"
    shutil.copytree(pipeline[1] / "golden", copy)
    out = copy / "resize" / "gen-roi-orient7-box-1300x700.out.ppm"
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 1
    out.write_bytes(bytes(data))
    done = _junit(kotlin_tests, copy, classes=("ResizeVectorsTest",))
    assert done.returncode == 1 and "Tests run: 8,  Failures: 3" in done.stdout, done.stdout[-3000:]
    for what in ("values differing from the reference expected:<0> but was:<1>", "fused path", "band path"):
        assert f"gen-roi-orient7-box-1300x700: {what}" in done.stdout, what


def test_kotlin_band_path_reduces_a_48mp_photo_within_a_256_mib_heap(pipeline, kotlin_tests):
    """The band path (what ``CarSpotter.classify`` runs) on a generated 8000 x 6000 photo, stored upright and rotated
    (EXIF 6), in a JVM capped at 256 MiB: the 299 px result is the Python reference's, byte for byte. The whole-photo
    path held 192 MB of stored RGBA plus a 144 MB composited copy."""
    import hashlib

    import numpy as np

    from carspotter.contracts.resize_vectors import generated_photo
    from carspotter.model.reference_resize import resize

    photo = generated_photo(8000, 6000, 48)
    shas = {
        o: hashlib.sha256(np.ascontiguousarray(resize(upright, 299)).tobytes()).hexdigest()
        for o, upright in ((1, photo), (6, np.ascontiguousarray(np.rot90(photo, k=-1))))
    }  # EXIF 6: turned 90 degrees clockwise to view
    del photo
    done = _junit(
        kotlin_tests,
        pipeline[1] / "golden",
        classes=("Photo48MpTest",),
        jvm=("-Xmx256m", "-Dcarspotter.photo48mp=" + ",".join(f"{o}:{sha}" for o, sha in shas.items())),
    )
    assert done.returncode == 0 and "OK (1 test)" in done.stdout, done.stdout[-3000:]


def test_kotlin_tests_of_a_bundle_without_a_golden_set_skip_with_the_reason(tmp_path):
    """A bundle exported with ``--golden 0``: its library's JVM tests pass, the golden-set one skipped (JUnit's Assume,
    with the reason), and the instrumented self-test's cases assume the same."""
    kotlinc = shutil.which("kotlinc")
    if kotlinc is None or not all(Path(j).is_file() for j in JUNIT_JARS):
        pytest.skip("kotlinc or JUnit 4 missing: apt-get install kotlin junit4 (nox -s tests does)")
    from carspotter.export.formats.tflite.package import android_library
    from carspotter.export.platform_package import PackageInfo

    info = PackageInfo(
        name="no-golden",
        version="0",
        labels=("a", "b"),
        size=32,
        threshold=None,
        not_a_car=None,
        model="carspotter.tflite",
        others=(),
        model_sha256="0" * 64,
        golden=False,
    )
    android_library(tmp_path / "android", info)
    jar = compile_kotlin_core(kotlinc, tmp_path / "android", tmp_path / "core-tests.jar")
    done = _junit((jar, "dev.carspotter.no_golden.core"), tmp_path / "golden")  # no such folder, as in the bundle
    assert done.returncode == 0 and "OK (27 tests)" in done.stdout, done.stdout[-3000:]
    selftest = (kotlin_root(tmp_path / "android", "androidTest") / "CarSpotterSelfTest.kt").read_text()
    assert selftest.count("assumeTrue(NO_GOLDEN, BundleConstants.HAS_GOLDEN)") == 2 and "--golden 0" in selftest


def _gradle_plugins_and_pinned_versions(android: Path, gradle: str) -> None:
    """build.gradle.kts: Kotlin built in (AGP 9) or applied by the module (AGP 8), consumer R8 rules for MediaPipe, and
    MediaPipe and LiteRT pinned at 16 KB-aligned versions, the ones its README names."""
    # AGP 9: built-in Kotlin, so no kotlinOptions; without it (AGP 8, android.builtInKotlin=false) the module applies the
    # Kotlin Android plugin itself, or stops with one line saying what to declare; consumer R8 rules for MediaPipe, shipped
    assert "kotlinOptions" not in gradle and 'plugins {\n    id("com.android.library")\n}' in gradle
    assert (
        'apply(plugin = "org.jetbrains.kotlin.android")' in gradle and "androidComponents.pluginVersion.major" in gradle
    )
    assert 'gradleProperty("android.builtInKotlin")' in gradle and "UnknownPluginException" in gradle
    readme = (android / "README.md").read_text()
    assert "android.builtInKotlin=false" in readme and 'id("org.jetbrains.kotlin.android") version' in readme
    # the README names the versions build.gradle.kts pins (16 KB aligned), none of the old unaligned ones
    litert = re.search(r'"com\.google\.ai\.edge\.litert:litert:([\d.]+)"', gradle).group(1)
    pinned = re.search(r'"com\.google\.mediapipe:tasks-vision:([\d.]+)"', gradle).group(1)
    assert f"`tasks-vision` {pinned}" in readme and f"LiteRT {litert}" in readme
    docs = (REPO / "docs" / "bundles-and-apps.md").read_text()
    for text in (readme, docs):
        assert "0.10.14" not in text and "2.16.1" not in text
    assert "CARSPOTTER_GOLDEN" not in readme
    assert (
        'consumerProguardFiles("consumer-rules.pro")' in gradle
        and "com.google.mediapipe" in (android / "consumer-rules.pro").read_text()
    )
    # pinned, at versions whose native libraries are 16 KB page-aligned (MediaPipe 0.10.26+, LiteRT 1.4.0+), MediaPipe
    # with x86_64 libraries for emulators again (0.10.29+)
    mediapipe = re.search(r'implementation\("com\.google\.mediapipe:tasks-vision:(\d+)\.(\d+)\.(\d+)"\)', gradle)
    assert (
        mediapipe
        and tuple(map(int, mediapipe.groups())) >= (0, 10, 29)
        and "org.tensorflow:tensorflow-lite" not in gradle
    )
    assert all(f'"com.google.ai.edge.litert:{a}:1.4.0"' in gradle for a in ("litert", "litert-gpu", "litert-gpu-api"))


def test_android_library_module_layout(pipeline):
    bundle = pipeline[1]
    android = bundle / "android"
    gradle = (android / "build.gradle.kts").read_text()
    assert 'id("com.android.library")' in gradle and "minSdk = 24" in gradle and 'assets.srcDirs("../golden")' in gradle
    assert 'namespace = "dev.carspotter.small"' in gradle
    pattern = re.search(r'ignoreAssetsPattern = "([^"]+)"', gradle).group(1).split(":")
    shipped = [
        Path(v["path"]).name
        for v in json.loads((bundle / "manifest.json").read_text())["formats"]["tflite"]["variants"].values()
        if v["shipped"]
    ]
    assert {f"!{n}" for n in shipped if n != "carspotter.tflite"} <= set(
        pattern
    ) and "!carspotter.tflite" not in pattern
    _gradle_plugins_and_pinned_versions(android, gradle)
    assets = android / "src" / "main" / "assets" / "carspotter_small"
    facts = json.loads((assets / "carspotter.json").read_text())
    assert facts["size"] == 128 and facts["model"] == "carspotter.tflite" and (assets / facts["model"]).is_file()
    root = kotlin_root(android)
    assert root == android / "src" / "main" / "kotlin" / "dev" / "carspotter" / "small"
    assert '"carspotter.json"' in (root / "CarSpotter.kt").read_text()
    assert (assets / "labels.txt").read_text().splitlines() == json.loads((bundle / "manifest.json").read_text())[
        "labels"
    ]
    selftest = (kotlin_root(android, "androidTest") / "CarSpotterSelfTest.kt").read_text()
    assert "Accelerator.GPU" in selftest and "Accelerator.CPU" in selftest and "Engine.INTERPRETER" in selftest
    assert "carspotter.tflite" not in selftest  # the model comes from the bundle's properties, not a hard-coded name
    library = (root / "CarSpotter.kt").read_text()
    # raw stored pixels (no sRGB conversion), oriented, composited and box-reduced by the tested core, for both engines
    assert "copyPixelsToBuffer" in library and "Matrix" not in library
    assert "suspend fun create(" in library and "const val ASSETS = BundleConstants.ASSETS" in library
    constants = (root / "core" / "BundleConstants.kt").read_text()
    assert 'const val ASSETS = "carspotter_small/"' in constants and 'const val NAME = "small"' in constants
    core = (root / "core" / "Orientation.kt").read_text()
    assert all(f"{o} ->" in core for o in range(2, 9))  # every EXIF orientation, mirrored ones included


def _kotlin_names(android: Path) -> tuple[str, set[str], set[str], list[str]]:
    """A library's namespace, Kotlin packages, class FQNs (top-level classes and objects) and asset folders."""
    namespace = re.search(r'namespace = "([^"]+)"', (android / "build.gradle.kts").read_text()).group(1)
    packages, classes = set(), set()
    for source in android.rglob("*.kt"):
        text = source.read_text()
        package = re.search(r"^package (\S+)", text, flags=re.M).group(1)
        packages.add(package)
        classes |= {
            f"{package}.{c}" for c in re.findall(r"^(?:\w+ )*(?:class|object|interface) (\w+)", text, flags=re.M)
        }
        assert all(i.startswith(namespace) for i in re.findall(r"^import (dev\.carspotter\S*)", text, flags=re.M)), (
            source
        )
    return namespace, packages, classes, sorted(p.name for p in (android / "src" / "main" / "assets").iterdir())


def test_two_bundles_android_libraries_share_no_name(pipeline, tmp_path):
    """Two bundles in one app: the pipeline's (``small``) and a second written for ``cars-b`` share no namespace, Kotlin
    package, class name or asset folder; each tree's Kotlin sources sit in their package's folder."""
    from carspotter.export.formats.tflite.package import android_library
    from carspotter.export.platform_package import PackageInfo

    small = pipeline[1] / "android"
    facts = json.loads((small / "src" / "main" / "assets" / "carspotter_small" / "carspotter.json").read_text())
    info = PackageInfo(
        name="cars-b",
        version=facts["version"],
        labels=tuple(facts["labels"]),
        size=facts["size"],
        threshold=facts["threshold"],
        not_a_car=facts["notACar"],
        model=facts["model"],
        others=(),
        model_sha256=facts["modelSha256"],
        golden=False,
    )
    other = tmp_path / "android"
    android_library(other, info)
    a, b = _kotlin_names(small), _kotlin_names(other)
    assert (a[0], b[0]) == ("dev.carspotter.small", "dev.carspotter.cars_b")
    assert a[1] == {"dev.carspotter.small", "dev.carspotter.small.core"} and b[1] == {
        "dev.carspotter.cars_b",
        "dev.carspotter.cars_b.core",
    }
    assert (
        not a[2] & b[2]
        and "dev.carspotter.cars_b.CarSpotter" in b[2]
        and "dev.carspotter.small.core.ReferenceResize" in a[2]
    )
    assert a[3] == ["carspotter_small"] and b[3] == ["carspotter_cars_b"]
    for android, namespace in ((small, a[0]), (other, b[0])):
        for source in android.rglob("*.kt"):
            package = re.search(r"^package (\S+)", source.read_text(), flags=re.M).group(1)
            assert source.parent == android / "src" / source.relative_to(android / "src").parts[0] / "kotlin" / Path(
                *package.split(".")
            ), source
    assert "const val HAS_GOLDEN = false" in (kotlin_root(other) / "core" / "BundleConstants.kt").read_text()
    assert (other / "src" / "main" / "assets" / "carspotter_cars_b" / "carspotter.json").is_file()


def test_one_bundle_facts_file_is_what_all_three_packages_read(moved):
    bundle = moved["bundle"]
    manifest = json.loads((bundle / "manifest.json").read_text())
    files = {
        "ios": bundle / "ios" / "Sources" / "CarSpotter" / "carspotter.json",
        "android": bundle / "android" / "src" / "main" / "assets" / "carspotter_cars10" / "carspotter.json",
        "onnx": bundle / "onnx" / "carspotter.json",
    }
    facts = {k: json.loads(p.read_text(encoding="utf-8")) for k, p in files.items()}
    assert set(facts["ios"]) == {
        "name",
        "version",
        "size",
        "labels",
        "threshold",
        "notACar",
        "model",
        "modelSha256",
        "coreAIModel",
        "coreAIModelSha256",
    }
    assert facts["ios"]["labels"] == manifest["labels"] and facts["ios"]["size"] == manifest["input"]["shape"][1]
    per_package = ("model", "modelSha256", "coreAIModel", "coreAIModelSha256")
    for platform, fmt in (("ios", "coreml"), ("android", "tflite"), ("onnx", "onnx")):
        # one spelling: only the model files (and their digests) differ between the packages
        assert {k: v for k, v in facts[platform].items() if k not in per_package} == {
            k: v for k, v in facts["ios"].items() if k not in per_package
        }, platform
        assert facts[platform]["model"] == Path(manifest["formats"][fmt]["path"]).name, platform
    # the Core AI model (iOS 27+ / macOS 27+) is the Swift package's alone, and null where the bundle has none
    coreai = manifest["formats"].get("coreai")
    assert facts["ios"]["coreAIModel"] == (Path(coreai["path"]).name if coreai else None)
    assert (facts["ios"]["coreAIModelSha256"] is None) == (coreai is None)
    assert all(facts[p]["coreAIModel"] is None and facts[p]["coreAIModelSha256"] is None for p in ("android", "onnx"))
    bundle_js = (bundle / "onnx" / "bundle.js").read_text(encoding="utf-8")
    assert (
        json.loads(bundle_js[bundle_js.index("{") : bundle_js.rindex("}") + 1]) == facts["onnx"]
    )  # the same JSON as a module
    readers = {
        "ios": (
            bundle / "ios" / "Sources" / "CarSpotter" / "Classification.swift",
            'forResource: "carspotter", withExtension: "json"',
        ),
        "android": (kotlin_root(bundle / "android") / "CarSpotter.kt", 'ASSETS + "carspotter.json"'),
        "onnx": (bundle / "onnx" / "index.js", "import BUNDLE from './bundle.js'"),
    }
    for platform, (source, reads) in readers.items():
        assert reads in source.read_text(encoding="utf-8"), platform
    assert not list(bundle.rglob("carspotter.properties"))


# -- Swift ----------------------------------------------------------------------------------------------------


def test_swift_package_layout(moved):
    ios = moved["bundle"] / "ios"
    manifest = json.loads((moved["bundle"] / "manifest.json").read_text())
    package = (ios / "Package.swift").read_text()
    assert package.startswith("// swift-tools-version:5.7") and "platforms: [.iOS(.v16), .macOS(.v13)]" in package
    assert '.copy("CarSpotterModel.mlpackage")' in package and 'path: "Tests/CarSpotterTests"' in package
    resources = ios / "Sources" / "CarSpotter"
    assert manifest["formats"]["coreml"]["path"] == "ios/Sources/CarSpotter/CarSpotterModel.mlpackage"
    for name, v in manifest["formats"]["coreml"]["variants"].items():
        if v["shipped"] and v["path"] != manifest["formats"]["coreml"]["path"]:
            assert f'"{Path(v["path"]).name}"' in package  # other variants excluded from the target
    info = json.loads((resources / "carspotter.json").read_text())
    assert info["size"] == 128 and info["model"] == "CarSpotterModel.mlpackage" and len(info["modelSha256"]) == 64
    api = (resources / "CarClassifier.swift").read_text()
    assert (
        "public actor CarClassifier" in api
        and "func classify(_ image: CGImage, orientation: CGImagePropertyOrientation" in api
    )
    assert not list(resources.glob("CarSpotter.swift"))  # no type named like its module (CarSpotter.CarSpotter)
    tests = ios / "Tests" / "CarSpotterTests"
    assert "#filePath" not in (tests / "CarSpotterTests.swift").read_text()  # the golden set is a test resource
    assert 'resources: [.copy("golden")]' in package
    assert (tests / "golden" / "resize" / "vectors.txt").read_bytes() == (
        moved["bundle"] / "golden" / "resize" / "vectors.txt"
    ).read_bytes()
    assert (tests / "golden" / "expected.json").is_file()


def test_swift_resize_is_the_kotlin_port_step_for_step(moved):
    """No Swift compiler here: the arithmetic of the Swift port must be the tested Kotlin port's, expression for
    expression (the lines that solve and invert the matrix and compute the fixed-point position and weights)."""
    arithmetic = re.compile(
        r"(m\[\d\]\*m\[\d\]|\*d,|alpha=|a\[i\]\[6\]=|w[01][01]=|let(ax|ay|sx|sy|ow|oh|rows|end|n)=|"
        r"sums\[3\*ox\]\+=r|\(sums\[3\*ox\+c\]\+n/2\)/n)"
    )

    def steps(path: Path) -> list[str]:
        out = []
        for line in path.read_text().splitlines():
            line = re.sub(r"\s+", "", line.split("//")[0])
            for a, b in (
                ("Math.", ""),
                ("shr", ">>"),
                ("and(", "&("),
                ("INTER_BITS", "interBits"),
                ("INTER_TAB_SIZE", "interTabSize"),
                ("val", "let"),
                ("rgba.size", "rgba.count"),
            ):
                line = line.replace(a, b)
            if arithmetic.search(line):
                out.append(arithmetic.search(line)[0] if "sums[3*ox+c]" in line else line.rstrip(","))
        return out

    kt = steps(kotlin_root(moved["bundle"] / "android") / "core" / "ReferenceResize.kt")
    sw = steps(moved["bundle"] / "ios" / "Sources" / "CarSpotter" / "ReferenceResize.swift")
    assert len(kt) >= 21 and kt == sw


def test_platform_readmes_say_how_to_add_the_package_and_fix_the_old_claims(moved):
    bundle = moved["bundle"]
    ios, android, onnx = ((bundle / p / "README.md").read_text() for p in ("ios", "android", "onnx"))
    for text in (ios, android, onnx):
        assert "corners aligned" not in text and "asymmetric" in text
    assert ".centerCrop" in ios and ".scaleFit" in ios and "off the main thread" in ios
    assert "suspend" in android and 'include(":carspotter")' in android
    assert "npm install --install-links" in onnx and "Web Worker" in onnx


def test_platform_workflows_build_and_test_an_exported_bundle():
    """The macOS (Xcode 26: swift test and the iOS Simulator; Xcode 27 on macOS 27: swift test with Core AI) and
    Android (host project, JVM and emulator tests) workflows exist and run on a bundle exported in the same job."""
    from conftest import REPO

    macos = (REPO / ".github" / "workflows" / "macos-coreml-parity.yml").read_text()
    assert "Xcode_26" in macos and "swift test" in macos and "xcodebuild test -scheme CarSpotter" in macos
    assert "carspotter export" in macos
    # the Core AI job: Xcode 27's image, a bundle exported with the coreai extra, Core AI tests that must not skip
    assert "runs-on: xcode-27" in macos and "Xcode_27" in macos and ".[test,coreai]" in macos
    assert 'CARSPOTTER_REQUIRE_COREAI: "1"' in macos
    android = (REPO / ".github" / "workflows" / "android-package.yml").read_text()
    for step in (
        "carspotter export",
        "gradle wrapper",
        ":carspotter:testDebugUnitTest",
        "android-emulator-runner",
        ":carspotter:connectedDebugAndroidTest",
    ):
        assert step in android, step
    host = REPO / ".github" / "android-host"
    settings = (host / "settings.gradle.kts").read_text()
    assert 'include(":carspotter")' in settings and "carspotterBundle" in settings
    assert 'id("com.android.library") version "9.' in (host / "build.gradle.kts").read_text()
    assert "gradle-9." in (host / "gradle" / "wrapper" / "gradle-wrapper.properties").read_text()
    # 16 KB alignment of the packaged native libraries, a minified release that calls classify, the module without
    # built-in Kotlin, two bundles of different names in one app (and the second without a golden set)
    for step in (
        "readelf -lW",
        "0x4000",
        "zipalign",
        "-c -P 16",
        ":app:assembleRelease",
        "-Pandroid.builtInKotlin=false",
        "--golden 0",
        "assets/carspotter_sample_b/carspotter.tflite",
        "CLASSIFIED 2",
    ):
        assert step in android, step
    app_host = REPO / ".github" / "android-app-host"
    assert 'include(":carspotterb")' in (app_host / "settings.gradle.kts").read_text()
    app = (app_host / "app" / "build.gradle.kts").read_text()
    assert "isMinifyEnabled = true" in app and 'implementation(project(":carspotterb"))' in app
    activity = (
        app_host / "app" / "src" / "main" / "kotlin" / "dev" / "carspotter" / "host" / "MainActivity.kt"
    ).read_text()
    assert (
        "import dev.carspotter.sample.CarSpotter" in activity
        and "import dev.carspotter.sample_b.CarSpotter" in activity
    )
    assert ".classify(photo, 6)" in activity


TS_USE = """
import { resize, classify, LABELS, SIZE, preprocess, runSelfTest, generatedPhoto, boxReduce, checkRoi, RoiError, boxToRoi,
         type Pixels, type Roi } from 'PKG';
import { resize as resizeOnly, bilinear, boxFactors, upright, cutRoi, ROI_RULE } from 'PKG/resize';
import { needsSecondPass, MIN_BOX_SIDE } from 'PKG/twopass';
import { decodeFile, createSession, classifyFile } from 'PKG/node';
import model from 'PKG/model';
const px: Pixels = new Uint8Array(12);
const a: Uint8Array = resize(px, 2, 2, 3, SIZE);
const b: Uint8Array = resizeOnly(px, 2, 2, 3, 1, [0, 0, 1, 2]);
const k: [number, number] = boxFactors(4032, 3024, 299);
const c: number = boxReduce(px, 2, 2, 1).width + bilinear(px, 2, 2, 1).length;
const url: string = model;
const crop = { x: 10, y: 20, width: 300, height: 200 };  // a crop UI's rectangle
const roi: Roi = checkRoi([crop.x, crop.y, crop.x + crop.width, crop.y + crop.height], 640, 480);
const input: Float32Array = preprocess(px, 2, 2, 3, { x0: 0, y0: 0, x1: 2, y1: 1 });
const box: Roi | null = boxToRoi(new Float32Array([0.1, 0.1, 0.5, 0.5]), { x0: 0, y0: 0, x1: 640, y1: 480 });
const two: boolean = needsSecondPass(box, [0, 0, 640, 480]);
const up: number = upright(px, 2, 2, 3, 6).width + cutRoi(px, 2, 2, 3, '0,0,1,1').height + MIN_BOX_SIDE;
const err: RangeError = new RoiError(ROI_RULE);
export const used = [a, b, k, c, url, roi, input, box, two, up, err, LABELS, classify, runSelfTest, generatedPhoto(1, 1, 1),
                     decodeFile, createSession, classifyFile];
"""


def test_npm_package_types_cover_every_subpath_as_an_app_imports_them(moved, node_modules, tmp_path):
    """TypeScript (tests/js, pinned) compiles an app's imports of ".", "./resize", "./twopass", "./node" and "./model"
    against the installed package's declarations: strict, Node's module resolution, the package.json "exports" map."""
    tsc = NODE_DIR / "node_modules" / ".bin" / "tsc"
    if not tsc.is_file():
        pytest.skip("typescript is not in tests/js/node_modules (npm ci in tests/js)")
    pkg = install_npm_package(moved["bundle"], tmp_path)
    name = json.loads((pkg / "package.json").read_text())["name"]
    (tmp_path / "node_modules").unlink()  # the app's own node_modules: the suite's packages and this one
    (tmp_path / "node_modules").mkdir()
    for entry in (NODE_DIR / "node_modules").iterdir():
        (tmp_path / "node_modules" / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    (tmp_path / "node_modules" / name).symlink_to(pkg, target_is_directory=True)
    (tmp_path / "app.ts").write_text(TS_USE.replace("PKG", name))
    (tmp_path / "package.json").write_text('{"type": "module"}')
    done = subprocess.run(
        [str(tsc), "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "app.ts"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
    (tmp_path / "app.ts").write_text(
        TS_USE.replace("PKG", name)
        .replace("resize(px, 2, 2, 3, SIZE)", "resize(px, 2, 2, 5, SIZE)")
        .replace("preprocess(px, 2, 2, 3, { x0: 0, y0: 0, x1: 2, y1: 1 })", "preprocess(px, 2, 2, 3, crop)")
    )
    bad = subprocess.run(
        [str(tsc), "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "app.ts"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode != 0 and "not assignable to parameter of type '3 | 4'" in bad.stdout  # the types bite
    # a crop UI's {x, y, width, height} is not a ROI: the app converts it to x0, y0, x1, y1
    assert "not assignable to parameter of type 'RoiLike" in bad.stdout, bad.stdout[-2000:]

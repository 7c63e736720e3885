"""The npm package's model loading for React Native release builds and the web (``openSession``, ``base64ToBytes``):
the README's snippets' code paths run in Node with onnxruntime-node, on the bundle's own model bytes, and give the
same top-3 on the golden set as the package's own session opened by path."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from conftest import install_npm_package

SCRIPT = r"""
import * as ort from 'onnxruntime-node';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [pkg, bundle, documents] = process.argv.slice(2);
const main = await import(pathToFileURL(path.join(pkg, 'index.js')));
const node = await import(pathToFileURL(path.join(pkg, 'node.js')));
const file = path.join(pkg, main.BUNDLE.model);
const raw = await readFile(file);                                  // a Node Buffer: a Uint8Array view
await mkdir(documents, { recursive: true });
const copy = path.join(documents, main.BUNDLE.model);               // "copy it to the documents folder"
await copyFile(file, copy);
const readBytes = async (p) => readFile(p);                        // the app's own reader (React Native: expo-file-system)
const sessions = {
  path: await node.createSession(),                                 // the package's own session
  url: await main.openSession(ort, file, { readBytes }),
  copy: await node.openFile(copy),                                  // "a file the app downloaded"
  fileUrl: await node.openFile(pathToFileURL(copy).href),
  bytes: await main.openSession(ort, new Uint8Array(raw)),          // React Native release: the bytes
  buffer: await main.openSession(ort, raw),
  arrayBuffer: await main.openSession(ort, raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)),
  base64: await main.openSession(ort, main.base64ToBytes(raw.toString('base64'))),  // expo-file-system / react-native-fs
};
const expected = JSON.parse(await readFile(path.join(bundle, 'golden', 'expected.json'), 'utf8'));
const tops = {};
for (const [name, session] of Object.entries(sessions)) {
  tops[name] = [];
  for (const photo of expected.photos) {
    const result = await node.classifyFile(session, path.join(bundle, photo.photo));
    tops[name].push(result.top.map((g) => g.index));
  }
}
const errors = [];
for (const bad of [null, 42, { localUri: 'file:///x' }, new Uint8Array(0)]) {
  try { await main.openSession(ort, bad); errors.push('no error'); } catch (err) { errors.push(err.message); }
}
try { await main.openSession(undefined, raw); errors.push('no error'); } catch (err) { errors.push(err.message); }
// one byte changed in the middle of the model: refused from bytes, from a file, and from a path with a reader
const bad = new Uint8Array(raw);
bad[bad.length >> 1] ^= 0x01;
const damaged = path.join(documents, 'damaged.onnx');
await writeFile(damaged, bad);
const refusals = [];
for (const attempt of [() => main.openSession(ort, bad), () => node.openFile(damaged),
                       () => main.openSession(ort, damaged, { readBytes }), () => main.openSession(ort, file),
                       () => main.openSession(ort, raw, { sha256: '0'.repeat(64) })]) {
  try { await attempt(); refusals.push('loaded'); } catch (err) { refusals.push(err.message); }
}
let unsafe;
try { await main.openSession(ort, bad, { verify: false }); unsafe = 'loaded'; } catch (err) { unsafe = err.message; }
const { createHash } = await import('node:crypto');
const digests = { node: createHash('sha256').update(raw).digest('hex'), hex: await main.sha256Hex(raw),
                  js: Buffer.from(main.sha256Js(new Uint8Array(raw))).toString('hex'), bundle: main.BUNDLE.modelSha256 };
const sample = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37 + (i >> 3)) & 255);
const roundTrip = Buffer.from(main.base64ToBytes(Buffer.from(sample).toString('base64'))).equals(Buffer.from(sample));
console.log(JSON.stringify({ tops, errors, roundTrip, photos: expected.photos.length, refusals, unsafe, digests }));
"""


def _run(pipeline, tmp_path) -> dict:
    """SCRIPT on the pipeline bundle's npm package: its JSON line."""
    _, bundle = pipeline
    pkg = install_npm_package(bundle, tmp_path)
    (tmp_path / "loading.mjs").write_text(SCRIPT)
    done = subprocess.run(
        ["node", "loading.mjs", str(pkg), str(bundle), str(tmp_path / "documents")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_model_from_bytes_gives_the_path_sessions_top3_on_the_golden_set(pipeline, node_modules, tmp_path):
    _, bundle = pipeline
    out = _run(pipeline, tmp_path)
    assert out["photos"] >= 4 and out["roundTrip"]
    reference = out["tops"].pop("path")
    assert len(reference) == out["photos"] and all(len(t) == 3 for t in reference)
    for name, tops in out["tops"].items():
        assert tops == reference, name  # bytes, ArrayBuffer, base64, URL and a copied file: the same top-3
    # the right bytes: the reference's top-1 wherever it is not a near-tie (margin over 5 points), and its top-3 set
    photos = json.loads((bundle / "golden" / "expected.json").read_text())["photos"]
    for photo, top in zip(photos, out["tops"]["bytes"]):
        ranked = sorted(range(len(photo["probabilities"])), key=lambda k: -photo["probabilities"][k])
        if photo["margin"] > 0.05:
            assert top[0] == ranked[0], (photo["photo"], top, ranked[:3])
    bad_null, bad_number, bad_asset, empty, no_ort = out["errors"]
    assert "must be its bytes (Uint8Array or ArrayBuffer) or its URL / file path, got null" in bad_null
    assert "got number" in bad_number and "got Object" in bad_asset and "asset.localUri" in bad_asset
    assert "bytes are empty" in empty and "ONNX Runtime module" in no_ort
    assert all("\n" not in e for e in out["errors"])  # one-line errors


def test_a_model_with_one_byte_changed_is_refused_in_node(pipeline, node_modules, tmp_path):
    """From bytes, from a file (node's openFile) and from a path with the app's reader: one Error naming both
    digests; a path the runtime cannot read without a reader is a TypeError; the digest is Node's sha256 whichever
    way it is computed (Web Crypto, plain JavaScript)."""
    out = _run(pipeline, tmp_path)
    digests = out["digests"]
    assert digests["node"] == digests["hex"] == digests["js"] == digests["bundle"]
    from_bytes, from_file, from_reader, no_reader, other_sha = out["refusals"]
    for message in (from_bytes, from_file, from_reader):
        assert message.startswith("carspotter: refused the model: its sha256 is "), message
        assert f"bundle.js expects {digests['bundle']}" in message and "\n" not in message
        found = message.split("its sha256 is ")[1].split(",")[0]
        assert len(found) == 64 and found != digests["bundle"]
    assert "cannot read" in no_reader and "readBytes" in no_reader and "verify: false" in no_reader
    assert f"its sha256 is {digests['bundle']}, bundle.js expects {'0' * 64}" in other_sha
    assert "refused the model" not in out["unsafe"]  # verify: false skips the check (unsafe)


def test_readme_snippets_use_what_the_package_exports(pipeline):
    _, bundle = pipeline
    readme = (bundle / "onnx" / "README.md").read_text()
    index = (bundle / "onnx" / "index.js").read_text()
    types = (bundle / "onnx" / "index.d.ts").read_text()
    exported = set(re.findall(r"^export (?:async )?function (\w+)", index, re.M))
    for name in ("openSession", "base64ToBytes"):
        assert name in exported and f"export function {name}(" in types, name
    # React Native release: the bytes (expo-file-system) or a copy in the documents folder, react-native-fs too
    assert "onnxruntime issue\n26738" in readme or "onnxruntime issue 26738" in readme.replace("\n", " ")
    assert "openSession(ort, base64ToBytes(base64))" in readme and "FileSystem.copyAsync" in readme
    assert "RNFS.readFileAssets" in readme and "RNFS.MainBundlePath" in readme
    # Metro before React Native 0.79; onnxruntime-web's .wasm files served from the app
    assert "config.resolver.unstable_enablePackageExports = true;" in readme and "React Native < 0.79" in readme
    assert "ort.env.wasm.wasmPaths = '/ort/';" in readme and "node_modules/onnxruntime-web/dist/" in readme
    # the model's digest checked before it loads; the three ways to ship it and their cost in app size
    assert "bundle.js`'s `modelSha256`" in readme and "carspotter: refused the model: its sha256 is" in readme
    assert "`{ verify: false }` skips the check: **unsafe**" in readme and "{ readBytes }" in readme
    for way in ("**In the app bundle**", "**A file the app downloads**", "**Bytes from anywhere**"):
        assert way in readme, way
    assert "the model's MiB leave the app's download" in readme
    assert "export function openFile(" in (bundle / "onnx" / "node.d.ts").read_text()
    for name in ("verifyModel", "sha256Hex"):
        assert name in exported and f"export function {name}(" in types, name
    for imported in re.findall(r"import \{ ([^}]+) \} from 'carspotter-<bundle>'", readme):
        assert {n.strip() for n in imported.split(",")} <= exported, imported


def test_a_model_with_one_byte_changed_is_refused_in_chromium(pipeline, node_modules, tmp_path):
    """In headless Chromium with onnxruntime-web: openSession(ort, url) fetches the model and checks it with Web
    Crypto; a copy with one byte changed is refused from its URL and from its bytes; the intact one classifies the
    golden set's exact inputs with the reference's top-1 (near-ties aside)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed here (nox -s tests installs Debian's chromium)")
    if not (node_modules / "node_modules" / "onnxruntime-web").is_dir():
        pytest.skip("onnxruntime-web is not in tests/js/node_modules (npm ci in tests/js)")
    _, bundle = pipeline
    pkg = install_npm_package(bundle, tmp_path)
    (tmp_path / "bundle").symlink_to(bundle, target_is_directory=True)
    model = bytearray((pkg / json.loads((pkg / "carspotter.json").read_text())["model"]).read_bytes())
    model[len(model) // 2] ^= 0x01
    (tmp_path / "damaged.onnx").write_bytes(model)
    done = subprocess.run(
        [
            "node",
            str(node_modules / "model_check_page.mjs"),
            chromium,
            str(tmp_path),
            str(pkg),
            str(tmp_path / "bundle"),
            str(tmp_path / "damaged.onnx"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert "error" not in out and not out["pageErrors"], out
    result = out["result"]
    assert "Chrome" in result["userAgent"] and result["subtle"]  # Web Crypto on http://127.0.0.1 (a secure context)
    digests = result["digests"]
    assert digests["web"] == digests["js"] == digests["bundle"]
    for message in result["refusals"]:
        assert message.startswith("carspotter: refused the model: its sha256 is "), message
        assert f"bundle.js expects {digests['bundle']}" in message and "\n" not in message
    assert len(result["refusals"]) == 2
    photos = json.loads((bundle / "golden" / "expected.json").read_text())["photos"]
    assert len(result["tops"]) == min(8, len(photos))
    for photo, top in zip(photos, result["tops"]):
        ranked = sorted(range(len(photo["probabilities"])), key=lambda k: -photo["probabilities"][k])
        assert len(top) == 3 and (photo["margin"] <= 0.05 or top[0] == ranked[0]), (photo["photo"], top, ranked[:3])

"""The npm package's model loading for React Native release builds and the web (``openSession``, ``base64ToBytes``):
the README's snippets' code paths run in Node with onnxruntime-node, on the bundle's own model bytes, and give the
same top-3 on the golden set as the package's own session opened by path."""

from __future__ import annotations

import json
import re
import subprocess

from conftest import install_npm_package

SCRIPT = r"""
import * as ort from 'onnxruntime-node';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
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
const sessions = {
  path: await node.createSession(),                                 // the package's own session
  url: await main.openSession(ort, file),
  copy: await main.openSession(ort, copy),
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
const sample = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37 + (i >> 3)) & 255);
const roundTrip = Buffer.from(main.base64ToBytes(Buffer.from(sample).toString('base64'))).equals(Buffer.from(sample));
console.log(JSON.stringify({ tops, errors, roundTrip, photos: expected.photos.length }));
"""


def test_model_from_bytes_gives_the_path_sessions_top3_on_the_golden_set(pipeline, node_modules, tmp_path):
    _, bundle = pipeline
    pkg = install_npm_package(bundle, tmp_path)
    (tmp_path / "loading.mjs").write_text(SCRIPT)
    done = subprocess.run(["node", "loading.mjs", str(pkg), str(bundle), str(tmp_path / "documents")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["photos"] >= 4 and out["roundTrip"]
    reference = out["tops"].pop("path")
    assert len(reference) == out["photos"] and all(len(t) == 3 for t in reference)
    for name, tops in out["tops"].items():
        assert tops == reference, name  # bytes, ArrayBuffer, base64, URL and a copied file: the same top-3
    bad_null, bad_number, bad_asset, empty, no_ort = out["errors"]
    assert "must be its bytes (Uint8Array or ArrayBuffer) or its URL / file path, got null" in bad_null
    assert "got number" in bad_number and "got Object" in bad_asset and "asset.localUri" in bad_asset
    assert "bytes are empty" in empty and "ONNX Runtime module" in no_ort
    assert all("\n" not in e for e in out["errors"])  # one-line errors


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
    for imported in re.findall(r"import \{ ([^}]+) \} from 'carspotter-<bundle>'", readme):
        assert {n.strip() for n in imported.split(",")} <= exported, imported

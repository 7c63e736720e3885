// Two-pass recognition of raw RGB scenes by the bundle's npm package in Node (onnxruntime-node), as an app calls it:
//   node two_pass_scenes.mjs PKG SCENES_JSON
// SCENES_JSON: [{file, width, height, region}], files (raw RGB bytes, row-major) relative to it; region: pass 1's
// [x0, y0, x1, y1] or null. Prints one JSON line: per scene {passes, roi, found, box, top1, probabilities, ms}.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [pkg, list] = process.argv.slice(2);
const carspotter = await import(pathToFileURL(path.join(pkg, 'index.js')).href);
const { createSession } = await import(pathToFileURL(path.join(pkg, 'node.js')).href);
const session = await createSession();
const out = [];
for (const scene of JSON.parse(await readFile(list, 'utf8'))) {
  const bytes = await readFile(path.join(path.dirname(list), scene.file));
  const pixels = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  const t0 = performance.now();
  const a = await carspotter.twoPass(session, pixels, scene.width, scene.height, 3, scene.region);
  out.push({ passes: a.passes, roi: a.roi, found: a.found, box: Array.from(a.box), top1: a.best.index,
             probabilities: Array.from(a.probabilities), ms: performance.now() - t0 });
}
console.log(JSON.stringify(out));

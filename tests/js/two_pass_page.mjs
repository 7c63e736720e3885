// Two-pass recognition of raw RGB scenes by the bundle's npm package in headless Chromium, as a web app calls it:
// onnxruntime-web (wasm), the package's main entry as ES modules through the import map of page_host.mjs.
//   node two_pass_page.mjs CHROMIUM ROOT PKG SCENES_JSON   (ROOT holds node_modules; PKG and SCENES_JSON below ROOT)
// SCENES_JSON as two_pass_scenes.mjs reads it. Prints one JSON object: {result: per scene {passes, roi, found, box,
// top1, probabilities, ms}, console, pageErrors, error?}.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runInPage, urlOf } from './page_host.mjs';

const [chromium, root, pkg, list] = process.argv.slice(2);
const args = { pkg: urlOf(root, pkg), folder: urlOf(root, path.dirname(list)),
               scenes: JSON.parse(await readFile(list, 'utf8')) };
const out = await runInPage(chromium, root, 'carspotter two-pass', async ({ pkg, folder, scenes }) => {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
  ort.env.wasm.numThreads = 1;
  const carspotter = await import(`${pkg}/index.js`);
  const bytes = new Uint8Array(await (await fetch(`${pkg}/${carspotter.BUNDLE.model}`)).arrayBuffer());
  const session = await carspotter.openSession(ort, bytes);  // the model's SHA-256 checked, as an app loads it
  const answers = [];
  for (const scene of scenes) {
    const response = await fetch(`${folder}/${scene.file}`);
    if (!response.ok) throw new Error(`${scene.file}: HTTP ${response.status}`);
    const pixels = new Uint8Array(await response.arrayBuffer());
    const t0 = performance.now();
    const a = await carspotter.twoPass(session, pixels, scene.width, scene.height, 3, scene.region);
    answers.push({ passes: a.passes, roi: a.roi, found: a.found, box: Array.from(a.box), top1: a.best.index,
                   probabilities: Array.from(a.probabilities), ms: performance.now() - t0 });
  }
  return answers;
}, args);
console.log(JSON.stringify(out));

// The npm package's model check in headless Chromium, as a web app loads the model: openSession(ort, url) fetches
// the model and checks its SHA-256 (Web Crypto) before onnxruntime-web parses it. The intact model loads and
// classifies golden photos; a copy with one byte changed (DAMAGED, a file under ROOT) is refused, from its URL and
// from its bytes.
//   node model_check_page.mjs CHROMIUM ROOT PKG BUNDLE DAMAGED   (PKG, BUNDLE and DAMAGED below ROOT)
// Prints one JSON object: the page's result, and console / page errors.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const [chromium, root, pkg, bundle, damaged] = process.argv.slice(2);
const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
const page = `<!doctype html><title>carspotter model check</title>
<script type="importmap">{"imports": {"onnxruntime-common": "/node_modules/onnxruntime-common/dist/esm/index.js",
                                      "onnxruntime-web": "/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs"}}</script>`;
const server = createServer(async (req, res) => {
  const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  try {
    const body = rel === '/' ? page : await readFile(path.join(root, rel));
    res.writeHead(200, { 'content-type': rel === '/' ? 'text/html' : types[path.extname(rel)] ?? 'application/octet-stream' });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const browser = await puppeteer.launch({ executablePath: chromium, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'] });
const out = { console: [], pageErrors: [] };
try {
  const tab = await browser.newPage();
  tab.on('console', (m) => { if (m.type() === 'error') out.console.push(m.text()); });
  tab.on('pageerror', (e) => out.pageErrors.push(String(e)));
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  const urls = { pkg: '/' + path.relative(root, pkg), bundle: '/' + path.relative(root, bundle),
                 damaged: '/' + path.relative(root, damaged) };
  out.result = await tab.evaluate(async ({ pkg, bundle, damaged }) => {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
    ort.env.wasm.numThreads = 1;
    const carspotter = await import(`${pkg}/index.js`);
    const modelUrl = `${pkg}/${carspotter.BUNDLE.model}`;
    const bytes = new Uint8Array(await (await fetch(modelUrl)).arrayBuffer());
    const refusals = [];
    for (const attempt of [() => carspotter.openSession(ort, damaged),
                           async () => carspotter.openSession(ort, new Uint8Array(await (await fetch(damaged)).arrayBuffer()))]) {
      try { await attempt(); refusals.push('loaded'); } catch (err) { refusals.push(String(err.message)); }
    }
    const session = await carspotter.openSession(ort, modelUrl);  // relative URL: fetched, checked, then created
    const expected = await (await fetch(`${bundle}/golden/expected.json`)).json();
    const tops = [];
    for (const photo of expected.photos.slice(0, 8)) {  // the exact inputs (PNG, lossless): the reference's pixels
      const bitmap = await createImageBitmap(await (await fetch(`${bundle}/${photo.input}`)).blob(),
        { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const context = canvas.getContext('2d', { willReadFrequently: true });
      context.drawImage(bitmap, 0, 0);
      const { data } = context.getImageData(0, 0, bitmap.width, bitmap.height);
      const result = await carspotter.classify(session, data, bitmap.width, bitmap.height, 4);
      tops.push(result.top.map((g) => g.index));
    }
    const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return { userAgent: navigator.userAgent, subtle: Boolean(globalThis.crypto?.subtle), refusals, tops,
             digests: { web: await carspotter.sha256Hex(bytes), js: hex(carspotter.sha256Js(bytes)),
                        bundle: carspotter.BUNDLE.modelSha256 } };
  }, urls);
} catch (err) {
  out.error = String(err?.stack ?? err);
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify(out));

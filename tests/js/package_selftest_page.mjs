// The bundle's npm package self-test in headless Chromium, as a web app runs it: onnxruntime-web (wasm), the
// browser's own decoding (createImageBitmap, EXIF applied, no colour conversion), the package's main entry loaded
// as ES modules through an import map (onnxruntime-common -> node_modules).
//   node package_selftest_page.mjs CHROMIUM ROOT PKG BUNDLE   (ROOT holds node_modules; PKG and BUNDLE below ROOT)
// Prints one JSON object: the self-test's result, and console / page errors.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const [chromium, root, pkg, bundle] = process.argv.slice(2);
const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
const page = `<!doctype html><title>carspotter self-test</title>
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
  const urls = { pkg: '/' + path.relative(root, pkg), bundle: '/' + path.relative(root, bundle) };
  out.result = await tab.evaluate(async ({ pkg, bundle }) => {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
    ort.env.wasm.numThreads = 1;
    const carspotter = await import(`${pkg}/index.js`);
    const session = await ort.InferenceSession.create(`${pkg}/${carspotter.BUNDLE.model}`);
    const fetchOk = async (rel) => {
      const r = await fetch(`${bundle}/${rel}`);
      if (!r.ok) throw new Error(`${rel}: HTTP ${r.status}`);
      return r;
    };
    const decode = async (rel) => {
      const bitmap = await createImageBitmap(await (await fetchOk(rel)).blob(),
        { imageOrientation: 'from-image', colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const context = canvas.getContext('2d', { willReadFrequently: true });
      context.drawImage(bitmap, 0, 0);
      return { pixels: context.getImageData(0, 0, bitmap.width, bitmap.height).data, width: bitmap.width,
               height: bitmap.height, channels: 4 };
    };
    const lines = [];
    const result = await carspotter.runSelfTest({
      run: (input) => carspotter.probabilities(session, input),
      readText: async (rel) => (await fetchOk(rel)).text(),
      readBytes: async (rel) => new Uint8Array(await (await fetchOk(rel)).arrayBuffer()),
      decode,
      log: (l) => lines.push(l),
    });
    const photo = await decode('golden/000.jpg');
    const answer = await carspotter.classify(session, photo.pixels, photo.width, photo.height, 4);
    return { ...result, lines, classify: { top: answer.top, show: answer.show }, userAgent: navigator.userAgent };
  }, urls);
} catch (err) {
  out.error = String(err);
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify(out));

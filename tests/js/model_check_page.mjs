// The npm package's model check in headless Chromium, as a web app loads the model: openSession(ort, url) fetches
// the model and checks its SHA-256 (Web Crypto) before onnxruntime-web parses it. The intact model loads and
// classifies golden photos; a copy with one byte changed (DAMAGED, a file under ROOT) is refused, from its URL and
// from its bytes.
//   node model_check_page.mjs CHROMIUM ROOT PKG BUNDLE DAMAGED   (PKG, BUNDLE and DAMAGED below ROOT)
// Prints one JSON object: the page's result, and console / page errors.
import { runInPage, urlOf } from './page_host.mjs';

const [chromium, root, pkg, bundle, damaged] = process.argv.slice(2);
const urls = { pkg: urlOf(root, pkg), bundle: urlOf(root, bundle), damaged: urlOf(root, damaged) };
const out = await runInPage(chromium, root, 'carspotter model check', async ({ pkg, bundle, damaged }) => {
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
console.log(JSON.stringify(out));

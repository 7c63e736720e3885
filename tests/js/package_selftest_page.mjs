// The bundle's npm package self-test in headless Chromium, as a web app runs it: onnxruntime-web (wasm), the
// browser's own decoding (createImageBitmap, EXIF applied, no colour conversion), the package's main entry loaded
// as ES modules through an import map (onnxruntime-common -> node_modules).
//   node package_selftest_page.mjs CHROMIUM ROOT PKG BUNDLE   (ROOT holds node_modules; PKG and BUNDLE below ROOT)
// Prints one JSON object: the self-test's result, and console / page errors.
import { runInPage, urlOf } from './page_host.mjs';

const [chromium, root, pkg, bundle] = process.argv.slice(2);
const urls = { pkg: urlOf(root, pkg), bundle: urlOf(root, bundle) };
const out = await runInPage(chromium, root, 'carspotter self-test', async ({ pkg, bundle }) => {
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
    run: (input) => carspotter.infer(session, input),  // probabilities, and the box of a model with a localizer
    readText: async (rel) => (await fetchOk(rel)).text(),
    readBytes: async (rel) => new Uint8Array(await (await fetchOk(rel)).arrayBuffer()),
    decode,
    log: (l) => lines.push(l),
  });
  const photo = await decode('golden/000.jpg');
  const answer = await carspotter.classify(session, photo.pixels, photo.width, photo.height, 4);
  // a crop UI's rectangle as a ROI: classify(..., roi) is the model on preprocess(..., roi); a bad ROI rejects
  const crop = { x: 1, y: 2, width: photo.width - 3, height: photo.height - 5 };
  const roi = [crop.x, crop.y, crop.x + crop.width, crop.y + crop.height];
  const inRoi = await carspotter.classify(session, photo.pixels, photo.width, photo.height, 4, roi);
  const direct = await carspotter.probabilities(session, carspotter.preprocess(photo.pixels, photo.width, photo.height, 4, roi));
  const whole = carspotter.preprocess(photo.pixels, photo.width, photo.height, 4);
  const cut = carspotter.preprocess(photo.pixels, photo.width, photo.height, 4, roi);
  let badRoi = null;
  try {
    await carspotter.classify(session, photo.pixels, photo.width, photo.height, 4, [0, 0, photo.width + 1, photo.height]);
  } catch (err) {
    badRoi = { name: err.name, message: err.message };
  }
  return { ...result, lines, classify: { top: answer.top, show: answer.show }, userAgent: navigator.userAgent,
           roi: { top: inRoi.top, same: inRoi.probabilities.every((p, i) => p === direct[i]),
                  differs: cut.some((v, i) => v !== whole[i]), badRoi } };
}, urls);
console.log(JSON.stringify(out));

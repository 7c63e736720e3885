// carspotter self-test for ONNX Runtime JavaScript: onnxruntime-node, onnxruntime-web, onnxruntime-react-native.
//
// It runs this bundle's golden set (../golden/) through the ONNX model with the runtime your app ships, twice:
//  1. exact path: the exact model inputs (golden/NNN.png, 299x299 RGB) -> the same top-3 rule as
//     `carspotter parity` against the reference's probabilities in golden/expected.json. A failure means
//     the runtime computes something else than the reference (wrong model file, broken runtime build,
//     input fed as BGR or normalized).
//  2. app path: the golden photos (golden/NNN.jpg) decoded, rotated by their EXIF orientation and stretched
//     to the input size by your image library. Photos whose reference top-1 margin is at least
//     expected.app_path.min_margin must keep their top-1; the others and the pixel drift are reported.
//     A failure means your app's decoding or resizing moves the answer (see the bundle README).
//
// Node:  npm install onnxruntime-node sharp   (in your project; ONNXRUNTIME_NODE_INSTALL=skip avoids GPU downloads)
//        node path/to/bundle/onnx/selftest.mjs [path/to/bundle] [--json]
//        exit code 0: passed, 1: failed, 2: could not run (missing package or file).
// Web / React Native: import { runSelfTest } from './selftest.mjs' and pass your ort module, a text reader and
//        two pixel loaders (see runSelfTest below); the checks are the same code.

/** Classes sorted by decreasing probability (ties keep index order, as numpy's stable argsort). */
export function topk(probs, k) {
  return Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b).slice(0, k);
}

/**
 * The top-3 rule of carspotter parity for one photo: for ranks 1..3 the candidate's class must be the
 * reference's, or one whose reference probability is within tau of it (a near-tie, counted).
 * @returns {{mismatchRank: number|null, nearTies: number, maxAbsDiff: number}}
 */
export function top3Rule(reference, candidate, tau) {
  const k = Math.min(3, reference.length);
  const ref = topk(reference, k);
  const cand = topk(candidate, k);
  let nearTies = 0;
  let mismatchRank = null;
  for (let r = 0; r < k; r++) {
    if (ref[r] === cand[r]) continue;
    if (Math.abs(reference[ref[r]] - reference[cand[r]]) < tau) { nearTies++; continue; }
    mismatchRank = r + 1;
    break;
  }
  let maxAbsDiff = 0;
  for (let c = 0; c < reference.length; c++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(reference[c] - candidate[c]));
  return { mismatchRank, nearTies, maxAbsDiff };
}

async function probabilities(ort, session, pixels, size) {
  const data = Float32Array.from(pixels);  // raw 0..255, NHWC: the model rescales inside itself
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [1, size, size, 3]) };
  const out = await session.run(feeds);
  return Array.from(out[session.outputNames[0]].data);
}

/**
 * Run both paths over the golden set.
 * @param {object} o
 * @param {object} o.ort            the onnxruntime module (onnxruntime-node, -web or -react-native)
 * @param {string|Uint8Array} o.model  the model path or bytes (onnx/carspotter.onnx)
 * @param {(rel: string) => Promise<string>} o.readText  reads a bundle file ("golden/expected.json")
 * @param {(rel: string, size: number) => Promise<Uint8Array>} o.loadExactPixels  the PNG's RGB bytes (size*size*3)
 * @param {(rel: string, size: number) => Promise<Uint8Array>} [o.loadAppPixels]  the JPEG decoded, EXIF-rotated and
 *        stretched to size x size by the app's own image library (RGB bytes); omit to skip the app path
 * @param {(line: string) => void} [o.log]
 * @returns {Promise<object>} {passed, exact: {...}, app: {...}|null}
 */
export async function runSelfTest({ ort, model, readText, loadExactPixels, loadAppPixels, log = console.log }) {
  const expected = JSON.parse(await readText('golden/expected.json'));
  const size = expected.input.shape[1];
  const fmt = expected.formats.onnx;
  const tol = expected.tolerances[fmt.precision];
  const session = await ort.InferenceSession.create(model);
  const exact = { photos: 0, mismatches: [], nearTies: 0, maxAbsDiff: 0, top1Agreement: 0, tau: tol.tau,
                  maxAbsDiffLimit: tol.max_abs_diff };
  const app = loadAppPixels ? { photos: 0, top1Agreement: 0, decisive: 0, decisiveFlips: [], maxAbsDiff: 0,
                                meanPixelDrift: 0, maxPixelDrift: 0, minMargin: expected.app_path.min_margin } : null;
  for (const photo of expected.photos) {
    const reference = photo.probabilities;
    const refTop1 = topk(reference, 1)[0];
    const exactPixels = await loadExactPixels(photo.input, size);
    const q = await probabilities(ort, session, exactPixels, size);
    const r = top3Rule(reference, q, tol.tau);
    exact.photos++;
    exact.nearTies += r.nearTies;
    exact.maxAbsDiff = Math.max(exact.maxAbsDiff, r.maxAbsDiff);
    exact.top1Agreement += topk(q, 1)[0] === refTop1 ? 1 : 0;
    if (r.mismatchRank !== null) exact.mismatches.push({ photo: photo.photo, rank: r.mismatchRank });
    if (!app) continue;
    const appPixels = await loadAppPixels(photo.photo, size);
    const a = await probabilities(ort, session, appPixels, size);
    let drift = 0;
    for (let i = 0; i < appPixels.length; i++) {
      const d = Math.abs(appPixels[i] - exactPixels[i]);
      drift += d;
      app.maxPixelDrift = Math.max(app.maxPixelDrift, d);
    }
    app.meanPixelDrift += drift / appPixels.length;
    app.photos++;
    const same = topk(a, 1)[0] === refTop1;
    app.top1Agreement += same ? 1 : 0;
    app.maxAbsDiff = Math.max(app.maxAbsDiff, top3Rule(reference, a, 0).maxAbsDiff);
    if (photo.margin >= app.minMargin) {
      app.decisive++;
      if (!same) app.decisiveFlips.push({ photo: photo.photo, reference: expected.labels[refTop1],
                                          app: expected.labels[topk(a, 1)[0]], margin: photo.margin });
    }
  }
  exact.top1Agreement /= exact.photos;
  exact.passed = exact.mismatches.length === 0 && exact.maxAbsDiff <= exact.maxAbsDiffLimit;
  log(`exact path: ${exact.passed ? 'PASS' : 'FAIL'} on ${exact.photos} photos; top-1 agreement ` +
      `${(100 * exact.top1Agreement).toFixed(2)}%; near-ties ${exact.nearTies}; max |dp| ${exact.maxAbsDiff.toExponential(2)} ` +
      `(limit ${exact.maxAbsDiffLimit})`);
  for (const m of exact.mismatches) log(`  ${m.photo}: rank ${m.rank} differs from the reference`);
  if (app) {
    app.top1Agreement /= app.photos;
    app.meanPixelDrift /= app.photos;
    app.passed = app.decisiveFlips.length === 0;
    log(`app path: ${app.passed ? 'PASS' : 'FAIL'} on ${app.photos} photos; top-1 agreement ` +
        `${(100 * app.top1Agreement).toFixed(2)}%; ${app.decisive} decisive photos (margin >= ${app.minMargin}), ` +
        `${app.decisiveFlips.length} flipped; max |dp| ${app.maxAbsDiff.toFixed(3)}; pixel drift mean ` +
        `${app.meanPixelDrift.toFixed(2)} / max ${app.maxPixelDrift} levels`);
    for (const f of app.decisiveFlips) log(`  ${f.photo}: ${f.app} instead of ${f.reference} (margin ${f.margin.toFixed(3)})`);
  }
  return { passed: exact.passed && (!app || app.passed), exact, app };
}

async function main() {
  const path = await import('node:path');
  const fs = await import('node:fs/promises');
  const { createRequire } = await import('node:module');
  const { fileURLToPath } = await import('node:url');
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const bundle = args.find((a) => !a.startsWith('--')) ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
  const require = createRequire(path.join(process.cwd(), 'selftest-resolver.js'));  // packages from the caller's project
  let ort, sharp;
  try {
    ort = require('onnxruntime-node');
    sharp = require('sharp');
  } catch (err) {
    console.error(`selftest: ${err.message.split('\n')[0]}; run it from a project with onnxruntime-node and sharp installed`);
    process.exit(2);
  }
  const rgb = async (image, rel, size) => {
    const { data, info } = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.width !== size || info.height !== size || info.channels !== 3) {
      throw new Error(`${rel}: ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  };
  let result;
  try {
    const expected = JSON.parse(await fs.readFile(path.join(bundle, 'golden', 'expected.json'), 'utf8'));
    result = await runSelfTest({
      ort,
      model: path.join(bundle, expected.formats.onnx.path),
      readText: (rel) => fs.readFile(path.join(bundle, rel), 'utf8'),
      loadExactPixels: (rel, size) => rgb(sharp(path.join(bundle, rel)), rel, size),
      // What a Node app does with a photo: decode, apply EXIF orientation, stretch (sharp's defaults).
      loadAppPixels: (rel, size) => rgb(sharp(path.join(bundle, rel)).rotate().resize(size, size, { fit: 'fill' }), rel, size),
    });
  } catch (err) {
    console.error(`selftest: ${err.message.split('\n')[0]}`);
    process.exit(2);
  }
  result.runtime = `onnxruntime-node ${ort.env?.versions?.node ?? ''}, sharp ${sharp.versions?.sharp ?? ''} (libvips ${sharp.versions?.vips ?? ''})`;
  if (json) console.log(JSON.stringify(result));
  console.log(`selftest: ${result.passed ? 'PASS' : 'FAIL'} (${result.runtime})`);
  process.exit(result.passed ? 0 : 1);
}

if (typeof process !== 'undefined' && process.argv?.[1] && import.meta.url.endsWith(process.argv[1].split(/[\\/]/).pop())) {
  main();
}

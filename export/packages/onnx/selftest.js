// The self-test's checks, platform-neutral (only the package's own modules): resize vectors bit for bit (EXIF
// orientations and regions of interest included), the bad ROIs refused, the two-pass box vectors, the golden set
// through the same top-3 rule as `carspotter parity`, and the model's box output on the golden inputs when the golden
// set has the reference's boxes. ./node.js runs them in Node; a web or React Native app passes its own file reader
// and photo decoder to runSelfTest.
import { checkRoi, compositeOnWhite, resize, upright } from './resize.js';
import { boxToRoi, needsSecondPass } from './twopass.js';

/** Largest |difference| of a box coordinate (0..1 of the input) between the model's "box" output and the reference's
 * on the golden inputs: 1 % of a side (carspotter.parity.checks.BOX_TOLERANCE). */
export const BOX_TOLERANCE = 0.01;

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

/**
 * A binary PPM (P6) or PAM (P7) file, as the resize vectors are stored.
 * @param {Uint8Array} bytes
 * @returns {{width: number, height: number, channels: number, pixels: Uint8Array}}
 */
export function parsePnm(bytes) {
  const text = (a, b) => String.fromCharCode(...bytes.subarray(a, b));
  const magic = text(0, 2);
  if (magic === 'P6') {
    let pos = 2;
    const fields = [];
    while (fields.length < 3) {
      while (/\s/.test(text(pos, pos + 1))) pos++;
      const start = pos;
      while (!/\s/.test(text(pos, pos + 1))) pos++;
      fields.push(Number(text(start, pos)));
    }
    const [width, height] = fields;
    return { width, height, channels: 3, pixels: bytes.subarray(pos + 1, pos + 1 + width * height * 3) };
  }
  if (magic === 'P7') {
    let end = 0;
    while (text(end, end + 7) !== 'ENDHDR\n') end++;
    const head = Object.fromEntries(text(3, end).trim().split('\n').map((l) => l.split(' ')));
    const width = Number(head.WIDTH), height = Number(head.HEIGHT), channels = Number(head.DEPTH);
    return { width, height, channels, pixels: bytes.subarray(end + 7, end + 7 + width * height * channels) };
  }
  throw new Error(`not a P6 or P7 image (starts with ${JSON.stringify(magic)})`);
}

/**
 * A resize vector's photo that is generated, not stored (photo column "gen:SEED"; a 12 MP frame would be 36 MB):
 * for pixel (x, y), channel c, in unsigned 32-bit arithmetic, z = (y * width + x) * 3 + c + seed * 0x9E3779B9,
 * then MurmurHash3's fmix32; value = clamp(base + z % 81 - 40, 0, 255), base = x * 255 / (width - 1) (c = 0),
 * y * 255 / (height - 1) (c = 1), ((x / 7 + y / 5) % 2) * 200 + 20 (c = 2), integer divisions.
 * Same as carspotter.contracts.resize_vectors.generated_photo.
 * @returns {Uint8Array} width*height*3 RGB bytes
 */
export function generatedPhoto(width, height, seed) {
  const out = new Uint8Array(width * height * 3);
  const s = Math.imul(seed, 0x9E3779B9) >>> 0;
  const dx = Math.max(1, width - 1), dy = Math.max(1, height - 1);
  for (let y = 0, i = 0; y < height; y++) {
    const g = Math.floor((y * 255) / dy);
    for (let x = 0; x < width; x++) {
      const bases = [Math.floor((x * 255) / dx), g, ((Math.floor(x / 7) + Math.floor(y / 5)) % 2) * 200 + 20];
      for (let c = 0; c < 3; c++, i++) {
        let z = (i + s) >>> 0;
        z = Math.imul(z ^ (z >>> 16), 0x85EBCA6B) >>> 0;
        z = Math.imul(z ^ (z >>> 13), 0xC2B2AE35) >>> 0;
        z = (z ^ (z >>> 16)) >>> 0;
        out[i] = Math.min(255, Math.max(0, bases[c] + (z % 81) - 40));
      }
    }
  }
  return out;
}

/** The rows of a golden index file: its lines, comment lines skipped, split at tabs. */
function indexRows(text) {
  return text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t'));
}

/**
 * Every resize vector of the golden set through upright() and resize(), compared byte for byte. golden/resize/
 * vectors.txt has 10 columns (name, photo, expected, width, height, channels, S, sha256, orientation 1..8 of the
 * stored photo, ROI "x0,y0,x1,y1" in the upright photo or "-"); a file written before ROIs has the first 8
 * (orientation 1, no ROI). Each photo is made upright, then its ROI is cut, then resized.
 * @param {(rel: string) => Promise<string>} readText
 * @param {(rel: string) => Promise<Uint8Array>} readBytes
 * @returns {Promise<{passed: boolean, withRois: boolean, vectors: {name: string, differing: number, maxDiff: number}[]}>}
 *   withRois: the file has the 10 columns (its golden set has bad_rois.txt and the box vectors too)
 */
export async function checkResizeVectors(readText, readBytes) {
  const rows = indexRows(await readText('golden/resize/vectors.txt'));
  const vectors = [];
  let withRois = rows.length > 0;
  for (const row of rows) {
    if (row.length !== 8 && row.length !== 10) {
      throw new Error(`golden/resize/vectors.txt: row ${JSON.stringify(row[0])} has ${row.length} fields, not 10; re-export the bundle`);
    }
    withRois &&= row.length === 10;
    const [name, photo, expected, width, height, , size, , orientation = '1', roi = '-'] = row;
    const p = photo.startsWith('gen:')
      ? { width: Number(width), height: Number(height), channels: 3,
          pixels: generatedPhoto(Number(width), Number(height), Number(photo.slice(4))) }
      : parsePnm(await readBytes(`golden/resize/${photo}`));
    const want = parsePnm(await readBytes(`golden/resize/${expected}`)).pixels;
    const up = upright(p.pixels, p.width, p.height, p.channels, Number(orientation));
    const got = resize(up.pixels, up.width, up.height, p.channels, Number(size), roi === '-' ? null : roi.split(',').map(Number));
    let differing = 0, maxDiff = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i] - want[i]);
      if (d) { differing++; maxDiff = Math.max(maxDiff, d); }
    }
    if (got.length !== want.length) { differing = want.length; maxDiff = 255; }
    vectors.push({ name, differing, maxDiff });
  }
  return { passed: vectors.length > 0 && vectors.every((v) => v.differing === 0), withRois, vectors };
}

/**
 * golden/resize/bad_rois.txt through checkRoi: every ROI of kind "ok" accepted, every other refused with a RoiError
 * whose message is one line. Each ROI is checked twice: its four values as the file writes them ("NaN", "10.5",
 * "12.0") and as the numbers JavaScript makes of them (Number(text)).
 * @param {(rel: string) => Promise<string>} readText
 * @returns {Promise<{passed: boolean, rois: number, wrong: {line: string, got: string}[]}>}
 */
export async function checkBadRois(readText) {
  const rows = indexRows(await readText('golden/resize/bad_rois.txt'));
  const wrong = [];
  for (const row of rows) {
    const [width, height, x0, y0, x1, y1, kind] = row;
    for (const roi of [[x0, y0, x1, y1], [x0, y0, x1, y1].map(Number)]) {
      let got = 'ok';
      try {
        checkRoi(roi, Number(width), Number(height));
      } catch (err) {
        got = err?.name === 'RoiError' && !String(err.message).includes('\n') ? 'refused' : `threw ${String(err)}`;
      }
      if (got !== (kind === 'ok' ? 'ok' : 'refused')) {
        wrong.push({ line: row.join('\t'), got: `${got} (${roi.map((v) => typeof v).join(',')})` });
      }
    }
  }
  return { passed: rows.length > 0 && wrong.length === 0, rois: rows.length, wrong };
}

/** A float32 from its 8 hex digits (IEEE 754 bits, big-endian), exactly. */
function float32OfBits(hex) {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, parseInt(hex, 16) >>> 0);
  return view.getFloat32(0);
}

/**
 * golden/two_pass/box_vectors.txt through boxToRoi and needsSecondPass: every row's ROI ("-" for none) and pass
 * (1 or 2) as the reference's. Columns: region "x0,y0,x1,y1", box (4 float32 bit patterns, hex), box in decimal,
 * roi, pass.
 * @param {(rel: string) => Promise<string>} readText
 * @returns {Promise<{passed: boolean, rows: number, wrong: {line: string, roi: string, pass: number}[]}>}
 */
export async function checkBoxVectors(readText) {
  const rows = indexRows(await readText('golden/two_pass/box_vectors.txt'));
  const wrong = [];
  for (const row of rows) {
    if (row.length !== 5) throw new Error(`golden/two_pass/box_vectors.txt: malformed row ${JSON.stringify(row.join('\t').slice(0, 60))}`);
    const [regionText, bits, , roiText, passText] = row;
    const r = regionText.split(',').map(Number);
    const region = { x0: r[0], y0: r[1], x1: r[2], y1: r[3] };
    const box = Float32Array.from(bits.split(',').map(float32OfBits));
    const roi = boxToRoi(box, region);
    const pass = needsSecondPass(roi, region) ? 2 : 1;
    const text = roi ? `${roi.x0},${roi.y0},${roi.x1},${roi.y1}` : '-';
    if (text !== roiText || String(pass) !== passText) wrong.push({ line: row.join('\t'), roi: text, pass });
  }
  return { passed: rows.length > 0 && wrong.length === 0, rows: rows.length, wrong };
}

/** A run's answer as {probabilities, box}: run may give the probabilities alone, or infer()'s {probabilities, box}. */
function outputsOf(answer) {
  return ArrayBuffer.isView(answer) || Array.isArray(answer) ? { probabilities: answer, box: null }
    : { probabilities: answer.probabilities, box: answer.box ?? null };
}

/**
 * The model's box output on the golden set's exact inputs against the reference's (golden/expected.json's "box" per
 * photo): max |difference| <= BOX_TOLERANCE, and how often the box logic makes the same ROI of both on a 4032 x 3024
 * photo. Skipped (passed) when the golden set has no boxes (a run without a localizer).
 * @param {{box?: number[]}[]} photos golden/expected.json's photos
 * @param {(Float32Array|null)[]} boxes the model's box for each photo (null: run gave none)
 */
export function checkBoxOutput(photos, boxes) {
  const want = photos.map((p, i) => [p.box, boxes[i]]).filter(([w]) => Array.isArray(w));
  if (want.length === 0) return { passed: true, skipped: 'the golden set has no boxes (its run has no localizer)' };
  if (want.some(([, got]) => !got || got.length !== 4)) {
    return { passed: false, photos: want.length, reason: 'the golden set has the reference\'s boxes but the model gave ' +
             'no "box" output: use the bundle\'s own model, and pass run: (input) => infer(session, input)' };
  }
  const photo = { x0: 0, y0: 0, x1: 4032, y1: 3024 };
  const key = (r) => (r ? `${r.x0},${r.y0},${r.x1},${r.y1}` : '-');
  let maxAbsDiff = 0, sameRoi = 0;
  for (const [w, got] of want) {
    for (let i = 0; i < 4; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(w[i] - got[i]));
    sameRoi += key(boxToRoi(w, photo)) === key(boxToRoi(got, photo)) ? 1 : 0;
  }
  return { passed: maxAbsDiff <= BOX_TOLERANCE, photos: want.length, maxAbsDiff, tolerance: BOX_TOLERANCE, sameRoi };
}

/**
 * The self-test: resize vectors, bad ROIs and box vectors, then the golden set twice through the app's session.
 *  - exact path: golden/NNN.png (the reference's exact inputs) -> model: the runtime computes what the reference does;
 *  - package path: golden/NNN.jpg decoded by the app's decoder (EXIF applied) -> preprocess() -> model: decoding and
 *    resizing give the reference's answers.
 * Both must pass the top-3 rule of `carspotter parity` (tolerances of golden/expected.json) on every photo. When the
 * golden photos carry the reference's box (a run with a localizer), the model's box output on the exact inputs must
 * be within BOX_TOLERANCE of it (checkBoxOutput); `run` then gives infer()'s {probabilities, box}.
 * @param {object} o
 * @param {(input: Float32Array) => Promise<Float32Array|{probabilities: Float32Array, box: Float32Array|null}>} o.run
 *        the model on one [1, S, S, 3] input: its probabilities, or infer(session, input)
 * @param {(rel: string) => Promise<string>} o.readText               reads a bundle file
 * @param {(rel: string) => Promise<Uint8Array>} o.readBytes          reads a bundle file
 * @param {(rel: string) => Promise<{pixels: Uint8Array|Uint8ClampedArray, width: number, height: number, channels: number}>} o.decode
 *        decodes a photo file of the bundle, upright (the app's own decoder)
 * @param {(line: string) => void} [o.log]
 * @returns {Promise<{passed: boolean, resize: object, rois: object, boxes: object, boxOutput: object, exact: object,
 *   package: object}>}
 */
export async function runSelfTest({ run, readText, readBytes, decode, log = console.log }) {
  const expected = JSON.parse(await readText('golden/expected.json'));
  const size = expected.input.shape[1];
  const fmt = expected.formats.onnx;
  const tol = expected.tolerances[fmt.device_precision ?? fmt.precision];
  const vectors = await checkResizeVectors(readText, readBytes);
  log(`resize vectors: ${vectors.passed ? 'PASS' : 'FAIL'} (${vectors.vectors.length} vectors, ` +
      `${vectors.vectors.filter((v) => v.differing === 0).length} bit-exact)`);
  for (const v of vectors.vectors) if (v.differing) log(`  ${v.name}: ${v.differing} values differ, max ${v.maxDiff} levels`);
  // a golden set written with ROIs (10-column vectors) has the bad ROIs and the box vectors; an older one has neither
  const skipped = { passed: true, skipped: 'the golden set predates regions of interest (8-column vectors.txt)' };
  const rois = vectors.withRois ? await checkBadRois(readText) : skipped;
  const boxes = vectors.withRois ? await checkBoxVectors(readText) : skipped;
  if (rois.skipped) log(`bad ROIs, box vectors: skipped (${rois.skipped})`);
  else {
    log(`bad ROIs: ${rois.passed ? 'PASS' : 'FAIL'} (${rois.rois} ROIs, each refused or accepted as its kind says)`);
    for (const w of rois.wrong) log(`  ${w.line.replace(/\t/g, ' ')}: ${w.got}`);
    log(`box vectors: ${boxes.passed ? 'PASS' : 'FAIL'} (${boxes.rows} rows, ${boxes.rows - boxes.wrong.length} agree)`);
    for (const w of boxes.wrong) log(`  ${w.line.replace(/\t/g, ' ')}: got ${w.roi}, pass ${w.pass}`);
  }
  const paths = { exact: newPath(tol), package: { ...newPath(tol), meanPixelDrift: 0, maxPixelDrift: 0 } };
  const modelBoxes = [];
  for (const photo of expected.photos) {
    const reference = photo.probabilities;
    const png = await decode(photo.input);
    if (png.width !== size || png.height !== size) throw new Error(`${photo.input}: ${png.width}x${png.height}, not ${size}x${size}`);
    const exactInput = png.channels === 4 ? compositeOnWhite(png.pixels) : Uint8Array.from(png.pixels);
    const jpg = await decode(photo.photo);
    const input = resize(jpg.pixels, jpg.width, jpg.height, jpg.channels, size);
    let drift = 0;
    for (let i = 0; i < input.length; i++) {
      const d = Math.abs(input[i] - exactInput[i]);
      drift += d;
      paths.package.maxPixelDrift = Math.max(paths.package.maxPixelDrift, d);
    }
    paths.package.meanPixelDrift += drift / input.length / expected.photos.length;
    const exact = outputsOf(await run(Float32Array.from(exactInput)));
    modelBoxes.push(exact.box);
    score(paths.exact, photo, reference, exact.probabilities, tol.tau);
    score(paths.package, photo, reference, outputsOf(await run(Float32Array.from(input))).probabilities, tol.tau);
  }
  for (const [name, p] of Object.entries(paths)) {
    p.top1Agreement /= p.photos;
    p.passed = p.mismatches.length === 0 && p.maxAbsDiff <= p.maxAbsDiffLimit;
    log(`${name} path: ${p.passed ? 'PASS' : 'FAIL'} on ${p.photos} photos; top-1 agreement ` +
        `${(100 * p.top1Agreement).toFixed(2)}%; near-ties ${p.nearTies}; max |dp| ${p.maxAbsDiff.toExponential(2)} ` +
        `(limit ${p.maxAbsDiffLimit})` + (name === 'package' ? `; pixel drift mean ${p.meanPixelDrift.toFixed(3)} / max ` +
        `${p.maxPixelDrift} levels` : ''));
    for (const m of p.mismatches) log(`  ${m.photo}: rank ${m.rank} differs from the reference`);
  }
  const boxOutput = checkBoxOutput(expected.photos, modelBoxes);
  if (boxOutput.skipped) log(`box output: skipped (${boxOutput.skipped})`);
  else if (boxOutput.reason) log(`box output: FAIL (${boxOutput.reason})`);
  else {
    log(`box output: ${boxOutput.passed ? 'PASS' : 'FAIL'} on ${boxOutput.photos} photos; max |d| ` +
        `${boxOutput.maxAbsDiff.toExponential(2)} (limit ${BOX_TOLERANCE}); the same 12 MP ROI on ` +
        `${boxOutput.sameRoi}/${boxOutput.photos}`);
  }
  return { passed: vectors.passed && rois.passed && boxes.passed && boxOutput.passed && paths.exact.passed &&
           paths.package.passed, resize: vectors, rois, boxes, boxOutput, ...paths };
}

function newPath(tol) {
  return { photos: 0, mismatches: [], nearTies: 0, maxAbsDiff: 0, top1Agreement: 0, tau: tol.tau, maxAbsDiffLimit: tol.max_abs_diff };
}

function score(path, photo, reference, probs, tau) {
  const r = top3Rule(reference, probs, tau);
  path.photos++;
  path.nearTies += r.nearTies;
  path.maxAbsDiff = Math.max(path.maxAbsDiff, r.maxAbsDiff);
  path.top1Agreement += topk(probs, 1)[0] === topk(reference, 1)[0] ? 1 : 0;
  if (r.mismatchRank !== null) path.mismatches.push({ photo: photo.photo, rank: r.mismatchRank });
}

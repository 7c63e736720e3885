// carspotter: the bundle's car classifier for ONNX Runtime JavaScript (onnxruntime-web, -node, -react-native).
// This entry imports nothing Node-only: it loads in browsers, Node and React Native. Reading files with sharp
// lives in "./node.js" (import from '<package>/node').
import { Tensor } from 'onnxruntime-common';
import BUNDLE from './bundle.js';
import { checkRoi, resize } from './resize.js';
import { topk } from './selftest.js';
import { boxToRoi, needsSecondPass } from './twopass.js';

export { resize, bilinear, boxReduce, boxFactors, inverseMatrix, compositeOnWhite, upright, checkRoi, cutRoi, RoiError,
  ROI_RULE } from './resize.js';
export { boxToRoi, needsSecondPass, MIN_BOX_SIDE, SECOND_PASS_BELOW, BOX_RULE } from './twopass.js';
export { topk, top3Rule, parsePnm, generatedPhoto, checkResizeVectors, checkBadRois, checkBoxVectors, checkBoxOutput,
  BOX_TOLERANCE, runSelfTest } from './selftest.js';

/** This bundle: labels, input side, threshold, "not a car" class, model file name (see bundle.js). */
export { BUNDLE };
/** Input side S of the model (pixels). */
export const SIZE = BUNDLE.size;
/** Class names, index k = output k. */
export const LABELS = BUNDLE.labels;

/**
 * The model input for an upright photo, or for its region of interest, exactly as carspotter's reference makes it.
 * @param {Uint8Array|Uint8ClampedArray} pixels row-major, `channels` bytes per pixel, EXIF orientation applied
 * @param {number} width
 * @param {number} height
 * @param {3|4} channels 3 RGB, 4 RGBA (e.g. canvas ImageData.data; transparency composited on white)
 * @param {Array<number>|{x0: number, y0: number, x1: number, y1: number}|string|null} [roi] the region to classify:
 *   x0, y0, x1, y1 in whole pixels of these upright pixels, half-open (see checkRoi); absent or null: the whole photo.
 *   Its pixels are cut at full resolution, then resized as if they were the photo.
 * @returns {Float32Array} [1, S, S, 3] NHWC, values 0..255 (the model rescales inside itself)
 * @throws {RoiError} a ROI that is not whole pixels inside the photo (one line naming the ROI, the photo's size and
 *   the rule; nothing is clipped)
 */
export function preprocess(pixels, width, height, channels, roi = null) {
  return Float32Array.from(resize(pixels, width, height, channels, SIZE, roi));
}

/**
 * An InferenceSession of this bundle's model in the app's own ONNX Runtime, from the model's bytes or its location,
 * after checking the bytes are this package's model: their SHA-256 must be bundle.js's `modelSha256` (a damaged,
 * truncated or substituted download is refused before ONNX Runtime parses it). The session is made from the bytes
 * that were checked. Bytes are what React Native release builds need: there the model file inside the app bundle
 * cannot be opened by path (onnxruntime issue 26738). See README.md, "Loading the model file".
 * @param {{InferenceSession: {create: Function}}} ort the runtime module the app imports (onnxruntime-web,
 *   onnxruntime-node or onnxruntime-react-native): `import * as ort from 'onnxruntime-react-native'`
 * @param {Uint8Array|ArrayBuffer|string} model the model file's bytes (`base64ToBytes` for a base64 string), or its
 *   URL (fetched: http(s), blob, data, or relative to a web page) or its file path / `file://` URI (read with
 *   `options.readBytes`; in Node, `openFile` from '<package>/node' reads it)
 * @param {object} [options] ort.InferenceSession.SessionOptions (execution providers etc.), and carspotter's own:
 *   `readBytes(location)` (async, the bytes of a path or URI the app reads itself), `sha256` (the hex digest to
 *   expect instead of `modelSha256`, e.g. for carspotter.ort: manifest.json's), `verify: false` (skip the check:
 *   unsafe, a damaged or foreign model then loads; the location goes to ONNX Runtime as it is)
 * @returns {Promise<object>} the session, for `classify` and `probabilities`
 * @throws {TypeError} a model that is neither bytes nor a string, no bytes at all, or a location this runtime cannot
 *   read without `readBytes` (one line, naming what it got)
 * @throws {Error} the bytes' SHA-256 is not the expected one (one line, naming both digests)
 */
export async function openSession(ort, model, options = {}) {
  if (!ort || !ort.InferenceSession || typeof ort.InferenceSession.create !== 'function') {
    throw new TypeError("carspotter: openSession's first argument is the ONNX Runtime module (import * as ort from 'onnxruntime-web')");
  }
  const { verify = true, readBytes, sha256, ...sessionOptions } = options ?? {};
  if (typeof model === 'string') {
    if (verify === false) return ort.InferenceSession.create(model, sessionOptions);
    model = await readModel(model, readBytes);
  }
  const bytes = modelBytes(model);
  if (verify !== false) await verifyModel(bytes, sha256 ?? BUNDLE.modelSha256);
  return ort.InferenceSession.create(bytes, sessionOptions);
}

/** The model's bytes as a Uint8Array view (no copy); TypeError for anything else or no bytes. */
function modelBytes(model) {
  let bytes;
  if (model instanceof ArrayBuffer) bytes = new Uint8Array(model);
  else if (ArrayBuffer.isView(model)) bytes = new Uint8Array(model.buffer, model.byteOffset, model.byteLength);
  else {
    const got = model === null ? 'null' : typeof model === 'object' ? (model.constructor?.name ?? 'object') : typeof model;
    throw new TypeError(`carspotter: the model must be its bytes (Uint8Array or ArrayBuffer) or its URL / file path, got ${got}` +
                        ' (an expo-asset Asset: read asset.localUri, see README.md)');
  }
  if (bytes.byteLength === 0) throw new TypeError(`carspotter: the model's bytes are empty; read ${BUNDLE.model} whole`);
  return bytes;
}

/** The bytes at `location`: the app's `readBytes`, else `fetch` for a URL a web runtime can fetch. */
async function readModel(location, readBytes) {
  if (typeof readBytes === 'function') return readBytes(location);
  const page = typeof globalThis.location?.href === 'string';  // a web page or worker: relative URLs resolve
  if (typeof globalThis.fetch === 'function' && (/^(https?|blob|data):/i.test(location) || page)) {
    const response = await globalThis.fetch(location);
    if (!response.ok) throw new TypeError(`carspotter: cannot fetch the model at ${location}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
  throw new TypeError(`carspotter: cannot read ${location} here to check its sha256: pass the model's bytes, ` +
                      "options.readBytes, or in Node openFile from '<package>/node' ({ verify: false } skips the check, unsafe)");
}

/**
 * Check a model's bytes against the SHA-256 this package expects.
 * @param {Uint8Array|ArrayBuffer} bytes
 * @param {string} [expected] hex digest (default bundle.js's `modelSha256`)
 * @returns {Promise<string>} the digest (hex)
 * @throws {Error} they differ (one line: "refused the model: its sha256 is FOUND, bundle.js expects EXPECTED")
 */
export async function verifyModel(bytes, expected = BUNDLE.modelSha256) {
  const found = await sha256Hex(bytes);
  if (found !== String(expected).toLowerCase()) {
    throw new Error(`carspotter: refused the model: its sha256 is ${found}, bundle.js expects ${expected} ` +
                    '(damaged, incomplete or another model; download it again)');
  }
  return found;
}

/**
 * SHA-256 of bytes as 64 hex digits: Web Crypto (`crypto.subtle.digest`: browsers, Node 19+) where there is one,
 * else the plain JavaScript below (React Native's Hermes, Node 18): about 80 MiB/s in Node 20's V8 on one x86 core
 * (measured where the package is built), so about 1 s for a 90 MiB model; expect it slower in Hermes on a phone.
 * @param {Uint8Array|ArrayBuffer} bytes
 * @returns {Promise<string>}
 */
export async function sha256Hex(bytes) {
  const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const subtle = globalThis.crypto?.subtle;
  const digest = subtle ? new Uint8Array(await subtle.digest('SHA-256', view)) : sha256Js(view);
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);

/** SHA-256 (FIPS 180-4) in plain JavaScript, for runtimes without Web Crypto. */
export function sha256Js(bytes) {
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const n = bytes.length;
  const tail = new Uint8Array((n % 64) + 9 > 64 ? 128 : 64);  // the last partial block, 0x80, zeros, the bit length
  tail.set(bytes.subarray(n - (n % 64)));
  tail[n % 64] = 0x80;
  const bits = n * 8;
  const view = new DataView(tail.buffer);
  view.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
  view.setUint32(tail.length - 4, bits >>> 0);
  const block = (src, at) => {
    for (let i = 0; i < 16; i += 1) w[i] = (src[at + 4 * i] << 24) | (src[at + 4 * i + 1] << 16) | (src[at + 4 * i + 2] << 8) | src[at + 4 * i + 3];
    for (let i = 16; i < 64; i += 1) {
      const a = w[i - 15], b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (let i = 0; i < 64; i += 1) {
      const t1 = (k + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
  };
  for (let at = 0; at + 64 <= n; at += 64) block(bytes, at);
  for (let at = 0; at < tail.length; at += 64) block(tail, at);
  const out = new Uint8Array(32);
  const view32 = new DataView(out.buffer);
  for (let i = 0; i < 8; i += 1) view32.setUint32(4 * i, h[i]);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Bytes of a base64 string (what expo-file-system's readAsStringAsync(uri, {encoding: 'base64'}) and react-native-fs'
 * readFile(path, 'base64') give), in plain JavaScript (no Buffer or atob needed). Whitespace and padding are ignored.
 * @param {string} text
 * @returns {Uint8Array}
 * @throws {TypeError} a character outside the base64 alphabet
 */
export function base64ToBytes(text) {
  const clean = String(text).replace(/[\s=]+/g, '').replace(/-/g, '+').replace(/_/g, '/');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (let i = 0; i < clean.length; i += 1) {
    const v = B64.indexOf(clean[i]);
    if (v < 0) throw new TypeError(`carspotter: not base64: ${JSON.stringify(clean[i])} at ${i}`);
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o] = (value >> bits) & 0xff;
      o += 1;
    }
  }
  return out.subarray(0, o);
}

/** The model's outputs by name: class probabilities [1, C], and the car's box [1, 4] (x0, y0, x1, y1 in 0..1 of the
 * input) in a model exported from a run with a localizer (`carspotter localize RUN`). */
export const PROBABILITIES_OUTPUT = 'probabilities';
export const BOX_OUTPUT = 'box';

/**
 * Whether the session's model has the localizer's "box" output, which twoPass needs.
 * @param {object} session an ort.InferenceSession
 * @returns {boolean}
 */
export function hasBox(session) {
  return Array.from(session?.outputNames ?? []).includes(BOX_OUTPUT);
}

/**
 * The model once on one [1, S, S, 3] input: its probabilities (the "probabilities" output, else the first), and its
 * box (the "box" output) or null when the model has none.
 * @returns {Promise<{probabilities: Float32Array, box: Float32Array|null}>}
 */
export async function infer(session, input) {
  const feeds = { [session.inputNames[0]]: new Tensor('float32', input, [1, SIZE, SIZE, 3]) };
  const out = await session.run(feeds);
  const names = Array.from(session.outputNames ?? []);
  const probs = out[names.includes(PROBABILITIES_OUTPUT) ? PROBABILITIES_OUTPUT : names[0]];
  return { probabilities: Float32Array.from(probs.data), box: out[BOX_OUTPUT] ? Float32Array.from(out[BOX_OUTPUT].data) : null };
}

/** Probabilities 0..1 for one [1, S, S, 3] input (the model's "probabilities" output, else its first). */
export async function probabilities(session, input) {
  return (await infer(session, input)).probabilities;
}

/**
 * Classify one upright photo, or the region of interest `roi` of it.
 * @param {object} session an ort.InferenceSession of this bundle's model (onnxruntime-web, -node or -react-native)
 * @param {Uint8Array|Uint8ClampedArray} pixels see preprocess
 * @param {number} width
 * @param {number} height
 * @param {3|4} channels
 * @param {Array<number>|{x0: number, y0: number, x1: number, y1: number}|string|null} [roi] see preprocess: x0, y0,
 *   x1, y1 in these upright pixels (a crop UI's {x, y, width, height} is [x, y, x + width, y + height]); a bad ROI
 *   rejects with a RoiError before the model runs
 * @returns {Promise<{top: {index: number, label: string, probability: number}[], best: object, show: boolean,
 *   notACar: boolean, probabilities: Float32Array}>} the top 3; `show` is false when the top-1's probability is below
 *   the bundle's threshold or the top-1 is the "not a car" class (then ask for a closer photo)
 */
export async function classify(session, pixels, width, height, channels, roi = null) {
  const probs = await probabilities(session, preprocess(pixels, width, height, channels, roi));
  return classification(probs);
}

/** The answer for a probability vector: top 3, threshold and "not a car" applied. */
export function classification(probs) {
  const top = topk(probs, 3).map((index) => ({ index, label: LABELS[index], probability: probs[index] }));
  const best = top[0];
  const notACar = BUNDLE.notACar !== null && best.label === BUNDLE.notACar;
  const show = !notACar && (BUNDLE.threshold === null || best.probability >= BUNDLE.threshold);
  return { top, best, show, notACar, probabilities: probs };
}

/**
 * Throws unless the session's model has the "box" output twoPass needs (an app can call it once, after openSession).
 * @param {object} session
 * @throws {Error} one line naming the model's outputs and the fix: export from a run with a localizer
 */
export function requireBox(session) {
  if (hasBox(session)) return;
  const names = Array.from(session?.outputNames ?? []).map((n) => JSON.stringify(n)).join(', ') || 'none';
  throw new Error(`carspotter: twoPass needs the model's "box" output, and this model has only ${names}; ` +
                  'export from a run with a localizer: carspotter localize RUN, then carspotter export RUN');
}

/**
 * Two-pass recognition of one upright photo, as carspotter's reference (carspotter.model.localizer.two_pass): pass 1
 * classifies the region (the whole photo by default) and gives the car's box; boxToRoi turns the box into a ROI of
 * these pixels; when needsSecondPass says the car is small, pass 2 classifies that ROI's pixels, cut at full
 * resolution before the resize. Needs a model with the "box" output (hasBox).
 * @param {object} session an ort.InferenceSession of this bundle's model exported from a run with a localizer
 * @param {Uint8Array|Uint8ClampedArray} pixels upright, full resolution (see preprocess)
 * @param {number} width
 * @param {number} height
 * @param {3|4} channels
 * @param {Array<number>|{x0: number, y0: number, x1: number, y1: number}|string|null} [roi] what pass 1 sees (a region
 *   the user chose, see preprocess); absent or null: the whole photo. The box and pass 2's ROI stay inside it.
 * @returns {Promise<object>} classify's answer (pass 2's when it ran, else pass 1's) and `box` (Float32Array(4), pass
 *   1's box output, 0..1 of the region), `roi` ([x0, y0, x1, y1] pass 2 classified, or null), `found` (the ROI the box
 *   logic made of the box, [x0, y0, x1, y1] or null: no usable box), `passes` (1 or 2), `first` (pass 1's answer)
 * @throws {Error} the model has no "box" output (one line: export from a run with a localizer); RoiError for a bad roi
 */
export async function twoPass(session, pixels, width, height, channels, roi = null) {
  requireBox(session);
  const region = roi === null || roi === undefined ? { x0: 0, y0: 0, x1: width, y1: height } : checkRoi(roi, width, height);
  const one = await infer(session, preprocess(pixels, width, height, channels, region));
  if (one.box === null || one.box.length !== 4) {
    throw new Error(`carspotter: the model's "box" output gave ${one.box?.length ?? 0} numbers, not 4 (x0, y0, x1, y1)`);
  }
  const first = classification(one.probabilities);
  const found = boxToRoi(one.box, region);
  const corners = (r) => [r.x0, r.y0, r.x1, r.y1];
  const base = { box: one.box, found: found && corners(found), first };
  if (!needsSecondPass(found, region)) return { ...first, ...base, roi: null, passes: 1 };
  const two = await infer(session, preprocess(pixels, width, height, channels, found));
  return { ...classification(two.probabilities), ...base, roi: corners(found), passes: 2 };
}

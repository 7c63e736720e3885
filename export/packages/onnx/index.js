// carspotter: the bundle's car classifier for ONNX Runtime JavaScript (onnxruntime-web, -node, -react-native).
// This entry imports nothing Node-only: it loads in browsers, Node and React Native. Reading files with sharp
// lives in "./node.js" (import from '<package>/node').
import { Tensor } from 'onnxruntime-common';
import BUNDLE from './bundle.js';
import { resize } from './resize.js';
import { topk } from './selftest.js';

export { resize, bilinear, boxReduce, boxFactors, inverseMatrix, compositeOnWhite } from './resize.js';
export { topk, top3Rule, parsePnm, generatedPhoto, checkResizeVectors, runSelfTest } from './selftest.js';

/** This bundle: labels, input side, threshold, "not a car" class, model file name (see bundle.js). */
export { BUNDLE };
/** Input side S of the model (pixels). */
export const SIZE = BUNDLE.size;
/** Class names, index k = output k. */
export const LABELS = BUNDLE.labels;

/**
 * The model input for an upright photo, exactly as carspotter's reference makes it.
 * @param {Uint8Array|Uint8ClampedArray} pixels row-major, `channels` bytes per pixel, EXIF orientation applied
 * @param {number} width
 * @param {number} height
 * @param {3|4} channels 3 RGB, 4 RGBA (e.g. canvas ImageData.data; transparency composited on white)
 * @returns {Float32Array} [1, S, S, 3] NHWC, values 0..255 (the model rescales inside itself)
 */
export function preprocess(pixels, width, height, channels) {
  return Float32Array.from(resize(pixels, width, height, channels, SIZE));
}

/**
 * An InferenceSession of this bundle's model in the app's own ONNX Runtime, from the model's bytes or its location.
 * Bytes are what React Native release builds need: there the model file inside the app bundle cannot be opened by
 * path (onnxruntime issue 26738), so read it (expo-file-system, react-native-fs) and pass the bytes, or copy it to
 * the documents folder and pass that path. See README.md, "React Native release builds".
 * @param {{InferenceSession: {create: Function}}} ort the runtime module the app imports (onnxruntime-web,
 *   onnxruntime-node or onnxruntime-react-native): `import * as ort from 'onnxruntime-react-native'`
 * @param {Uint8Array|ArrayBuffer|string} model the model file's bytes (`base64ToBytes` for a base64 string), or its
 *   URL / file path / `file://` URI
 * @param {object} [options] ort.InferenceSession.SessionOptions (execution providers etc.)
 * @returns {Promise<object>} the session, for `classify` and `probabilities`
 * @throws {TypeError} a model that is neither bytes nor a string, or no bytes at all (one line, naming what it got)
 */
export async function openSession(ort, model, options = {}) {
  if (!ort || !ort.InferenceSession || typeof ort.InferenceSession.create !== 'function') {
    throw new TypeError("carspotter: openSession's first argument is the ONNX Runtime module (import * as ort from 'onnxruntime-web')");
  }
  let source = model;
  if (model instanceof ArrayBuffer) source = new Uint8Array(model);
  else if (ArrayBuffer.isView(model)) source = new Uint8Array(model.buffer, model.byteOffset, model.byteLength);
  else if (typeof model !== 'string') {
    const got = model === null ? 'null' : typeof model === 'object' ? (model.constructor?.name ?? 'object') : typeof model;
    throw new TypeError(`carspotter: the model must be its bytes (Uint8Array or ArrayBuffer) or its URL / file path, got ${got}` +
                        ' (an expo-asset Asset: read asset.localUri, see README.md)');
  }
  if (typeof source !== 'string' && source.byteLength === 0) {
    throw new TypeError(`carspotter: the model's bytes are empty; read ${BUNDLE.model} whole`);
  }
  return ort.InferenceSession.create(source, options);
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

/** Probabilities 0..1 for one [1, S, S, 3] input. */
export async function probabilities(session, input) {
  const feeds = { [session.inputNames[0]]: new Tensor('float32', input, [1, SIZE, SIZE, 3]) };
  const out = await session.run(feeds);
  return Float32Array.from(out[session.outputNames[0]].data);
}

/**
 * Classify one upright photo.
 * @param {object} session an ort.InferenceSession of this bundle's model (onnxruntime-web, -node or -react-native)
 * @param {Uint8Array|Uint8ClampedArray} pixels see preprocess
 * @param {number} width
 * @param {number} height
 * @param {3|4} channels
 * @returns {Promise<{top: {index: number, label: string, probability: number}[], best: object, show: boolean,
 *   notACar: boolean, probabilities: Float32Array}>} the top 3; `show` is false when the top-1's probability is below
 *   the bundle's threshold or the top-1 is the "not a car" class (then ask for a closer photo)
 */
export async function classify(session, pixels, width, height, channels) {
  const probs = await probabilities(session, preprocess(pixels, width, height, channels));
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

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

// Node-only helpers of the carspotter package: photo files decoded with sharp, a session on this package's model,
// and the self-test. Needs the optional peer dependencies onnxruntime-node and sharp.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import BUNDLE from './bundle.js';
import { classification, infer, openSession, preprocess, probabilities, requireBox, runSelfTest, twoPass } from './index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function load(name) {
  try {
    return require(name);
  } catch (err) {
    throw new Error(`carspotter: ${name} is not installed (${err.message.split('\n')[0]}); run \`npm install ${name}\``);
  }
}

/**
 * Decode a photo file upright (EXIF orientation applied, all 8 values) with sharp.
 * @param {string} file
 * @returns {Promise<{pixels: Uint8Array, width: number, height: number, channels: 3|4}>}
 * @throws {Error} the file is missing or not an image sharp reads (the message names the file)
 */
export async function decodeFile(file) {
  const sharp = load('sharp');
  try {
    const { data, info } = await sharp(file).rotate().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height,
             channels: info.channels };
  } catch (err) {
    throw new Error(`${file}: cannot decode it (${err.message.split('\n')[0]}); use a JPEG, PNG, WebP, GIF, TIFF or AVIF file`);
  }
}

/**
 * An onnxruntime-node session on this package's model, its SHA-256 checked first (see openFile).
 * @param {object} [options] as openSession's (ort.InferenceSession.SessionOptions, verify, sha256)
 */
export async function createSession(options = {}) {
  return openFile(path.join(here, BUNDLE.model), options);
}

/**
 * An onnxruntime-node session on a model file (one the app downloaded, or this package's), read whole and checked:
 * its SHA-256 must be bundle.js's `modelSha256` (or `options.sha256`) before ONNX Runtime parses it.
 * @param {string} file a path or `file://` URL
 * @param {object} [options] as openSession's; `{ verify: false }` skips the check (unsafe)
 * @throws {Error} the file cannot be read, or its SHA-256 is not the expected one (one line, both digests named)
 */
export async function openFile(file, options = {}) {
  const ort = load('onnxruntime-node');
  const where = String(file).startsWith('file:') ? fileURLToPath(file) : file;
  let bytes;
  try {
    bytes = await readFile(where);
  } catch (err) {
    throw new Error(`carspotter: cannot read the model ${where} (${err.code ?? err.message.split('\n')[0]})`);
  }
  return openSession(ort, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), options);
}

/**
 * Classify a photo file, or its region of interest: decodeFile, then classify (see index.js).
 * @param {object} session
 * @param {string} file
 * @param {Array<number>|{x0: number, y0: number, x1: number, y1: number}|string|null} [roi] x0, y0, x1, y1 in pixels
 *   of the upright photo (EXIF orientation applied, as decodeFile gives it); a bad ROI rejects with a RoiError
 */
export async function classifyFile(session, file, roi = null) {
  const { pixels, width, height, channels } = await decodeFile(file);
  return classification(await probabilities(session, preprocess(pixels, width, height, channels, roi)));
}

/**
 * Two-pass recognition of a photo file (decodeFile, then twoPass; see index.js): pass 1 on the photo, or on its region
 * `roi`, finds the car; when it is small, pass 2 classifies its box at full resolution.
 * @param {object} session a session of a model with the "box" output (exported from a run with a localizer)
 * @param {string} file
 * @param {Array<number>|{x0: number, y0: number, x1: number, y1: number}|string|null} [roi] what pass 1 sees, in pixels
 *   of the upright photo; absent or null: the whole photo
 * @throws {Error} the model has no "box" output (before the photo is read); RoiError for a bad roi
 */
export async function twoPassFile(session, file, roi = null) {
  requireBox(session);
  const { pixels, width, height, channels } = await decodeFile(file);
  return twoPass(session, pixels, width, height, channels, roi);
}

/**
 * The self-test in Node against a bundle folder (default: the bundle this package sits in).
 * @param {string} [bundle]
 * @param {(line: string) => void} [log]
 */
export async function selfTest(bundle = path.join(here, '..'), log = console.log) {
  const session = await createSession();
  const file = (rel) => path.join(bundle, rel);
  const result = await runSelfTest({
    run: (input) => infer(session, input),
    readText: (rel) => readFile(file(rel), 'utf8'),
    readBytes: async (rel) => new Uint8Array(await readFile(file(rel))),
    decode: (rel) => decodeFile(file(rel)),
    log,
  });
  const sharp = load('sharp');
  const ort = load('onnxruntime-node');
  result.runtime = `onnxruntime-node ${ort.env?.versions?.node ?? ''}, sharp ${sharp.versions?.sharp ?? ''} ` +
                   `(libvips ${sharp.versions?.vips ?? ''})`;
  return result;
}

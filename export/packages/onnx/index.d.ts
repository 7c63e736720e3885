// Types of the carspotter package's main entry (index.js).
import type { InferenceSession } from 'onnxruntime-common';
import type { Pixels, RoiLike } from './resize.js';

// the reference resize and its steps: declared once, in resize.d.ts (the "./resize" subpath)
export { resize, boxFactors, boxReduce, bilinear, inverseMatrix, compositeOnWhite, upright, checkRoi, cutRoi, RoiError,
  ROI_RULE } from './resize.js';
export type { Pixels, Roi, RoiLike, Image, Orientation } from './resize.js';
// the two-pass box logic: declared once, in twopass.d.ts (the "./twopass" subpath)
export { boxToRoi, needsSecondPass, MIN_BOX_SIDE, MARGIN_DIVISOR, SECOND_PASS_BELOW, BOX_RULE } from './twopass.js';
export type { Region } from './twopass.js';

export interface Bundle {
  name: string;
  version: string;
  /** Input side S in pixels. */
  size: number;
  /** Class names; index k = output k. */
  labels: string[];
  /** Show the answer only when its probability (0..1) is at least this; null when the run chose none. */
  threshold: number | null;
  /** The class trained on photos that are not cars, or null. */
  notACar: string | null;
  /** The model file in this package. */
  model: string;
  /** SHA-256 of the model file's bytes (64 hex digits): what openSession checks a model against. */
  modelSha256: string;
}

export interface Guess { index: number; label: string; probability: number }

export interface Classification {
  /** The 3 most probable classes, most probable first. */
  top: Guess[];
  best: Guess;
  /** false: below the threshold or "not a car"; ask for a closer photo. */
  show: boolean;
  notACar: boolean;
  /** Probabilities 0..1 of every class, in the order of LABELS. */
  probabilities: Float32Array;
}

export const BUNDLE: Bundle;
export const SIZE: number;
export const LABELS: string[];

/** The [1, S, S, 3] NHWC model input (0..255) for an upright photo, or for its region of interest `roi` (x0, y0, x1,
 * y1 in whole pixels of the upright photo, half-open; cut at full resolution; a bad ROI throws RoiError). */
export function preprocess(pixels: Pixels, width: number, height: number, channels: 3 | 4, roi?: RoiLike | null): Float32Array;
/** The runtime module the app imports (onnxruntime-web, -node or -react-native): its InferenceSession. */
export interface OrtRuntime {
  InferenceSession: { create(model: any, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
}
/** openSession's options: ONNX Runtime's session options and carspotter's check of the model's bytes. */
export interface OpenSessionOptions extends InferenceSession.SessionOptions {
  /** false skips the SHA-256 check: unsafe (a damaged or foreign model then loads). Default true. */
  verify?: boolean;
  /** The hex SHA-256 to expect instead of BUNDLE.modelSha256 (e.g. carspotter.ort's, from manifest.json). */
  sha256?: string;
  /** Reads a path or URI the runtime cannot fetch (React Native files, Node paths): the model's bytes. */
  readBytes?: (location: string) => Promise<Uint8Array | ArrayBuffer>;
}
/** A session of this bundle's model from its bytes (React Native release builds) or its URL / file path, made from
 * bytes whose SHA-256 was checked against BUNDLE.modelSha256 (rejects with an Error naming both digests). */
export function openSession(ort: OrtRuntime, model: Uint8Array | ArrayBuffer | string,
                            options?: OpenSessionOptions): Promise<InferenceSession>;
/** Resolves to the bytes' hex SHA-256 when it is `expected` (default BUNDLE.modelSha256); rejects otherwise. */
export function verifyModel(bytes: Uint8Array | ArrayBuffer, expected?: string): Promise<string>;
/** Hex SHA-256 of bytes (Web Crypto where there is one, else plain JavaScript). */
export function sha256Hex(bytes: Uint8Array | ArrayBuffer): Promise<string>;
/** SHA-256 of bytes in plain JavaScript (32 bytes). */
export function sha256Js(bytes: Uint8Array): Uint8Array;
/** Bytes of a base64 string (expo-file-system / react-native-fs reads), without Buffer or atob. */
export function base64ToBytes(text: string): Uint8Array;
/** The model's output names: "probabilities" [1, C], and "box" [1, 4] in a model from a run with a localizer. */
export const PROBABILITIES_OUTPUT: 'probabilities';
export const BOX_OUTPUT: 'box';
/** True when the model has the localizer's "box" output (twoPass needs it). */
export function hasBox(session: InferenceSession): boolean;
/** Throws one line (export from a run with a localizer: carspotter localize RUN) unless the model has "box". */
export function requireBox(session: InferenceSession): void;
/** The model once on one [1, S, S, 3] input: probabilities, and the box (x0, y0, x1, y1 in 0..1 of the input) or null. */
export function infer(session: InferenceSession, input: Float32Array):
  Promise<{ probabilities: Float32Array; box: Float32Array | null }>;
/** Probabilities 0..1 for one [1, S, S, 3] input (the "probabilities" output, else the first). */
export function probabilities(session: InferenceSession, input: Float32Array): Promise<Float32Array>;
/** Classify an upright photo, or its region of interest `roi` (see preprocess; a bad ROI rejects with RoiError). */
export function classify(session: InferenceSession, pixels: Pixels, width: number, height: number, channels: 3 | 4,
                         roi?: RoiLike | null): Promise<Classification>;
export function classification(probabilities: Float32Array): Classification;

/** A ROI as [x0, y0, x1, y1]: whole pixels of the upright photo, half-open. */
export type Corners = [number, number, number, number];
/** twoPass's answer: classify's (pass 2's when it ran, else pass 1's), and how it was reached. */
export interface TwoPassAnswer extends Classification {
  /** Pass 1's box output: x0, y0, x1, y1 in 0..1 of the region pass 1 saw. */
  box: Float32Array;
  /** The ROI pass 2 classified (upright-photo pixels), or null when it did not run. */
  roi: Corners | null;
  /** The ROI the box logic made of the box, whether or not pass 2 ran; null: no usable box. */
  found: Corners | null;
  passes: 1 | 2;
  /** Pass 1's answer. */
  first: Classification;
}
/** Two-pass recognition of an upright photo (pixels at full resolution): pass 1 on `roi` (default the whole photo) gives
 * the car's box; when the car is small, pass 2 classifies its ROI cut at full resolution. Rejects with one Error line
 * when the model has no "box" output, with RoiError for a bad roi. */
export function twoPass(session: InferenceSession, pixels: Pixels, width: number, height: number, channels: 3 | 4,
                        roi?: RoiLike | null): Promise<TwoPassAnswer>;

export function topk(probabilities: ArrayLike<number>, k: number): number[];
export function top3Rule(reference: ArrayLike<number>, candidate: ArrayLike<number>, tau: number):
  { mismatchRank: number | null; nearTies: number; maxAbsDiff: number };
export function parsePnm(bytes: Uint8Array): { width: number; height: number; channels: number; pixels: Uint8Array };
/** A generated resize-vector photo ("gen:SEED" in golden/resize/vectors.txt): width*height*3 RGB bytes. */
export function generatedPhoto(width: number, height: number, seed: number): Uint8Array;
/** The golden resize vectors (orientation and ROI applied, 8- or 10-column vectors.txt) through resize, bit for bit. */
export function checkResizeVectors(readText: (rel: string) => Promise<string>, readBytes: (rel: string) => Promise<Uint8Array>):
  Promise<{ passed: boolean; withRois: boolean; vectors: { name: string; differing: number; maxDiff: number }[] }>;
/** golden/resize/bad_rois.txt through checkRoi: kind "ok" accepted, every other refused. */
export function checkBadRois(readText: (rel: string) => Promise<string>):
  Promise<{ passed: boolean; rois: number; wrong: { line: string; got: string }[] }>;
/** golden/two_pass/box_vectors.txt through boxToRoi and needsSecondPass. */
export function checkBoxVectors(readText: (rel: string) => Promise<string>):
  Promise<{ passed: boolean; rows: number; wrong: { line: string; roi: string; pass: number }[] }>;
/** Largest |difference| of a box coordinate between the model's box and the reference's on the golden inputs: 0.01. */
export const BOX_TOLERANCE: number;
/** The model's boxes on the golden inputs against golden/expected.json's (skipped when the golden set has none). */
export function checkBoxOutput(photos: { box?: number[] }[], boxes: (ArrayLike<number> | null)[]):
  { passed: boolean; skipped?: string; reason?: string; photos?: number; maxAbsDiff?: number; tolerance?: number;
    sameRoi?: number };
export interface SelfTestOptions {
  /** The model on one input: its probabilities, or infer(session, input) (needed to check the box output). */
  run: (input: Float32Array) => Promise<Float32Array | { probabilities: Float32Array; box: Float32Array | null }>;
  readText: (rel: string) => Promise<string>;
  readBytes: (rel: string) => Promise<Uint8Array>;
  decode: (rel: string) => Promise<{ pixels: Pixels; width: number; height: number; channels: number }>;
  log?: (line: string) => void;
}
export function runSelfTest(options: SelfTestOptions):
  Promise<{ passed: boolean; resize: object; rois: object; boxes: object; boxOutput: object; exact: object; package: object }>;

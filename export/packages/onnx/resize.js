// carspotter's reference resize, ported exactly: for every pixel the same uint8 value as
// carspotter.model.reference_resize.resize (Python): an integer box pre-reduction, then OpenCV 4's
// warpPerspective as MediaPipe Tasks' ImageClassifier calls it on the CPU. This file imports nothing, so it
// runs in browsers, Node, React Native and Web Workers alike. Checked bit for bit against the golden set's
// resize vectors (golden/resize/).
//
// Step 0, the box pre-reduction (boxReduce; the antialiasing): on each axis k = max(1, floor(side / S)), so a
// side below 2 x S is left alone. Boxes of kx x ky pixels from the top-left; the last box on an axis keeps the
// side % k pixels left (the reduced photo is ceil(W / kx) x ceil(H / ky)). Each value is the box's mean
// rounded half up in integers: floor((sum + floor(n / 2)) / n), n = the pixels in that box.
//
// Then the bilinear step (bilinear), each as OpenCV does it (modules/imgproc/src/imgwarp.cpp,
// modules/core/src/matrix_decomp.cpp):
//  1. getPerspectiveTransform from the photo's corners (bottom-left, top-left, top-right, bottom-right) to the
//     output's: an 8x8 linear system solved by Gaussian elimination with partial pivoting, in doubles.
//  2. The 3x3 matrix inverted by the adjugate over the determinant (cv::invert, DECOMP_LU, 3x3 case).
//  3. For each output pixel, the source position in 1/32 pixel (fixed point) from that matrix, computed in
//     blocks of 64 columns as OpenCV does (the block's first column enters the sums), rounded half to even.
//  4. Bilinear weights from the 1/32 fractions (integers summing to 32768), the four neighbours clamped to
//     the image (BORDER_REPLICATE), (sum + 16384) >> 15.
// Output pixel x samples the photo at x * w / S: the mapping ONNX and TensorRT call "asymmetric" (not pixel
// centres, not align_corners).
//
// Before all that, as the reference decoder does (carspotter.model.roi, carspotter.contracts.resize_vectors):
// upright() applies the photo's EXIF orientation (1..8, as Pillow's exif_transpose), then a region of interest
// (ROI) is cut at full resolution (checkRoi, cutRoi) and the resize runs on its pixels as if they were the photo:
// the box factors come from the ROI's size, the boxes start at its top-left pixel, and the bilinear step
// replicates the ROI's own edge pixels. A ROI is x0, y0, x1, y1: whole pixels of the upright photo, half-open
// (x0 <= x < x1, y0 <= y < y1), 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height; nothing is clipped.

const INTER_BITS = 5;
const INTER_TAB_SIZE = 1 << INTER_BITS; // 32
const COEF_BITS = 15;
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/** Round half to even, as C's lrint / OpenCV's cvRound (Math.round rounds halves up). */
function rint(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Solve the n x n system a x = b in place (OpenCV's hal::LU64f), returns x. */
function luSolve(a, b) {
  const m = b.length;
  for (let i = 0; i < m; i++) {
    let k = i;
    for (let j = i + 1; j < m; j++) if (Math.abs(a[j][i]) > Math.abs(a[k][i])) k = j;
    if (k !== i) {
      for (let j = i; j < m; j++) { const t = a[i][j]; a[i][j] = a[k][j]; a[k][j] = t; }
      const t = b[i]; b[i] = b[k]; b[k] = t;
    }
    const d = -1 / a[i][i];
    for (let j = i + 1; j < m; j++) {
      const alpha = a[j][i] * d;
      for (let c = i + 1; c < m; c++) a[j][c] += alpha * a[i][c];
      b[j] += alpha * b[i];
    }
  }
  for (let i = m - 1; i >= 0; i--) {
    let s = b[i];
    for (let c = i + 1; c < m; c++) s -= a[i][c] * b[c];
    b[i] = s / a[i][i];
  }
  return b;
}

/**
 * The inverse map OpenCV samples with: output pixel -> photo position, row-major 3x3 (9 numbers).
 * @param {number} width photo width (pixels)
 * @param {number} height photo height (pixels)
 * @param {number} size output side S (pixels)
 */
export function inverseMatrix(width, height, size) {
  const src = [[0, height], [0, 0], [width, 0], [width, height]];
  const dst = [[0, size], [0, 0], [size, 0], [size, size]];
  const a = Array.from({ length: 8 }, () => new Array(8).fill(0));
  const b = new Array(8).fill(0);
  for (let i = 0; i < 4; i++) {
    a[i][0] = a[i + 4][3] = src[i][0];
    a[i][1] = a[i + 4][4] = src[i][1];
    a[i][2] = a[i + 4][5] = 1;
    a[i][6] = -src[i][0] * dst[i][0];
    a[i][7] = -src[i][1] * dst[i][0];
    a[i + 4][6] = -src[i][0] * dst[i][1];
    a[i + 4][7] = -src[i][1] * dst[i][1];
    b[i] = dst[i][0];
    b[i + 4] = dst[i][1];
  }
  const m = luSolve(a, b).concat([1]);
  let d = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
  d = 1 / d;
  return [
    (m[4] * m[8] - m[5] * m[7]) * d, (m[2] * m[7] - m[1] * m[8]) * d, (m[1] * m[5] - m[2] * m[4]) * d,
    (m[5] * m[6] - m[3] * m[8]) * d, (m[0] * m[8] - m[2] * m[6]) * d, (m[2] * m[3] - m[0] * m[5]) * d,
    (m[3] * m[7] - m[4] * m[6]) * d, (m[1] * m[6] - m[0] * m[7]) * d, (m[0] * m[4] - m[1] * m[3]) * d,
  ];
}

function checkImage(pixels, width, height, channels) {
  if (!(pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray)) {
    throw new TypeError('carspotter: pixels must be a Uint8Array or Uint8ClampedArray (8-bit, row-major)');
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`carspotter: width and height must be positive integers (got ${width} x ${height})`);
  }
  if (channels !== 3 && channels !== 4) {
    throw new RangeError(`carspotter: channels must be 3 (RGB) or 4 (RGBA), got ${channels}`);
  }
  if (pixels.length !== width * height * channels) {
    throw new RangeError(`carspotter: ${pixels.length} bytes is not ${width} x ${height} x ${channels}`);
  }
}

/**
 * RGBA composited on opaque white, as the reference decoder does with transparent photos (Pillow's
 * alpha_composite: 7 extra bits of precision, divisions by 255 rounded). Opaque pixels are unchanged.
 * @param {Uint8Array|Uint8ClampedArray} rgba width*height*4 bytes
 * @returns {Uint8Array} width*height*3 bytes RGB
 */
export function compositeOnWhite(rgba) {
  const n = rgba.length >> 2;
  const out = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    const a = rgba[4 * p + 3];
    for (let c = 0; c < 3; c++) {
      let v;
      if (a === 255) v = rgba[4 * p + c];
      else if (a === 0) v = 255;
      else {
        const t = rgba[4 * p + c] * a * 128 + 255 * (255 - a) * 128 + (0x80 << 7);
        v = ((((t >>> 8) + t) >>> 8) >>> 7);
      }
      out[3 * p + c] = v;
    }
  }
  return out;
}

/**
 * The box pre-reduction's factors: [kx, ky] = max(1, floor(side / size)) per axis.
 * @param {number} width
 * @param {number} height
 * @param {number} size output side S
 * @returns {[number, number]}
 */
export function boxFactors(width, height, size) {
  return [Math.max(1, Math.floor(width / size)), Math.max(1, Math.floor(height / size))];
}

/**
 * Step 0: average kx x ky boxes of an RGB photo, each mean rounded half up (see the top of this file).
 * @param {Uint8Array|Uint8ClampedArray} rgb width*height*3 bytes, row-major
 * @param {number} width
 * @param {number} height
 * @param {number} size output side S of the resize that follows
 * @returns {{pixels: Uint8Array|Uint8ClampedArray, width: number, height: number}} the photo itself when kx = ky = 1
 */
export function boxReduce(rgb, width, height, size) {
  const [kx, ky] = boxFactors(width, height, size);
  if (kx === 1 && ky === 1) return { pixels: rgb, width, height };
  const ow = Math.ceil(width / kx), oh = Math.ceil(height / ky);
  const out = new Uint8Array(ow * oh * 3);
  const sums = new Uint32Array(ow * 3); // at most kx * ky * 255 each
  for (let oy = 0; oy < oh; oy++) {
    const top = oy * ky, rows = Math.min(ky, height - top);
    sums.fill(0);
    for (let y = top; y < top + rows; y++) {
      let p = y * width * 3;
      for (let ox = 0; ox < ow; ox++) {
        const end = p + Math.min(kx, width - ox * kx) * 3;
        let r = 0, g = 0, b = 0;
        for (; p < end; p += 3) { r += rgb[p]; g += rgb[p + 1]; b += rgb[p + 2]; }
        sums[3 * ox] += r; sums[3 * ox + 1] += g; sums[3 * ox + 2] += b;
      }
    }
    for (let ox = 0; ox < ow; ox++) {
      const n = Math.min(kx, width - ox * kx) * rows;
      const half = n >> 1, o = (oy * ow + ox) * 3;
      for (let c = 0; c < 3; c++) out[o + c] = Math.floor((sums[3 * ox + c] + half) / n);
    }
  }
  return { pixels: out, width: ow, height: oh };
}

/**
 * Stretch an upright photo (or its region of interest) to size x size exactly as carspotter's reference: the ROI
 * cut at full resolution, RGBA composited on white, the box pre-reduction, then the bilinear step (see the top of
 * this file).
 * @param {Uint8Array|Uint8ClampedArray} pixels row-major, channels bytes per pixel, EXIF orientation applied
 * @param {number} width
 * @param {number} height
 * @param {3|4} channels 3 RGB, 4 RGBA (composited on white first)
 * @param {number} size output side S
 * @param {RoiLike|null} [roi] x0, y0, x1, y1 in these pixels (see checkRoi); absent or null: the whole photo
 * @returns {Uint8Array} [S, S, 3] RGB bytes, row-major
 * @throws {TypeError|RangeError} pixels of another type or length, channels not 3 or 4; a ROI that breaks ROI_RULE
 *   (RoiError, one line naming the ROI, the photo's size and the rule)
 */
export function resize(pixels, width, height, channels, size, roi = null) {
  checkImage(pixels, width, height, channels);
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`carspotter: size must be a positive integer (got ${size})`);
  if (roi !== null && roi !== undefined) ({ pixels, width, height } = cutRoi(pixels, width, height, channels, roi));
  const reduced = boxReduce(channels === 4 ? compositeOnWhite(pixels) : pixels, width, height, size);
  return bilinear(reduced.pixels, reduced.width, reduced.height, size);
}

/** The rule a ROI must meet, as the error messages state it (carspotter.model.roi.RULE). */
export const ROI_RULE = '0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, whole pixels of the upright photo, half-open';

/** A ROI that breaks ROI_RULE: the message is one line naming the ROI, the photo's size and the rule. */
export class RoiError extends RangeError {
  constructor(message) {
    super(message);
    this.name = 'RoiError';
  }
}

const NAMES = ['x0', 'y0', 'x1', 'y1'];

/**
 * @typedef {ArrayLike<number|string>|{x0: number, y0: number, x1: number, y1: number}|string} RoiLike
 * A ROI as given: [x0, y0, x1, y1] (an array or typed array), {x0, y0, x1, y1}, or "x0,y0,x1,y1" (commas or spaces).
 */

/** A ROI's four values as given, or null when it is none of the RoiLike forms. */
function roiValues(roi) {
  if (typeof roi === 'string') return roi.split(/[\s,]+/).filter((p) => p !== '');
  if (roi !== null && typeof roi === 'object') {
    if (NAMES.every((n) => n in roi)) return NAMES.map((n) => roi[n]);
    if (typeof roi.length === 'number' && Number.isInteger(roi.length) && roi.length >= 0 && roi.length < 2 ** 32) {
      return Array.from(roi);
    }
  }
  return null;
}

/** A value as the messages show it: numbers as JavaScript writes them (12.0 is 12), text as it is. */
function shownValue(v) {
  return typeof v === 'string' ? v : typeof v === 'object' && v !== null ? (v.constructor?.name ?? 'object') : String(v);
}

/** A ROI coordinate as a number: numbers, bigints and numeric text ("12", "12.0", "NaN", "Infinity"); else undefined. */
function roiNumber(v) {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') {
    const t = v.trim();
    if (/^[+-]?(nan|inf|infinity)$/i.test(t)) return /nan/i.test(t) ? NaN : t.startsWith('-') ? -Infinity : Infinity;
    return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t) ? Number(t) : undefined;
  }
  return undefined;
}

/**
 * Check a region of interest against a width x height upright photo (carspotter.model.roi.check_roi).
 * @param {RoiLike} roi four numbers x0, y0, x1, y1 (whole numbers; 10 and 10.0 are the same in JavaScript):
 *   [x0, y0, x1, y1], {x0, y0, x1, y1} or "x0,y0,x1,y1"
 * @param {number} width the upright photo's width (pixels)
 * @param {number} height the upright photo's height (pixels)
 * @returns {{x0: number, y0: number, x1: number, y1: number}} the ROI, integers
 * @throws {RoiError} not four numbers, not whole (10.5), NaN or infinite, negative, empty or reversed, or past the
 *   photo's edge: one line naming the ROI, the photo's size and ROI_RULE
 */
export function checkRoi(roi, width, height) {
  const size = `the ${width}x${height} photo`;
  const values = roiValues(roi);
  if (values === null) {
    const got = roi === null ? 'null' : typeof roi === 'object' ? (roi.constructor?.name ?? 'object') : String(roi);
    const rect = roi !== null && typeof roi === 'object' && ['x', 'y', 'width', 'height'].every((n) => n in roi)
      ? ' ({x, y, width, height} is a rectangle: pass [x, y, x + width, y + height])' : '';
    throw new RoiError(`carspotter: ROI ${got} for ${size}: not four numbers x0,y0,x1,y1${rect}; ${ROI_RULE}`);
  }
  const shown = `(${values.map(shownValue).join(', ')})`;
  if (values.length !== 4) {
    throw new RoiError(`carspotter: ROI ${shown} for ${size}: ${values.length} numbers, not four (x0, y0, x1, y1); ${ROI_RULE}`);
  }
  const v = values.map((value, i) => {
    const name = NAMES[i];
    if (typeof value === 'boolean') {
      throw new RoiError(`carspotter: ROI ${shown} for ${size}: ${name} is a boolean, not a pixel coordinate; ${ROI_RULE}`);
    }
    const n = roiNumber(value);
    if (n === undefined) {
      throw new RoiError(`carspotter: ROI ${shown} for ${size}: ${name} = ${shownValue(value)} is not a number; ${ROI_RULE}`);
    }
    if (!Number.isFinite(n)) {
      throw new RoiError(`carspotter: ROI ${shown} for ${size}: ${name} is ${n}, not a pixel coordinate; ${ROI_RULE}`);
    }
    if (n !== Math.floor(n)) {
      throw new RoiError(`carspotter: ROI ${shown} for ${size}: ${name} = ${n} is not a whole pixel; ${ROI_RULE}`);
    }
    return n === 0 ? 0 : n; // -0 is 0
  });
  const [x0, y0, x1, y1] = v;
  if (Math.min(x0, y0, x1, y1) < 0) {
    throw new RoiError(`carspotter: ROI ${shown} has a negative coordinate; it must lie inside ${size}: ${ROI_RULE}`);
  }
  if (x1 <= x0 || y1 <= y0) {
    throw new RoiError(`carspotter: ROI ${shown} is empty (x1 <= x0 or y1 <= y0) in ${size}; it must hold at least one ` +
                       `pixel: ${ROI_RULE}`);
  }
  if (x1 > width || y1 > height) {
    throw new RoiError(`carspotter: ROI ${shown} reaches outside ${size} (x1 <= ${width}, y1 <= ${height}); ${ROI_RULE}`);
  }
  return { x0, y0, x1, y1 };
}

/**
 * A ROI's pixels of an upright photo, at full resolution (checked first with checkRoi).
 * @param {Uint8Array|Uint8ClampedArray} pixels row-major, channels bytes per pixel, upright
 * @param {number} width
 * @param {number} height
 * @param {3|4} channels
 * @param {RoiLike} roi
 * @returns {{pixels: Uint8Array|Uint8ClampedArray, width: number, height: number}} x1 - x0 by y1 - y0 pixels, a
 *   copy (the photo itself when the ROI is the whole photo)
 * @throws {RoiError} see checkRoi
 */
export function cutRoi(pixels, width, height, channels, roi) {
  checkImage(pixels, width, height, channels);
  const { x0, y0, x1, y1 } = checkRoi(roi, width, height);
  if (x0 === 0 && y0 === 0 && x1 === width && y1 === height) return { pixels, width, height };
  const w = x1 - x0, h = y1 - y0, row = w * channels;
  const out = new Uint8Array(w * h * channels);
  for (let y = 0; y < h; y++) {
    const from = ((y0 + y) * width + x0) * channels;
    out.set(pixels.subarray(from, from + row), y * row);
  }
  return { pixels: out, width: w, height: h };
}

/**
 * A stored photo made upright from its EXIF orientation, as Pillow's ImageOps.exif_transpose (and browsers'
 * imageOrientation 'from-image', sharp's rotate()) do: 1 as stored, 2 mirrored, 3 rotated 180 degrees, 4 flipped,
 * 5 transposed, 6 rotated 90 degrees clockwise, 7 transversed, 8 rotated 90 degrees counter-clockwise. 5 to 8
 * swap width and height.
 * @param {Uint8Array|Uint8ClampedArray} pixels row-major, channels bytes per pixel, as stored
 * @param {number} width the stored width
 * @param {number} height the stored height
 * @param {3|4} channels
 * @param {number} orientation the EXIF orientation tag, 1..8
 * @returns {{pixels: Uint8Array|Uint8ClampedArray, width: number, height: number}} upright (the photo itself for 1)
 * @throws {RangeError} an orientation other than 1..8
 */
export function upright(pixels, width, height, channels, orientation) {
  checkImage(pixels, width, height, channels);
  if (!Number.isInteger(orientation) || orientation < 1 || orientation > 8) {
    throw new RangeError(`carspotter: EXIF orientation must be 1..8 (got ${orientation})`);
  }
  if (orientation === 1) return { pixels, width, height };
  const W = width, H = height, last = (H - 1) * W;
  // the stored pixel of upright (x, y) is start + x * dx + y * dy (in pixels)
  const [start, dx, dy] = {
    2: [W - 1, -1, W], 3: [last + W - 1, -1, -W], 4: [last, 1, -W],
    5: [0, W, 1], 6: [last, -W, 1], 7: [last + W - 1, -W, -1], 8: [W - 1, W, -1],
  }[orientation];
  const [ow, oh] = orientation >= 5 ? [H, W] : [W, H];
  const out = new Uint8Array(pixels.length);
  for (let y = 0, o = 0; y < oh; y++) {
    let p = start + y * dy;
    for (let x = 0; x < ow; x++, p += dx) {
      const s = p * channels;
      for (let c = 0; c < channels; c++, o++) out[o] = pixels[s + c];
    }
  }
  return { pixels: out, width: ow, height: oh };
}

/**
 * The bilinear step alone (MediaPipe's own resize, no antialiasing): what MediaPipe Tasks does to the pixels
 * it is given. resize() is boxReduce() then this.
 * @param {Uint8Array|Uint8ClampedArray} src width*height*3 RGB bytes
 * @param {number} width
 * @param {number} height
 * @param {number} size output side S
 * @returns {Uint8Array} [S, S, 3] RGB bytes
 */
export function bilinear(src, width, height, size) {
  const M = inverseMatrix(width, height, size);
  const out = new Uint8Array(size * size * 3);
  let bh0 = Math.min(16, size);
  const bw0 = Math.min(Math.floor(1024 / bh0), size);
  bh0 = Math.min(Math.floor(1024 / bw0), size); // (rows are absolute: only the column blocks matter)
  const row = width * 3;
  for (let y = 0; y < size; y++) {
    for (let xb = 0; xb < size; xb += bw0) {
      const X0 = M[0] * xb + M[1] * y + M[2];
      const Y0 = M[3] * xb + M[4] * y + M[5];
      const W0 = M[6] * xb + M[7] * y + M[8];
      const bw = Math.min(bw0, size - xb);
      for (let x1 = 0; x1 < bw; x1++) {
        let W = W0 + M[6] * x1;
        W = W ? INTER_TAB_SIZE / W : 0;
        const fX = Math.max(INT_MIN, Math.min(INT_MAX, (X0 + M[0] * x1) * W));
        const fY = Math.max(INT_MIN, Math.min(INT_MAX, (Y0 + M[3] * x1) * W));
        const X = rint(fX) | 0;
        const Y = rint(fY) | 0;
        const sx = Math.max(-32768, Math.min(32767, X >> INTER_BITS));
        const sy = Math.max(-32768, Math.min(32767, Y >> INTER_BITS));
        const ax = X & (INTER_TAB_SIZE - 1);
        const ay = Y & (INTER_TAB_SIZE - 1);
        const w00 = (32 - ax) * (32 - ay) * 32, w01 = ax * (32 - ay) * 32;
        const w10 = (32 - ax) * ay * 32, w11 = ax * ay * 32;
        const x0 = Math.min(Math.max(sx, 0), width - 1) * 3, x1c = Math.min(Math.max(sx + 1, 0), width - 1) * 3;
        const y0 = Math.min(Math.max(sy, 0), height - 1) * row, y1c = Math.min(Math.max(sy + 1, 0), height - 1) * row;
        const o = (y * size + xb + x1) * 3;
        for (let c = 0; c < 3; c++) {
          const v = src[y0 + x0 + c] * w00 + src[y0 + x1c + c] * w01 + src[y1c + x0 + c] * w10 + src[y1c + x1c + c] * w11;
          out[o + c] = Math.min(255, Math.max(0, (v + (1 << (COEF_BITS - 1))) >> COEF_BITS));
        }
      }
    }
  }
  return out;
}

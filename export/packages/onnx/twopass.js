// carspotter's two-pass box logic, ported exactly (carspotter.model.two_pass, Python): from pass 1's `box` output to
// the region of interest pass 2 classifies, and whether pass 2 runs. Every step is in integers or one float64
// product, so that this port, Swift's and Kotlin's give the reference's integers; checked on the golden set's box
// vectors (golden/two_pass/box_vectors.txt). This file imports nothing: it runs in browsers, Node and React Native.
//
// 1. The four float32 outputs (x0, y0, x1, y1 in 0..1 of the region pass 1 saw) are JavaScript numbers already
//    (float64, exactly). Any NaN or infinity: no box (the answer is pass 1's).
// 2. Each is clamped to [0, 1].
// 3. With the region (rx0, ry0, rx1, ry1) of width rw and height rh: px0 = rx0 + floor(x0 * rw),
//    px1 = rx0 + ceil(x1 * rw), likewise py0, py1 with ry0 and rh (one product each, then floor / ceil).
// 4. If px1 - px0 < MIN_BOX_SIDE or py1 - py0 < MIN_BOX_SIDE (a reversed box included): no box.
// 5. Pass 2 runs when the ROI is below 9/10 of the region on either side: roi_w * 10 < rw * 9 or roi_h * 10 < rh * 9.

/** Smallest box side, in photo pixels, taken as a car (step 4). */
export const MIN_BOX_SIDE = 8;
/** Pass 2 runs when the ROI is below 9/10 of the region's width or of its height (step 5): [9, 10]. */
export const SECOND_PASS_BELOW = Object.freeze([9, 10]);
/** The box logic in one line (the manifest's two_pass.rule). */
export const BOX_RULE = 'box x0,y0,x1,y1 in 0..1 of the region (float32 widened to float64; NaN or infinity: no box), ' +
  'clamped to 0..1; px0 = rx0 + floor(x0 * rw), px1 = rx0 + ceil(x1 * rw) (likewise y); no box when a side < 8 px; ' +
  'pass 2 when roi_w * 10 < rw * 9 or roi_h * 10 < rh * 9';

/** A region as {x0, y0, x1, y1} integers, from that object or [x0, y0, x1, y1]. */
function region4(region, what) {
  const r = region !== null && typeof region === 'object' && 'x0' in region
    ? [region.x0, region.y0, region.x1, region.y1] : Array.from(region ?? []);
  if (r.length !== 4 || !r.every(Number.isInteger) || r[0] < 0 || r[1] < 0 || r[2] <= r[0] || r[3] <= r[1]) {
    throw new RangeError(`carspotter: the ${what} must be whole pixels x0, y0, x1, y1 with 0 <= x0 < x1 and 0 <= y0 < y1 ` +
                         `(got ${JSON.stringify(region)})`);
  }
  return { x0: r[0], y0: r[1], x1: r[2], y1: r[3] };
}

/**
 * The ROI pass 2 classifies, from pass 1's box output (steps 1 to 4 above).
 * @param {ArrayLike<number>} box 4 numbers x0, y0, x1, y1 in 0..1 of `region` (the model's `box` output, a Float32Array)
 * @param {{x0: number, y0: number, x1: number, y1: number}|number[]} region what pass 1 saw, in upright-photo pixels
 *   ({x0: 0, y0: 0, x1: width, y1: height} for the whole photo, or the ROI the caller gave)
 * @returns {{x0: number, y0: number, x1: number, y1: number}|null} the ROI in upright-photo pixels, inside `region`;
 *   null when the box is not 4 finite numbers or is too small
 * @throws {RangeError} a region that is not whole pixels with x0 < x1 and y0 < y1
 */
export function boxToRoi(box, region) {
  const r = region4(region, 'region');
  const values = Array.from(box ?? [], Number);
  if (values.length !== 4 || !values.every(Number.isFinite)) return null;
  const [x0, y0, x1, y1] = values.map((v) => Math.min(1, Math.max(0, v)));
  const rw = r.x1 - r.x0, rh = r.y1 - r.y0;
  const px0 = r.x0 + Math.floor(x0 * rw), px1 = r.x0 + Math.ceil(x1 * rw);
  const py0 = r.y0 + Math.floor(y0 * rh), py1 = r.y0 + Math.ceil(y1 * rh);
  if (px1 - px0 < MIN_BOX_SIDE || py1 - py0 < MIN_BOX_SIDE) return null;
  return { x0: px0, y0: py0, x1: px1, y1: py1 };
}

/**
 * Whether pass 2 should classify `roi` (step 5): a box was found and it is below 9/10 of `region` on a side.
 * @param {{x0: number, y0: number, x1: number, y1: number}|number[]|null} roi boxToRoi's answer
 * @param {{x0: number, y0: number, x1: number, y1: number}|number[]} region what pass 1 saw
 * @returns {boolean}
 */
export function needsSecondPass(roi, region) {
  if (roi === null || roi === undefined) return false;
  const a = region4(roi, 'ROI'), r = region4(region, 'region');
  const [num, den] = SECOND_PASS_BELOW;
  return (a.x1 - a.x0) * den < (r.x1 - r.x0) * num || (a.y1 - a.y0) * den < (r.y1 - r.y0) * num;
}

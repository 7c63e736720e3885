// Types of the carspotter package's "./twopass" entry (twopass.js): the two-pass box logic, no onnxruntime import.
import type { Roi } from './resize.js';

/** Smallest box side, in photo pixels, taken as a car (8). */
export const MIN_BOX_SIDE: number;
/** The margin on each side is the box's side / MARGIN_DIVISOR, rounded down (8). */
export const MARGIN_DIVISOR: number;
/** Pass 2 runs when the ROI is below 9/10 of the region on a side: [9, 10]. */
export const SECOND_PASS_BELOW: readonly [number, number];
/** The box logic in one line. */
export const BOX_RULE: string;
/** A region: {x0, y0, x1, y1} or [x0, y0, x1, y1], whole pixels of the upright photo. */
export type Region = Roi | readonly [number, number, number, number];
/** The ROI pass 2 classifies, from pass 1's box (x0, y0, x1, y1 in 0..1 of `region`): null when the box is not
 * finite or is too small. */
export function boxToRoi(box: ArrayLike<number>, region: Region): Roi | null;
/** True when a box was found and its ROI is below 9/10 of `region` on a side. */
export function needsSecondPass(roi: Region | null, region: Region): boolean;

// Types of the carspotter package's "./resize" entry (resize.js): the reference resize alone, no onnxruntime import.
export type Pixels = Uint8Array | Uint8ClampedArray;

/** A region of interest: x0, y0, x1, y1 in whole pixels of the upright photo, half-open (x0 <= x < x1,
 * y0 <= y < y1), 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height. As [x0, y0, x1, y1], {x0, y0, x1, y1} or
 * "x0,y0,x1,y1". A cropper's {x, y, width, height} is [x, y, x + width, y + height]. */
export type RoiLike = ArrayLike<number | string> | Roi | string;
/** A checked ROI: integers, x0 < x1, y0 < y1, inside the photo. */
export interface Roi { x0: number; y0: number; x1: number; y1: number }
/** An image and its size (upright, cut or box-reduced). */
export interface Image { pixels: Pixels; width: number; height: number }

/** [S, S, 3] RGB bytes exactly as carspotter's reference resize (channels 4: composited on white first):
 * the ROI cut at full resolution (when given), boxReduce, then bilinear. Throws RoiError for a ROI that breaks
 * ROI_RULE. */
export function resize(pixels: Pixels, width: number, height: number, channels: 3 | 4, size: number,
                       roi?: RoiLike | null): Uint8Array;
/** The rule a ROI must meet, as the error messages state it. */
export const ROI_RULE: string;
/** A ROI that breaks ROI_RULE (a RangeError): one line naming the ROI, the photo's size and the rule. */
export class RoiError extends RangeError {}
/** The ROI checked against a width x height upright photo; throws RoiError (not whole, NaN or infinite, negative,
 * empty or reversed, outside the photo). Whole numbers written as floats (12.0) are accepted. */
export function checkRoi(roi: RoiLike, width: number, height: number): Roi;
/** The ROI's pixels of an upright photo at full resolution (a copy; the photo itself for the whole photo). */
export function cutRoi(pixels: Pixels, width: number, height: number, channels: 3 | 4, roi: RoiLike): Image;
/** EXIF orientation is the stored photo's tag, 1..8. */
export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;
/** A stored photo made upright from its EXIF orientation, as Pillow's exif_transpose (5..8 swap width and height). */
export function upright(pixels: Pixels, width: number, height: number, channels: 3 | 4, orientation: Orientation): Image;
/** The box pre-reduction's factors [kx, ky] = max(1, floor(side / size)). */
export function boxFactors(width: number, height: number, size: number): [number, number];
/** The box pre-reduction of RGB bytes (the photo itself when both sides are below 2 x size). */
export function boxReduce(rgb: Pixels, width: number, height: number, size: number): { pixels: Pixels; width: number; height: number };
/** The bilinear step alone (MediaPipe's resize, no antialiasing) of RGB bytes to [size, size, 3]. */
export function bilinear(rgb: Pixels, width: number, height: number, size: number): Uint8Array;
/** The 3x3 inverse map (output pixel -> photo position), row-major, as OpenCV computes it. */
export function inverseMatrix(width: number, height: number, size: number): number[];
/** RGBA composited on opaque white (Pillow's alpha_composite rounding): RGB bytes. */
export function compositeOnWhite(rgba: Pixels): Uint8Array;

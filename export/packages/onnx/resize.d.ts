// Types of the carspotter package's "./resize" entry (resize.js): the reference resize alone, no onnxruntime import.
export type Pixels = Uint8Array | Uint8ClampedArray;

/** [S, S, 3] RGB bytes exactly as carspotter's reference resize (channels 4: composited on white first):
 * boxReduce, then bilinear. */
export function resize(pixels: Pixels, width: number, height: number, channels: 3 | 4, size: number): Uint8Array;
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

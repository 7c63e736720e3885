// Types of the carspotter package's Node-only entry (node.js).
import type { InferenceSession } from 'onnxruntime-common';
import type { Classification, OpenSessionOptions, TwoPassAnswer } from './index.js';
import type { RoiLike } from './resize.js';

export function decodeFile(file: string): Promise<{ pixels: Uint8Array; width: number; height: number; channels: 3 | 4 }>;
/** A session on this package's model, its SHA-256 checked first. */
export function createSession(options?: OpenSessionOptions): Promise<InferenceSession>;
/** A session on a model file (path or file:// URL), read whole, its SHA-256 checked against bundle.js's first. */
export function openFile(file: string | URL, options?: OpenSessionOptions): Promise<InferenceSession>;
/** Classify a photo file (decoded upright), or its region of interest in upright pixels. */
export function classifyFile(session: InferenceSession, file: string, roi?: RoiLike | null): Promise<Classification>;
/** Two-pass recognition of a photo file (decoded upright): rejects with one Error line when the model has no "box". */
export function twoPassFile(session: InferenceSession, file: string, roi?: RoiLike | null): Promise<TwoPassAnswer>;
export function selfTest(bundle?: string, log?: (line: string) => void): Promise<{ passed: boolean; runtime: string }>;

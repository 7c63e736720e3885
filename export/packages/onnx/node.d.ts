// Types of the carspotter package's Node-only entry (node.js).
import type { InferenceSession } from 'onnxruntime-common';
import type { Classification } from './index.js';

export function decodeFile(file: string): Promise<{ pixels: Uint8Array; width: number; height: number; channels: 3 | 4 }>;
export function createSession(options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
export function classifyFile(session: InferenceSession, file: string): Promise<Classification>;
export function selfTest(bundle?: string, log?: (line: string) => void): Promise<{ passed: boolean; runtime: string }>;

import type { BackendName } from '../backend/compile.js';

/**
 * The backend that `train`, `evaluate` and `npm start` use when none is named:
 * the fastest that works here, measured once per process (see backend/auto.ts).
 */
export const DEFAULT_BACKEND: BackendName = 'auto';

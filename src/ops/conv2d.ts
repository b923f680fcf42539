// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('conv2d: not written yet'); };
export const conv2dOp: OpDef<'conv2d'> = { name: 'conv2d', shape: todo, vjp: todo, reference: todo };

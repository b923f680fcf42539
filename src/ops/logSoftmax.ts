// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('logSoftmax: not written yet'); };
export const logSoftmaxOp: OpDef<'logSoftmax'> = { name: 'logSoftmax', shape: todo, vjp: todo, reference: todo };

// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('softmax: not written yet'); };
export const softmaxOp: OpDef<'softmax'> = { name: 'softmax', shape: todo, vjp: todo, reference: todo };

// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('slice: not written yet'); };
export const sliceOp: OpDef<'slice'> = { name: 'slice', shape: todo, vjp: todo, reference: todo };

// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('transpose: not written yet'); };
export const transposeOp: OpDef<'transpose'> = { name: 'transpose', shape: todo, vjp: todo, reference: todo };

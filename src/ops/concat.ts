// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('concat: not written yet'); };
export const concatOp: OpDef<'concat'> = { name: 'concat', shape: todo, vjp: todo, reference: todo };

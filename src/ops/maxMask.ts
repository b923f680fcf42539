// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('maxMask: not written yet'); };
export const maxMaskOp: OpDef<'maxMask'> = { name: 'maxMask', shape: todo, vjp: todo, reference: todo };

// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('avgPool2d: not written yet'); };
export const avgPool2dOp: OpDef<'avgPool2d'> = { name: 'avgPool2d', shape: todo, vjp: todo, reference: todo };

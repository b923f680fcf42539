// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('maxPool2d: not written yet'); };
export const maxPool2dOp: OpDef<'maxPool2d'> = { name: 'maxPool2d', shape: todo, vjp: todo, reference: todo };

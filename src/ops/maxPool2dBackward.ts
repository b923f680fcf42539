// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('maxPool2dBackward: not written yet'); };
export const maxPool2dBackwardOp: OpDef<'maxPool2dBackward'> = { name: 'maxPool2dBackward', shape: todo, vjp: todo, reference: todo };

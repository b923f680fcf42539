// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('avgPool2dBackward: not written yet'); };
export const avgPool2dBackwardOp: OpDef<'avgPool2dBackward'> = { name: 'avgPool2dBackward', shape: todo, vjp: todo, reference: todo };

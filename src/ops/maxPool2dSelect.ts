// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('maxPool2dSelect: not written yet'); };
export const maxPool2dSelectOp: OpDef<'maxPool2dSelect'> = { name: 'maxPool2dSelect', shape: todo, vjp: todo, reference: todo };

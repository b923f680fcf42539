// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('conv2dBackpropInput: not written yet'); };
export const conv2dBackpropInputOp: OpDef<'conv2dBackpropInput'> = { name: 'conv2dBackpropInput', shape: todo, vjp: todo, reference: todo };

// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('conv2dBackpropFilter: not written yet'); };
export const conv2dBackpropFilterOp: OpDef<'conv2dBackpropFilter'> = { name: 'conv2dBackpropFilter', shape: todo, vjp: todo, reference: todo };

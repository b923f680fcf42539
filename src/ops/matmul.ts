// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('matmul: not written yet'); };
export const matmulOp: OpDef<'matmul'> = { name: 'matmul', shape: todo, vjp: todo, reference: todo };

// PLACEHOLDER (being written now): replace this whole file.
import type { OpDef } from './op.js';
const todo = (): never => { throw new Error('softmaxCrossEntropy: not written yet'); };
export const softmaxCrossEntropyOp: OpDef<'softmaxCrossEntropy'> = { name: 'softmaxCrossEntropy', shape: todo, vjp: todo, reference: todo };

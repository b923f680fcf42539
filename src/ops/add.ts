import type { Tensor } from '../graph/tensor.js';
import { k } from '../kernel/source.js';
import { binary, defineBinary } from './elementwise.js';

// d(a + b) = da + db
export const addOp = defineBinary('add', {
  vjp: (g) => [g, g],
  reference: (a, b) => a + b,
  kernel: (a, b) => k`(${a} + ${b})`,
});

export const add = (a: Tensor | number, b: Tensor | number): Tensor<'add'> => binary(addOp, a, b);

import type { Tensor } from '../graph/tensor.js';
import { binary, defineBinary } from './elementwise.js';

// d(a + b) = da + db
export const addOp = defineBinary('add', (a, b) => a + b, (g) => [g, g]);

export const add = (a: Tensor | number, b: Tensor | number): Tensor<'add'> => binary(addOp, a, b);

import { type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { stridesOf } from '../graph/shape.js';
import { checkInputCount, checkTensor, makeNode, opError, type OpDef } from './op.js';
import { decode, ident, join, k } from '../kernel/source.js';
import { pad } from './pad.js';
import { copyStrided } from './transpose.js';

// A slice reads a box of x; the rest of x does not reach the output, so its
// cotangent is the output's cotangent put back in place with zeros around it:
// d(slice x) = pad(dy, [begin, dim - begin - size], 0).
export const sliceOp: OpDef<'slice'> = {
  name: 'slice',
  shape: (inputs, { begin, size }) => {
    checkInputCount('slice', inputs, 1);
    const [x] = inputs;
    for (const [what, v] of [['begin', begin], ['size', size]] as const) {
      if (!Array.isArray(v) || v.length !== x.length) {
        opError(
          'slice',
          `${what} ${JSON.stringify(v)} has ${Array.isArray(v) ? v.length : 'no'} entries but the tensor has rank ${x.length} ` +
            `(shape ${shapeToString(x)}); give one entry per axis`,
          `${what} ${JSON.stringify(v) ?? String(v)}`,
          `${x.length} entries, one per axis`,
        );
      }
    }
    x.forEach((d, i) => {
      const b = begin[i];
      const s = size[i];
      if (!Number.isInteger(b) || b < 0 || b >= d) {
        opError(
          'slice',
          `begin[${i}] = ${b} is out of range for axis ${i} of size ${d} (shape ${shapeToString(x)}); expected an integer in [0, ${d - 1}]`,
          `begin[${i}] ${b}`,
          `an integer in [0, ${d - 1}]`,
        );
      }
      if (!Number.isInteger(s) || s < 1 || b + s > d) {
        opError(
          'slice',
          `size[${i}] = ${s} from begin ${b} does not fit axis ${i} of size ${d} (shape ${shapeToString(x)}); ` +
            `expected an integer in [1, ${d - b}], or -1 for the rest of the axis`,
          `size[${i}] ${s}`,
          `an integer in [1, ${d - b}], or -1`,
        );
      }
    });
    return [...size];
  },
  vjp: (g, { inputs: [x], attrs: { begin, size } }) => [
    pad(
      g,
      x.shape.map((d, i) => [begin[i], d - begin[i] - size[i]] as const),
      0,
    ),
  ],
  jvp: ([t], { attrs }) => makeNode(sliceOp, [t!], attrs), // linear: the same box of the tangent
  reference: ([x], { begin }, out) => {
    const res = new Float64Array(sizeOf(out));
    const inStrides = stridesOf(x.shape);
    const offset = begin.reduce((o, b, i) => o + b * inStrides[i], 0);
    copyStrided(x.data, offset, inStrides, res, 0, stridesOf(out), out);
    return res;
  },
  kernel: ({ inputs: [x], attrs: { begin }, out, ints, grid }) => {
    const names = out.map((_, d) => ident(`c${d}`));
    const inStrides = stridesOf(x);
    const at = x.map((_, d) => k`(${names[d]} + ${begin[d]}) * ${inStrides[d]}`);
    if (x.length === 0) return k`return x0[0];`;
    return k`${decode(k`i`, out, names, ints, grid)}
  return x0[${join(at, ' + ')}];`;
  },
};

/**
 * The box of `x` that starts at `begin` and spans `size` elements along each
 * axis; a size of -1 takes the rest of that axis.
 */
export function slice(x: Tensor, begin: readonly number[], size: readonly number[]): Tensor<'slice'> {
  checkTensor('slice', 'x', x);
  const b = Array.isArray(begin) ? [...begin] : begin;
  // Resolve -1 only where begin is usable; the shape rule reports everything else.
  const s =
    Array.isArray(size) && Array.isArray(b)
      ? size.map((v, i) => (v === -1 && typeof b[i] === 'number' && i < x.rank ? x.shape[i] - b[i] : v))
      : size;
  return makeNode(sliceOp, [x], { begin: b, size: s });
}

import { describeValue } from '../graph/error.js';
import { Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { stridesOf } from '../graph/shape.js';
import { makeNode, normalizeAxes, opError, type OpDef } from './op.js';
import { decode, ident, join, k, type Src } from '../kernel/source.js';
import { zeros } from './constant.js';
import { slice } from './slice.js';
import { copyStrided } from './transpose.js';

// Each input fills its own stretch of the output along `axis`, so its
// cotangent is that stretch of the output's: d(concat xs)_i = slice(dy, offset_i, shape of x_i).
export const concatOp: OpDef<'concat'> = {
  name: 'concat',
  shape: (inputs, { axis }) => {
    if (inputs.length === 0) opError('concat', 'needs at least one tensor, got none', 'no inputs', 'at least one tensor');
    const [first] = inputs;
    if (!Number.isInteger(axis) || axis < 0 || axis >= first.length) {
      opError(
        'concat',
        `axis ${axis} is out of range for tensors of rank ${first.length} (input 0 has shape ${shapeToString(first)})`,
        `axis ${describeValue(axis)}`,
        `an integer axis in [0, ${first.length - 1}]`,
      );
    }
    let total = 0;
    inputs.forEach((s, i) => {
      const fits = s.length === first.length && s.every((d, a) => a === axis || d === first[a]);
      if (!fits) {
        opError(
          'concat',
          `input ${i} has shape ${shapeToString(s)} but input 0 has shape ${shapeToString(first)}; ` +
            `every input must have rank ${first.length} and the same dimensions except along axis ${axis}`,
          `input ${i} ${shapeToString(s)}`,
          `rank ${first.length} and the dimensions of input 0 ${shapeToString(first)} except along axis ${axis}`,
        );
      }
      total += s[axis];
    });
    return first.map((d, k) => (k === axis ? total : d));
  },
  vjp: (g, { inputs, attrs: { axis } }) => {
    let offset = 0;
    return inputs.map((x) => {
      const begin = x.shape.map((_, k) => (k === axis ? offset : 0));
      offset += x.shape[axis];
      return slice(g, begin, x.shape);
    });
  },
  // Linear in each input: the tangents joined alike, zeros for an input without one.
  jvp: (tangents, { inputs, attrs }) => makeNode(concatOp, inputs.map((x, i) => tangents[i] ?? zeros(x.shape)), attrs),
  reference: (inputs, { axis }, out) => {
    const res = new Float64Array(sizeOf(out));
    const outStrides = stridesOf(out);
    let offset = 0;
    for (const x of inputs) {
      copyStrided(x.data, 0, stridesOf(x.shape), res, offset * outStrides[axis], outStrides, x.shape);
      offset += x.shape[axis];
    }
    return res;
  },
  // Input j owns output positions [offset_j, offset_j + its size) along the axis.
  kernel: ({ inputs, attrs: { axis }, out, ints, grid }) => {
    const names = out.map((_, d) => ident(`c${d}`));
    const branches: Src[] = [];
    let offset = 0;
    inputs.forEach((shape, j) => {
      const strides = stridesOf(shape);
      const at = shape.map((_, d) => (d === axis ? k`(${names[d]} - ${offset}) * ${strides[d]}` : k`${names[d]} * ${strides[d]}`));
      const read = k`return ${ident(`x${j}`)}[${join(at, ' + ')}];`;
      branches.push(j === inputs.length - 1 ? read : k`if (${names[axis]} < ${offset + shape[axis]}) {
    ${read}
  }`);
      offset += shape[axis];
    });
    return k`${decode(k`i`, out, names, ints, grid)}
  ${join(branches, '\n  ')}`;
  },
};

/** Join tensors along `axis` (negative counts from the end); all other dimensions must agree. */
export function concat(xs: readonly Tensor[], axis: number): Tensor<'concat'> {
  if (!Array.isArray(xs) || xs.length === 0) {
    opError('concat', `needs a non-empty array of tensors, got ${Array.isArray(xs) ? 'an empty array' : describeValue(xs)}`, describeValue(xs), 'a non-empty array of tensors');
  }
  // makeNode names a non-tensor input; the axis can only be resolved against a tensor.
  if (!(xs[0] instanceof Tensor)) return makeNode(concatOp, [...xs], { axis });
  if (typeof axis !== 'number') opError('concat', `axis must be an integer, got ${describeValue(axis)}`, `axis ${describeValue(axis)}`, 'an integer axis');
  const rank = xs[0].rank;
  if (rank === 0) opError('concat', 'cannot concatenate scalars (rank 0); reshape them to [1] first', 'a scalar (shape [])', 'tensors of rank >= 1');
  const [a] = normalizeAxes('concat', axis, rank);
  return makeNode(concatOp, [...xs], { axis: a });
}

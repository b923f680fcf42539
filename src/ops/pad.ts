import { describeValue } from '../graph/error.js';
import { type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { stridesOf } from '../graph/shape.js';
import type { Pair } from './attrs.js';
import { checkInputCount, makeNode, opError, type OpDef } from './op.js';
import { decode, float, ident, join, k } from '../kernel/source.js';
import { slice } from './slice.js';
import { copyStrided } from './transpose.js';

// The input is copied into the middle of a constant border, so the cotangent
// of x is the middle of the cotangent: d(pad x) = slice(dy, before, shape of x).
// The constant border has no input to send a gradient to.
export const padOp: OpDef<'pad'> = {
  name: 'pad',
  shape: (inputs, { pads, value }) => {
    checkInputCount('pad', inputs, 1);
    const [x] = inputs;
    if (!Array.isArray(pads) || pads.length !== x.length) {
      opError(
        'pad',
        `got ${Array.isArray(pads) ? pads.length : JSON.stringify(pads)} [before, after] pairs for a tensor of rank ${x.length} ` +
          `(shape ${shapeToString(x)}); give one pair per axis`,
        `pads ${Array.isArray(pads) ? `of ${pads.length} pairs` : describeValue(pads)}`,
        `${x.length} [before, after] pairs, one per axis`,
      );
    }
    pads.forEach((p, i) => {
      const ok = Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v >= 0);
      if (!ok) {
        opError(
          'pad',
          `pads[${i}] is ${JSON.stringify(p) ?? String(p)}; expected [before, after], two non-negative integers`,
          `pads[${i}] ${JSON.stringify(p) ?? String(p)}`,
          '[before, after], two non-negative integers',
        );
      }
    });
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      opError('pad', `value must be a finite number, got ${typeof value === 'number' ? value : JSON.stringify(value) ?? String(value)}`, `value ${describeValue(value)}`, 'a finite number');
    }
    return x.map((d, i) => pads[i][0] + d + pads[i][1]);
  },
  vjp: (g, { inputs: [x], attrs: { pads } }) => [
    slice(
      g,
      pads.map(([before]) => before),
      x.shape,
    ),
  ],
  // The border is constant: its tangent is zero, the inside's the input's.
  jvp: ([t], { attrs: { pads } }) => makeNode(padOp, [t!], { pads, value: 0 }),
  reference: ([x], { pads, value }, out) => {
    const res = new Float64Array(sizeOf(out)).fill(value);
    const outStrides = stridesOf(out);
    const offset = pads.reduce((o, [before], i) => o + before * outStrides[i], 0);
    copyStrided(x.data, 0, stridesOf(x.shape), res, offset, outStrides, x.shape);
    return res;
  },
  // An output cell inside the border is the constant; inside the middle it reads x.
  kernel: ({ inputs: [x], attrs: { pads, value }, out, ints, grid }) => {
    const names = out.map((_, d) => ident(`c${d}`));
    const inStrides = stridesOf(x);
    const inside = x.map((n, d) => k`${names[d]} >= ${pads[d][0]} && ${names[d]} < ${pads[d][0] + n}`);
    const at = x.map((_, d) => k`(${names[d]} - ${pads[d][0]}) * ${inStrides[d]}`);
    if (x.length === 0) return k`return x0[0];`;
    return k`${decode(k`i`, out, names, ints, grid)}
  if (${join(inside, ' && ')}) {
    return x0[${join(at, ' + ')}];
  }
  return ${float(value)};`;
  },
};

/**
 * Surround `x` with a constant border: `pads[i] = [before, after]` elements
 * are added at the start and end of axis i, all set to `value` (default 0).
 */
export function pad(x: Tensor, pads: readonly Pair[], value = 0): Tensor<'pad'> {
  // Copied so that a caller mutating its array later cannot change the node; the shape rule validates.
  const copy = Array.isArray(pads) ? pads.map((p) => (Array.isArray(p) ? ([...p] as unknown as Pair) : p)) : pads;
  return makeNode(padOp, [x], { pads: copy, value });
}

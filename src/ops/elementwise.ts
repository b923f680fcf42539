/**
 * Shared machinery of the elementwise ops. Each op still has its own file
 * (its rule and derivative); this only removes the broadcasting loop that
 * would otherwise be written eleven times.
 */
import type { Tensor } from '../graph/tensor.js';
import { broadcastIndex, broadcastShapes, sameShape } from '../graph/shape.js';
import type { OpName } from './attrs.js';
import { toTensor } from './constant.js';
import { checkInputCount, makeNode, type OpDef } from './op.js';
import { decode, ident, k, offset, type Src } from '../kernel/source.js';

/** An elementwise op's rules, in the order of every op file: VJP, JVP, reference, kernel. */
export interface ElementwiseRules<O extends OpName, F extends (...xs: number[]) => number, E extends (...xs: Src[]) => Src> {
  /** The VJP, with its derivation in a comment beside it. */
  readonly vjp: OpDef<O>['vjp'];
  /** The JVP, the same derivative read forwards. */
  readonly jvp: OpDef<O>['jvp'];
  /** The function on one element (or pair of elements), in float64. */
  readonly reference: F;
  /** The same function as a kernel expression of its argument(s). */
  readonly kernel: E;
}

export function defineUnary<O extends OpName>(name: O, rules: ElementwiseRules<O, (x: number) => number, (x: Src) => Src>): OpDef<O> {
  const { vjp, jvp, reference: f, kernel: expr } = rules;
  return {
    name,
    shape: (inputs) => {
      checkInputCount(name, inputs, 1);
      return inputs[0];
    },
    vjp,
    jvp,
    reference: ([x]) => {
      const out = new Float64Array(x.data.length);
      for (let i = 0; i < out.length; i++) out[i] = f(x.data[i]);
      return out;
    },
    kernel: () => k`return ${expr(k`x0[i]`)};`,
  };
}

export function defineBinary<O extends OpName>(name: O, rules: ElementwiseRules<O, (a: number, b: number) => number, (a: Src, b: Src) => Src>): OpDef<O> {
  const { vjp, jvp, reference: f, kernel: expr } = rules;
  return {
    name,
    shape: (inputs) => {
      checkInputCount(name, inputs, 2);
      return broadcastShapes(name, inputs[0], inputs[1]);
    },
    vjp,
    jvp,
    reference: ([a, b], _attrs, outShape) => {
      const out = new Float64Array(a.data.length > b.data.length ? a.data.length : b.data.length);
      const ad = a.data;
      const bd = b.data;
      if (sameShape(a.shape, outShape) && sameShape(b.shape, outShape)) {
        for (let i = 0; i < out.length; i++) out[i] = f(ad[i], bd[i]);
      } else {
        const n = outShape.reduce((p, d) => p * d, 1);
        const ia = broadcastIndex(a.shape, outShape);
        const ib = broadcastIndex(b.shape, outShape);
        const res = new Float64Array(n);
        for (let i = 0; i < n; i++) res[i] = f(ad[ia[i]], bd[ib[i]]);
        return res;
      }
      return out;
    },
    kernel: ({ inputs: [a, b], out, ints, grid }) => {
      if (sameShape(a, out) && sameShape(b, out)) return k`return ${expr(k`x0[i]`, k`x1[i]`)};`;
      // Broadcasting: decode the output coordinates, then read each input at its own strides.
      const names = out.map((_, d) => ident(`c${d}`));
      const at = (shape: readonly number[]): Src => offset(shape, names.slice(out.length - shape.length));
      return k`${decode(k`i`, out, names, ints, grid)}
  return ${expr(k`x0[${at(a)}]`, k`x1[${at(b)}]`)};`;
    },
  };
}

export function unary<O extends OpName>(def: OpDef<O>, x: Tensor | number): Tensor<O> {
  return makeNode(def, [toTensor(x)], {} as never);
}

export function binary<O extends OpName>(def: OpDef<O>, a: Tensor | number, b: Tensor | number): Tensor<O> {
  return makeNode(def, [toTensor(a), toTensor(b)], {} as never);
}

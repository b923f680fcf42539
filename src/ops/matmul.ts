import { checkOptions } from '../graph/error.js';
import { type Shape, type Tensor, shapeToString } from '../graph/tensor.js';
import { checkBoolean, checkInputCount, type KernelContext, makeNode, opError, type OpDef } from './op.js';
import { decode, intLet, join, k, type Src } from '../kernel/source.js';
import { addAll } from './add.js';
import { reluBackward } from './reluBackward.js';
import { reluSource } from './relu.js';
import { sum } from './sum.js';
import { transpose } from './transpose.js';

// C = op(A) op(B), op a transpose where the flag says so. With G = dL/dC:
// d(A B) = dA B + A dB, so for C = A B:      dA = G Bᵀ,      dB = Aᵀ G
//                           for C = A Bᵀ:     dA = G B,       dB = Gᵀ A
//                           for C = Aᵀ B:     dA = B Gᵀ,      dB = A G
//                           for C = Aᵀ Bᵀ:    dA = Bᵀ Gᵀ,     dB = Gᵀ Aᵀ
// A transposed right operand is read in place (transposeB: rows of both
// operands run along memory). A transposed left operand is materialised
// instead: transposeA reads both operands down columns, which measured
// slower on CPUs than a transpose kernel plus a plain product (bench/README.md).
//
// A fused bias and relu (made by backend/fuse.ts): y = relu(op(A) op(B) + bias);
// dz = reluBackward(y, g) (z > 0 exactly where y > 0), then the product's
// gradients from dz, and dbias = the sum of dz over the rows.
function matmulVjp(gOut: Tensor, node: Tensor<'matmul'>): readonly (Tensor | null)[] {
  const { transposeA: tA, transposeB: tB, hasBias, relu } = node.attrs;
  const [a, b] = node.inputs;
  const g = relu ? reluBackward(node, gOut) : gOut;
  const grads = productVjp(g, a, b, tA, tB);
  return hasBias ? [...grads, sum(g, { axes: [0] })] : grads;
}

function productVjp(g: Tensor, a: Tensor, b: Tensor, tA: boolean, tB: boolean): readonly Tensor[] {
  const t = (x: Tensor) => transpose(x, [1, 0]);
  if (!tA && !tB) return [matmul(g, b, { transposeB: true }), matmul(t(a), g)];
  if (!tA && tB) return [matmul(g, b), matmul(t(g), a)];
  if (tA && !tB) return [matmul(b, g, { transposeB: true }), matmul(a, g)];
  return [matmul(t(b), g, { transposeB: true }), matmul(t(g), a, { transposeB: true })];
}

/** [M, K, N] of op(a) op(b) for stored shapes a, b. */
// Forwards, from d(op(A) op(B)) = op(dA) op(B) + op(A) op(dB): each product
// with the same flags; a fused bias adds its tangent to every row, and a
// fused relu passes dz where y > 0 (reluBackward(y, dz), as in the VJP).
function matmulJvp([ta, tb, tbias]: readonly (Tensor | null)[], node: Tensor<'matmul'>): Tensor | null {
  const { transposeA, transposeB, relu } = node.attrs;
  const [a, b] = node.inputs;
  const flags = { transposeA, transposeB };
  const dz = addAll([ta && matmul(ta, b, flags), tb && matmul(a, tb, flags), tbias ?? null]);
  return relu && dz ? reluBackward(node, dz) : dz;
}

function dims(a: Shape, b: Shape, tA: boolean, tB: boolean): [number, number, number] {
  return [tA ? a[1] : a[0], tA ? a[0] : a[1], tB ? b[0] : b[1]];
}

export const matmulOp: OpDef<'matmul'> = {
  name: 'matmul',
  shape: (inputs, { transposeA: tA, transposeB: tB, hasBias, relu }) => {
    for (const [flag, v] of Object.entries({ transposeA: tA, transposeB: tB, hasBias, relu })) checkBoolean('matmul', flag, v);
    checkInputCount('matmul', inputs, hasBias ? 3 : 2, hasBias ? 'a, b, bias' : undefined);
    const [a, b] = inputs;
    for (const [what, s, d] of [['a', a, tA ? '[K, M] (transposeA)' : '[M, K]'], ['b', b, tB ? '[N, K] (transposeB)' : '[K, N]']] as const) {
      if (s.length !== 2) {
        opError(
          'matmul',
          `${what} has shape ${shapeToString(s)} (rank ${s.length}) but matmul multiplies 2-D matrices, ${what} ${d}; ` +
            `reshape a batch into rows first`,
          `${what} ${shapeToString(s)}`,
          `a 2-D matrix ${what} ${d}`,
        );
      }
    }
    const [M, K, N] = dims(a, b, tA, tB);
    const kB = tB ? b[1] : b[0];
    if (K !== kB) {
      const aSide = tA ? `transposed a ${shapeToString(a)} has ${K} columns` : `a ${shapeToString(a)} has ${K} columns`;
      const bSide = tB ? `transposed b ${shapeToString(b)} has ${kB} rows` : `b ${shapeToString(b)} has ${kB} rows`;
      opError(
        'matmul',
        `inner dimensions differ: ${aSide} but ${bSide}; expected a ${tA ? '[K, M]' : '[M, K]'} and b ${tB ? '[N, K]' : '[K, N]'}`,
        `a ${shapeToString(a)} and b ${shapeToString(b)}`,
        `b with ${K} ${tB ? 'columns' : 'rows'}, the inner dimension of a`,
      );
    }
    if (hasBias && (inputs[2].length !== 1 || inputs[2][0] !== N)) {
      opError(
        'matmul',
        `bias must have shape [${N}] (one value per output column), got ${shapeToString(inputs[2])}`,
        `bias ${shapeToString(inputs[2])}`,
        `shape [${N}], one value per output column`,
      );
    }
    return [M, N];
  },
  vjp: matmulVjp,
  jvp: matmulJvp,
  reference: ([a, b, bias], { transposeA: tA, transposeB: tB, hasBias, relu }) => {
    const [M, K, N] = dims(a.shape, b.shape, tA, tB);
    const out = new Float64Array(M * N);
    const ad = a.data;
    const bd = b.data;
    // i-k-j order: the inner loop walks a row of op(b) and a row of the output.
    for (let i = 0; i < M; i++) {
      const row = i * N;
      for (let kk = 0; kk < K; kk++) {
        const aik = tA ? ad[kk * M + i] : ad[i * K + kk];
        if (tB) {
          for (let j = 0; j < N; j++) out[row + j] += aik * bd[j * K + kk];
        } else {
          const bRow = kk * N;
          for (let j = 0; j < N; j++) out[row + j] += aik * bd[bRow + j];
        }
      }
    }
    if (hasBias || relu) {
      for (let i = 0; i < out.length; i++) {
        const z = hasBias ? out[i] + bias.data[i % N] : out[i];
        out[i] = relu && z <= 0 ? 0 : z;
      }
    }
    return out;
  },
  kernel: (ctx) => matmulSource(ctx, () => null),
};

/**
 * The kernel: four products per loop trip (the rest after the loop), since
 * the loop counter costs as much as a product otherwise. A row of a stored
 * [M, K] (or of a transposed b, stored [N, K]) is read along memory; the
 * other layouts read down a column. `nTerm(nStride)` gives the source of
 * `n * nStride` to spell inline in each read of op(b) (a backend's own
 * spelling, in terms of the thread's x), or null to read from a base per
 * thread, as the portable kernel does.
 */
export function matmulSource(
  { inputs: [a, b], attrs: { transposeA: tA, transposeB: tB, hasBias, relu }, out, ints, grid }: KernelContext<'matmul'>,
  nTerm: (nStride: number) => Src | null,
): Src {
  const [M, K, N] = dims(a, b, tA, tB);
  // Element (m, k) of op(a) and (k, n) of op(b): a base per thread plus k times a stride.
  const aStride = tA ? M : 1;
  const bStride = tB ? 1 : N;
  const nStride = tB ? K : 1;
  const inline = nTerm(nStride);
  const bAt = (offset: Src): Src => (inline ? k`${offset} + ${inline}` : k`bBase + ${offset}`);
  const aAt = (offset: Src): Src => k`aBase + ${offset}`;
  const quads = Math.floor(K / 4);
  const product = (kk: number) => k`x0[${aAt(k`${kk * aStride}`)}] * x1[${bAt(k`${kk * bStride}`)}]`;
  const rest = Array.from({ length: K - 4 * quads }, (_, r) => k`acc += ${product(4 * quads + r)};`);
  const at = (base: Src, j: number, stride: number): Src => (j === 0 ? base : k`${base} + ${j * stride}`);
  return k`${decode(k`i`, out, [k`m`, k`n`], ints, grid)}
  ${intLet(ints, k`aBase`, tA ? k`m` : k`m * ${K}`)}
  ${inline ? k`` : intLet(ints, k`bBase`, tB ? k`n * ${K}` : k`n`)}
  let acc = ${hasBias ? k`x2[${(inline && nTerm(1)) || k`n`}]` : k`0.0`};
  for (let q = 0; q < ${quads}; q++) {
    ${intLet(ints, k`a`, k`aBase + q * ${4 * aStride}`)}
    ${intLet(ints, k`b`, inline ? k`q * ${4 * bStride}` : k`bBase + q * ${4 * bStride}`)}
    acc += ${join(
      [0, 1, 2, 3].map((j) => k`x0[${at(k`a`, j, aStride)}] * x1[${inline ? k`${at(k`b`, j, bStride)} + ${inline}` : at(k`b`, j, bStride)}]`),
      ' + ',
    )};
  }
  ${join(rest, '\n  ')}
  return ${relu ? reluSource(k`acc`) : k`acc`};`;
}

/** Options of {@link matmul}: which operands to read transposed. */
export interface MatmulOptions {
  /** Multiply by the transpose of `a` (stored `[K, M]`). Default false. */
  readonly transposeA?: boolean;
  /** Multiply by the transpose of `b` (stored `[N, K]`). Default false. */
  readonly transposeB?: boolean;
}

/**
 * The matrix product of `a` `[M, K]` and `b` `[K, N]`, shape `[M, N]`; with
 * `transposeA` / `transposeB` the product of their transposes, read in place
 * (`a` stored `[K, M]`, `b` stored `[N, K]`).
 *
 * ```ts
 * const logits = matmul(h, w);                          // [batch, in] x [in, out]
 * const dh = matmul(g, w, { transposeB: true });        // g wᵀ
 * ```
 */
export function matmul(a: Tensor, b: Tensor, options?: MatmulOptions): Tensor<'matmul'> {
  const { transposeA = false, transposeB = false } = checkOptions('matmul', options, ['transposeA', 'transposeB'], '{ transposeB: true }') ?? {};
  return makeNode(matmulOp, [a, b], {
    transposeA: checkBoolean('matmul', 'transposeA', transposeA),
    transposeB: checkBoolean('matmul', 'transposeB', transposeB),
    hasBias: false,
    relu: false,
  });
}

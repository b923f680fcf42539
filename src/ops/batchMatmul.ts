/**
 * batchMatmul: a batch of matrix products, C[p] = op(A[p]) op(B[p]) for each
 * p of the leading axis, op a transpose where the flag says so:
 *
 *   C[p, m, n] = Σ_k op(A)[p, m, k] · op(B)[p, k, n]
 *
 * with a `[B, M, K]` (`[B, K, M]` with transposeA), b `[B, K, N]` (`[B, N, K]`
 * with transposeB) and c `[B, M, N]`. Both operands have the same batch B:
 * the public `matmul()` (matmul.ts) broadcasts numpy-style batch dimensions
 * with broadcastTo, whose VJP sums the copies back, and flattens them into
 * this one leading axis. A transpose flag is read in place, never
 * materialised. NaN and infinities propagate as in any sum of products.
 */
import { checkOptions } from '../graph/error.js';
import { shapeToString, type Shape, type Tensor } from '../graph/tensor.js';
import { decode, intLet, k, type Src } from '../kernel/source.js';
import { addAll } from './add.js';
import { checkBoolean, checkInputCount, checkTensor, type KernelContext, makeNode, type NDArray, opError, type OpDef } from './op.js';
import type { OpAttrs } from './attrs.js';

type BatchMatmulAttrs = OpAttrs['batchMatmul'];

// 1. Attributes: the builder's options.

/** Options of {@link batchMatmul}: which operands to read transposed (per batch element). */
export interface BatchMatmulOptions {
  /** Multiply by the transpose of each `a[p]` (a stored `[B, K, M]`). Default false. */
  readonly transposeA?: boolean;
  /** Multiply by the transpose of each `b[p]` (b stored `[B, N, K]`). Default false. */
  readonly transposeB?: boolean;
}

/** [B, M, K, N] of op(a) op(b) for stored rank-3 shapes a, b. */
function dims(a: Shape, b: Shape, tA: boolean, tB: boolean): [number, number, number, number] {
  return [a[0], tA ? a[2] : a[1], tA ? a[1] : a[2], tB ? b[1] : b[2]];
}

// 2. Shape rule.

function batchMatmulShape(inputs: readonly Shape[], { transposeA: tA, transposeB: tB }: BatchMatmulAttrs): Shape {
  checkBoolean('batchMatmul', 'transposeA', tA);
  checkBoolean('batchMatmul', 'transposeB', tB);
  checkInputCount('batchMatmul', inputs, 2, 'a, b');
  const [a, b] = inputs;
  for (const [what, s, d] of [['a', a, tA ? '[B, K, M] (transposeA)' : '[B, M, K]'], ['b', b, tB ? '[B, N, K] (transposeB)' : '[B, K, N]']] as const) {
    if (s.length !== 3) {
      opError(
        'batchMatmul',
        `${what} has shape ${shapeToString(s)} (rank ${s.length}) but batchMatmul multiplies a batch of matrices, ${what} ${d}; ` +
          `matmul() flattens any batch dimensions into one`,
        `${what} ${shapeToString(s)}`,
        `a rank-3 ${what} ${d}`,
      );
    }
  }
  const [B, M, K, N] = dims(a, b, tA, tB);
  if (b[0] !== B) {
    opError(
      'batchMatmul',
      `the batches differ: a ${shapeToString(a)} holds ${B} matrices but b ${shapeToString(b)} holds ${b[0]}; ` +
        `broadcast them to one batch first (matmul() does)`,
      `a ${shapeToString(a)} and b ${shapeToString(b)}`,
      `b with ${B} matrices, as many as a`,
    );
  }
  const kB = tB ? b[2] : b[1];
  if (K !== kB) {
    opError(
      'batchMatmul',
      `inner dimensions differ: ${tA ? 'transposed ' : ''}a ${shapeToString(a)} has ${K} columns but ${tB ? 'transposed ' : ''}b ${shapeToString(b)} has ${kB} rows; ` +
        `expected a ${tA ? '[B, K, M]' : '[B, M, K]'} and b ${tB ? '[B, N, K]' : '[B, K, N]'}`,
      `a ${shapeToString(a)} and b ${shapeToString(b)}`,
      `b with ${K} ${tB ? 'columns' : 'rows'} per matrix, the inner dimension of a`,
    );
  }
  return [B, M, N];
}

// 3. VJP. Per batch element it is matmul's rule (matmul.ts), and since both
// sides have both flags no transpose is ever materialised. With G = dL/dC:
// d(op(A) op(B)) = op(dA) op(B) + op(A) op(dB), so ⟨G, op(dA) op(B)⟩ =
// ⟨G op(B)ᵀ, op(dA)⟩ and ⟨G, op(A) op(dB)⟩ = ⟨op(A)ᵀ G, op(dB)⟩; where op is a
// transpose, the gradient of the stored operand is the transpose of that:
//   C = A B:     dA = G Bᵀ = bmm(G, B, tB)          dB = Aᵀ G = bmm(A, G, tA)
//   C = A Bᵀ:    dA = G B  = bmm(G, B)              dB = (Aᵀ G)ᵀ = Gᵀ A = bmm(G, A, tA)
//   C = Aᵀ B:    dA = (G Bᵀ)ᵀ = B Gᵀ = bmm(B, G, tB) dB = A G = bmm(A, G)
//   C = Aᵀ Bᵀ:   dA = (G B)ᵀ = Bᵀ Gᵀ = bmm(B, G, tA, tB)
//                dB = (A G)ᵀ = Gᵀ Aᵀ = bmm(G, A, tA, tB)
// Each gradient is a batchMatmul of the same batch, so the rule differentiates again.
function batchMatmulVjp(g: Tensor, node: Tensor<'batchMatmul'>): readonly (Tensor | null)[] {
  const { transposeA: tA, transposeB: tB } = node.attrs;
  const [a, b] = node.inputs;
  if (!tA && !tB) return [batchMatmul(g, b, { transposeB: true }), batchMatmul(a, g, { transposeA: true })];
  if (!tA && tB) return [batchMatmul(g, b), batchMatmul(g, a, { transposeA: true })];
  if (tA && !tB) return [batchMatmul(b, g, { transposeB: true }), batchMatmul(a, g)];
  return [batchMatmul(b, g, { transposeA: true, transposeB: true }), batchMatmul(g, a, { transposeA: true, transposeB: true })];
}

// 3b. JVP: d(op(A) op(B)) = op(dA) op(B) + op(A) op(dB), each product with the node's flags.
function batchMatmulJvp([ta, tb]: readonly (Tensor | null)[], node: Tensor<'batchMatmul'>): Tensor | null {
  const [a, b] = node.inputs;
  const flags = { transposeA: node.attrs.transposeA, transposeB: node.attrs.transposeB };
  return addAll([ta && batchMatmul(ta, b, flags), tb && batchMatmul(a, tb, flags)]);
}

// 4. Reference.
function batchMatmulReference([a, b]: readonly NDArray[], { transposeA: tA, transposeB: tB }: BatchMatmulAttrs): Float64Array {
  const [B, M, K, N] = dims(a.shape, b.shape, tA, tB);
  const out = new Float64Array(B * M * N);
  const ad = a.data;
  const bd = b.data;
  for (let p = 0; p < B; p++) {
    const aOff = p * M * K;
    const bOff = p * K * N;
    const cOff = p * M * N;
    // i-k-j order, as matmul's reference: the inner loop walks a row of the output.
    for (let i = 0; i < M; i++) {
      const row = cOff + i * N;
      for (let kk = 0; kk < K; kk++) {
        const aik = tA ? ad[aOff + kk * M + i] : ad[aOff + i * K + kk];
        for (let j = 0; j < N; j++) out[row + j] += aik * (tB ? bd[bOff + j * K + kk] : bd[bOff + kk * N + j]);
      }
    }
  }
  return out;
}

// 5. The portable kernel: one output element (p, m, n) per thread, a loop
// over k. Element (m, k) of op(a[p]) sits at aBase + k·aStride, element
// (k, n) of op(b[p]) at bBase + k·bStride; every number spliced in is a
// dimension or a product of them (validated integers).
function batchMatmulKernel({ inputs: [a, b], attrs: { transposeA: tA, transposeB: tB }, out, ints, grid }: KernelContext<'batchMatmul'>): Src {
  const [, M, K, N] = dims(a, b, tA, tB);
  const aStride = tA ? M : 1;
  const bStride = tB ? 1 : N;
  return k`${decode(k`i`, out, [k`p`, k`m`, k`n`], ints, grid)}
  ${intLet(ints, k`aBase`, tA ? k`p * ${M * K} + m` : k`p * ${M * K} + m * ${K}`)}
  ${intLet(ints, k`bBase`, tB ? k`p * ${K * N} + n * ${K}` : k`p * ${K * N} + n`)}
  let acc = 0.0;
  for (let kk = 0; kk < ${K}; kk++) {
    acc += x0[aBase + kk * ${aStride}] * x1[bBase + kk * ${bStride}];
  }
  return acc;`;
}

// 6. The record.
export const batchMatmulOp: OpDef<'batchMatmul'> = {
  name: 'batchMatmul',
  shape: batchMatmulShape,
  vjp: batchMatmulVjp,
  jvp: batchMatmulJvp,
  reference: batchMatmulReference,
  kernel: batchMatmulKernel,
};

// 7. The builder.

/**
 * A batch of matrix products: `a` `[B, M, K]` times `b` `[B, K, N]`, matrix by
 * matrix along the leading axis, shape `[B, M, N]`; with `transposeA` /
 * `transposeB` each matrix is read transposed, in place (`a` stored
 * `[B, K, M]`, `b` stored `[B, N, K]`). Both operands must hold the same
 * number of matrices: for numpy-style broadcast batch dimensions of any rank
 * call `matmul`, which builds this node.
 *
 * ```ts
 * const c = batchMatmul(input('a', [8, 3, 4]), input('b', [8, 4, 5]));   // [8, 3, 5]
 * ```
 */
export function batchMatmul(a: Tensor, b: Tensor, options?: BatchMatmulOptions): Tensor<'batchMatmul'> {
  checkTensor('batchMatmul', 'a', a);
  checkTensor('batchMatmul', 'b', b);
  const { transposeA = false, transposeB = false } = checkOptions('batchMatmul', options, ['transposeA', 'transposeB'], '{ transposeB: true }') ?? {};
  return makeNode(batchMatmulOp, [a, b], {
    transposeA: checkBoolean('batchMatmul', 'transposeA', transposeA),
    transposeB: checkBoolean('batchMatmul', 'transposeB', transposeB),
  });
}

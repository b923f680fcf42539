import { checkOptions } from '../graph/error.js';
import { checkShape, sameShape } from '../graph/shape.js';
import { type Shape, type Tensor, shapeToString, sizeOf } from '../graph/tensor.js';
import { checkBoolean, checkInputCount, checkTensor, type KernelContext, makeNode, opError, type OpDef } from './op.js';
import { decode, intLet, join, k, type Src } from '../kernel/source.js';
import { addAll } from './add.js';
import { batchMatmul } from './batchMatmul.js';
import { broadcastTo } from './broadcastTo.js';
import { reluBackward } from './reluBackward.js';
import { reluSource } from './relu.js';
import { reshape } from './reshape.js';
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
          `${what} has shape ${shapeToString(s)} (rank ${s.length}) but a matmul node multiplies 2-D matrices, ${what} ${d}; ` +
            `build products of vectors or batches with matmul(), which promotes and batches them (batchMatmul)`,
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
  /** Multiply by the transpose of `a` (of each matrix of `a`: stored `[..., K, M]`). Default false. */
  readonly transposeA?: boolean;
  /** Multiply by the transpose of `b` (of each matrix of `b`: stored `[..., N, K]`). Default false. */
  readonly transposeB?: boolean;
}

/**
 * The matrix product of `a` `[M, K]` and `b` `[K, N]`, shape `[M, N]`; with
 * `transposeA` / `transposeB` the product of their transposes, read in place
 * (`a` stored `[K, M]`, `b` stored `[N, K]`).
 *
 * Batched, as numpy's and PyTorch's matmul: operands of rank > 2 are stacks
 * of matrices in their last two axes, `a[..., M, K] @ b[..., K, N]` is
 * `[...batch, M, N]`, and the batch dimensions broadcast by numpy's rule
 * (aligned from the right, each pair equal or 1; a rank-2 operand is one
 * matrix shared by the whole batch). The transpose flags apply to the last
 * two axes. A rank-1 operand is promoted as numpy does: `a` `[K]` is the row
 * `[1, K]`, `b` `[K]` the column `[K, 1]`, and that axis is dropped from the
 * result (`[K] @ [K]` is a scalar); a vector has no transpose, so a flag on
 * one is refused. Gradients flow through the broadcast (summed back).
 *
 * Two matrices make one `matmul` node (which compile may fuse with a bias
 * and relu); anything batched makes a `batchMatmul` node between reshapes
 * (and broadcastTo where a batch dimension is stretched).
 *
 * ```ts
 * const logits = matmul(h, w);                          // [batch, in] x [in, out]
 * const dh = matmul(g, w, { transposeB: true });        // g wᵀ
 * const scores = matmul(q, k, { transposeB: true });    // [b, heads, t, d] x [b, heads, t, d] -> [b, heads, t, t]
 * ```
 */
export function matmul(a: Tensor, b: Tensor, options?: MatmulOptions): Tensor {
  const { transposeA = false, transposeB = false } = checkOptions('matmul', options, ['transposeA', 'transposeB'], '{ transposeB: true }') ?? {};
  const tA = checkBoolean('matmul', 'transposeA', transposeA);
  const tB = checkBoolean('matmul', 'transposeB', transposeB);
  checkTensor('matmul', 'a', a);
  checkTensor('matmul', 'b', b);
  // Two matrices: the one matmul node, exactly as before (fusion and the tuned kernels see it).
  if (a.rank === 2 && b.rank === 2) return makeNode(matmulOp, [a, b], { transposeA: tA, transposeB: tB, hasBias: false, relu: false });
  return batchedProduct(a, b, tA, tB);
}

/** `x` reshaped to `shape`, or `x` itself when it has that shape already. */
const shaped = (x: Tensor, shape: Shape): Tensor => (sameShape(x.shape, shape) ? x : reshape(x, shape));

/**
 * matmul for any operand other than two matrices: vectors promoted, the
 * batch dimensions broadcast and flattened into one axis, one batchMatmul
 * (or, with no batch left, one matmul), and the result reshaped. Every
 * mistake is reported here against the shapes the user gave.
 */
function batchedProduct(a: Tensor, b: Tensor, tA: boolean, tB: boolean): Tensor {
  for (const [what, x, flag, t] of [['a', a, 'transposeA', tA], ['b', b, 'transposeB', tB]] as const) {
    if (x.rank === 0) {
      opError(
        'matmul',
        `${what} is a scalar (shape []) but matmul multiplies vectors and matrices; multiply by a scalar with mul`,
        `${what} []`,
        `${what} of rank >= 1`,
      );
    }
    if (x.rank === 1 && t) {
      opError(
        'matmul',
        `${flag} is set but ${what} ${shapeToString(x.shape)} is a vector, which has no transpose; ` +
          `drop ${flag} (a vector multiplies as a row on the left and as a column on the right)`,
        `${flag} true with ${what} ${shapeToString(x.shape)}`,
        `${flag} false for a vector, or a matrix ${what}`,
      );
    }
  }
  // numpy's promotion: a vector on the left is a row [1, K], on the right a column [K, 1].
  const aShape = a.rank === 1 ? [1, a.shape[0]] : a.shape;
  const bShape = b.rank === 1 ? [b.shape[0], 1] : b.shape;
  const [aRows, aCols] = aShape.slice(-2);
  const [bRows, bCols] = bShape.slice(-2);
  const [M, K] = tA ? [aCols, aRows] : [aRows, aCols];
  const [kB, N] = tB ? [bCols, bRows] : [bRows, bCols];
  const aLayout = a.rank === 1 ? '[K]' : tA ? '[..., K, M] (transposeA)' : '[..., M, K]';
  const bLayout = b.rank === 1 ? '[K]' : tB ? '[..., N, K] (transposeB)' : '[..., K, N]';
  if (K !== kB) {
    const aSide = a.rank === 1 ? `a ${shapeToString(a.shape)} has ${K} elements` : `${tA ? 'transposed ' : ''}a ${shapeToString(a.shape)} has ${K} columns`;
    const bSide = b.rank === 1 ? `b ${shapeToString(b.shape)} has ${kB} elements` : `${tB ? 'transposed ' : ''}b ${shapeToString(b.shape)} has ${kB} rows`;
    opError(
      'matmul',
      `inner dimensions differ: ${aSide} but ${bSide}; expected a ${aLayout} and b ${bLayout}`,
      `a ${shapeToString(a.shape)} and b ${shapeToString(b.shape)}`,
      `b with ${K} ${b.rank === 1 ? 'elements' : tB ? 'columns' : 'rows'}, the inner dimension of a`,
    );
  }
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const batch = Array.from({ length: rank }, (_, i) => {
    const da = aBatch[aBatch.length - rank + i] ?? 1;
    const db = bBatch[bBatch.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      opError(
        'matmul',
        `the batch dimensions of a ${shapeToString(a.shape)} and b ${shapeToString(b.shape)} do not broadcast: ` +
          `${shapeToString(aBatch)} vs ${shapeToString(bBatch)} (aligned from the right, each pair must be equal or 1; ${da} vs ${db} here)`,
        `batch dimensions ${shapeToString(aBatch)} of a and ${shapeToString(bBatch)} of b`,
        'batch dimensions that broadcast: aligned from the right, each pair equal or 1',
      );
    }
    return da === 1 ? db : da;
  });
  // The result as numpy shapes it: the promoted axis of a vector dropped.
  const outShape = [...batch, ...(a.rank === 1 ? [] : [M]), ...(b.rank === 1 ? [] : [N])];
  checkShape('matmul', [...batch, M, N], 'result');
  if (rank === 0) {
    // A vector and a matrix (or two vectors): one plain matrix product.
    return shaped(makeNode(matmulOp, [shaped(a, aShape), shaped(b, bShape)], { transposeA: tA, transposeB: tB, hasBias: false, relu: false }), outShape);
  }
  const count = sizeOf(batch);
  if (bBatch.every((d) => d === 1) && !tA && a.rank > 2) {
    // One matrix b shared by the whole batch of a, read row by row: the batch
    // folds into a's rows, [count·M, K] · op(b), one plain matmul (no copy of b
    // per batch element, and the tuned kernels and fusion apply).
    const rows = makeNode(matmulOp, [shaped(broadcastTo(a, [...batch, M, K]), [count * M, K]), shaped(b, bShape.slice(-2))], {
      transposeA: false,
      transposeB: tB,
      hasBias: false,
      relu: false,
    });
    return shaped(rows, outShape);
  }
  const flat = (x: Tensor, xShape: Shape, what: string): Tensor => {
    const full = [...batch, ...xShape.slice(-2)];
    checkShape('matmul', full, `${what} broadcast to the batch`);
    return shaped(broadcastTo(shaped(x, xShape), full), [count, ...xShape.slice(-2)]);
  };
  const c = batchMatmul(flat(a, aShape, 'a'), flat(b, bShape, 'b'), { transposeA: tA, transposeB: tB });
  return shaped(c, outShape);
}

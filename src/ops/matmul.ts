import { type Tensor, shapeToString } from '../graph/tensor.js';
import { makeNode, opError, type OpDef } from './op.js';
import { decode, intLet, join, k } from '../backend/gpujs/source.js';
import { transpose } from './transpose.js';

// d(A B) = dA B + A dB, so with C = A B: dL/dA = G Bᵀ and dL/dB = Aᵀ G.
export const matmulOp: OpDef<'matmul'> = {
  name: 'matmul',
  shape: (inputs) => {
    if (inputs.length !== 2) opError('matmul', `takes 2 inputs, got ${inputs.length}`);
    const [a, b] = inputs;
    for (const [what, s, dims] of [['a', a, '[M, K]'], ['b', b, '[K, N]']] as const) {
      if (s.length !== 2) {
        opError(
          'matmul',
          `${what} has shape ${shapeToString(s)} (rank ${s.length}) but matmul multiplies 2-D matrices, ${what} ${dims}; ` +
            `reshape a batch into rows first`,
        );
      }
    }
    if (a[1] !== b[0]) {
      opError(
        'matmul',
        `inner dimensions differ: a ${shapeToString(a)} has ${a[1]} columns but b ${shapeToString(b)} has ${b[0]} rows; ` +
          `expected a [M, K] and b [K, N]`,
      );
    }
    return [a[0], b[1]];
  },
  vjp: (g, { inputs: [a, b] }) => [matmul(g, transpose(b)), matmul(transpose(a), g)],
  // Four products per loop trip (the rest after the loop): the loop counter
  // costs as much as a product otherwise.
  kernel: ({ inputs: [[, K], [, N]], out, ints, grid }) => {
    const quads = Math.floor(K / 4);
    const rest = Array.from({ length: K - 4 * quads }, (_, r) => k`acc += x0[aRow + ${4 * quads + r}] * x1[${(4 * quads + r) * N} + n];`);
    return k`${decode(k`i`, out, [k`m`, k`n`], ints, grid)}
  ${intLet(ints, k`aRow`, k`m * ${K}`)}
  let acc = 0.0;
  for (let q = 0; q < ${quads}; q++) {
    ${intLet(ints, k`a`, k`aRow + q * 4`)}
    ${intLet(ints, k`b`, k`q * ${4 * N} + n`)}
    acc += x0[a] * x1[b] + x0[a + 1] * x1[b + ${N}] + x0[a + 2] * x1[b + ${2 * N}] + x0[a + 3] * x1[b + ${3 * N}];
  }
  ${join(rest, '\n  ')}
  return acc;`;
  },
  reference: ([a, b]) => {
    const [M, K] = a.shape;
    const N = b.shape[1];
    const out = new Float64Array(M * N);
    const ad = a.data;
    const bd = b.data;
    // i-k-j order: the inner loop walks a row of b and a row of the output, both contiguous.
    for (let i = 0; i < M; i++) {
      const row = i * N;
      for (let k = 0; k < K; k++) {
        const aik = ad[i * K + k];
        const bRow = k * N;
        for (let j = 0; j < N; j++) out[row + j] += aik * bd[bRow + j];
      }
    }
    return out;
  },
};

/** The matrix product of `a` `[M, K]` and `b` `[K, N]`, shape `[M, N]`. */
export function matmul(a: Tensor, b: Tensor): Tensor<'matmul'> {
  return makeNode(matmulOp, [a, b], {});
}

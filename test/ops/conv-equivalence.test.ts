/**
 * Lecture section 6: a conv layer computes exactly what one MLP layer with
 * shared weights computes when it is run on every block (patch) of the input.
 * Here the MLP side is plain float64 JavaScript on the host: im2col lays every
 * patch out as a row, one matrix product with the reshaped filter gives every
 * output, and the per-patch MLP gradients, summed over patches, give the
 * filter gradient (scattered back, the input gradient).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile, grad, input, mul, sum } from '../../src/index.js';
import { conv2d } from '../../src/ops/conv2d.js';
import { type Padding, resolvePads } from '../../src/ops/window.js';
import { propertyRuns, randomValues, seedArb } from '../helpers.js';

type Shape4 = [number, number, number, number];
interface Layer {
  xShape: Shape4;
  wShape: Shape4;
  stride: [number, number];
  dilation: [number, number];
  padding: Padding;
}

/** Where each patch element comes from: for patch row r = (n,i,j) and column k = (c,p,q), the flat index into x, or -1 for padding. */
function im2colIndex(l: Layer) {
  const [N, C, H, W] = l.xShape;
  const [, , kH, kW] = l.wShape;
  const [sh, sw] = l.stride;
  const [dh, dw] = l.dilation;
  const pads = resolvePads('test', l.padding, [H, W], [dh * (kH - 1) + 1, dw * (kW - 1) + 1], l.stride);
  const oH = Math.floor((H + pads[0] + pads[1] - dh * (kH - 1) - 1) / sh) + 1;
  const oW = Math.floor((W + pads[2] + pads[3] - dw * (kW - 1) - 1) / sw) + 1;
  const rows = N * oH * oW;
  const K = C * kH * kW;
  const src = new Int32Array(rows * K);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < oH; i++)
      for (let j = 0; j < oW; j++)
        for (let c = 0; c < C; c++)
          for (let p = 0; p < kH; p++)
            for (let q = 0; q < kW; q++) {
              const h = i * sh - pads[0] + p * dh;
              const v = j * sw - pads[2] + q * dw;
              const r = (n * oH + i) * oW + j;
              const k = (c * kH + p) * kW + q;
              src[r * K + k] = h < 0 || h >= H || v < 0 || v >= W ? -1 : ((n * C + c) * H + h) * W + v;
            }
  return { src, rows, K, oH, oW };
}

/** The MLP side: patches [rows, K] times the shared weights [K, O] plus bias; and its gradients for output cotangent G. */
function mlpOnPatches(l: Layer, x: Float64Array, w: Float64Array, b: Float64Array, G: Float64Array) {
  const { src, rows, K, oH, oW } = im2colIndex(l);
  const [N] = l.xShape;
  const O = l.wShape[0];
  const cols = new Float64Array(rows * K);
  for (let t = 0; t < cols.length; t++) cols[t] = src[t] < 0 ? 0 : x[src[t]];
  // Shared weights: Wm[k, o] = w[o, k] (the filter of output channel o, flattened).
  const z = new Float64Array(rows * O);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < O; o++) {
      let acc = b[o];
      for (let k = 0; k < K; k++) acc += cols[r * K + k] * w[o * K + k];
      z[r * O + o] = acc;
    }
  // Back to NCHW: patch row r = (n, i, j).
  const y = new Float64Array(N * O * oH * oW);
  const g = new Float64Array(rows * O); // the cotangent of each patch's MLP output
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let s = 0; s < oH * oW; s++) {
        y[(n * O + o) * oH * oW + s] = z[(n * oH * oW + s) * O + o];
        g[(n * oH * oW + s) * O + o] = G[(n * O + o) * oH * oW + s];
      }
  // Per-patch MLP gradients: dWm = patch^T g_patch, dpatch = Wm g_patch, db = g_patch; summed over patches.
  const dw = new Float64Array(O * K);
  const db = new Float64Array(O);
  const dx = new Float64Array(x.length);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < O; o++) {
      const go = g[r * O + o];
      db[o] += go;
      for (let k = 0; k < K; k++) {
        dw[o * K + k] += cols[r * K + k] * go;
        if (src[r * K + k] >= 0) dx[src[r * K + k]] += w[o * K + k] * go; // col2im: patches overlap, contributions add
      }
    }
  return { y, yShape: [N, O, oH, oW], dx, dw, db };
}

function compare(l: Layer, seed: number): void {
  const xv = randomValues(l.xShape.reduce((a, b) => a * b), seed);
  const wv = randomValues(l.wShape.reduce((a, b) => a * b), seed + 1);
  const O = l.wShape[0];
  const bv = randomValues(O, seed + 2);
  const x = input('x', l.xShape);
  const w = input('w', l.wShape);
  const b = input('b', [O]);
  const y = conv2d(x, w, { stride: l.stride, dilation: l.dilation, padding: l.padding, bias: b });
  const G = input('G', y.shape);
  const Gv = randomValues(y.size, seed + 3);
  const [gx, gw, gb] = grad(sum(mul(y, G)), [x, w, b]);
  const [yr, gxr, gwr, gbr] = compile([y, gx, gw, gb]).runSync({ x: xv, w: wv, b: bv, G: Gv });
  const mlp = mlpOnPatches(l, xv, wv, bv, Gv);
  expect(yr.shape).toEqual(mlp.yShape);
  const close = (got: Float64Array, want: Float64Array) => {
    expect(got.length).toBe(want.length);
    got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-12 * Math.max(1, Math.abs(want[i]))));
  };
  close(yr.data, mlp.y);
  close(gwr.data, mlp.dw);
  close(gxr.data, mlp.dx);
  close(gbr.data, mlp.db);
}

describe('a conv layer is one MLP with shared weights run on every patch', () => {
  const layers: [string, Layer][] = [
    ["LeNet-5's first layer (6@5x5, no padding, stride 1)", { xShape: [2, 1, 12, 12], wShape: [6, 1, 5, 5], stride: [1, 1], dilation: [1, 1], padding: 'valid' }],
    ["stride 2, 'same' padding (asymmetric pads)", { xShape: [1, 3, 8, 7], wShape: [4, 3, 3, 3], stride: [2, 2], dilation: [1, 1], padding: 'same' }],
    ['stride 3 with leftovers, explicit pads', { xShape: [2, 2, 10, 9], wShape: [3, 2, 2, 4], stride: [3, 2], dilation: [1, 1], padding: [1, 0] }],
    ['dilation 2, padding [top,bottom,left,right]', { xShape: [1, 2, 9, 9], wShape: [2, 2, 3, 2], stride: [1, 2], dilation: [2, 2], padding: [0, 2, 1, 0] }],
    ['1x1 filters (network in network)', { xShape: [3, 4, 5, 5], wShape: [8, 4, 1, 1], stride: [1, 1], dilation: [1, 1], padding: 'valid' }],
  ];
  it.each(layers)('forward, filter, input and bias gradients: %s', (_name, layer) => compare(layer, 5));

  it('holds over random layers', () => {
    const layerArb: fc.Arbitrary<Layer> = fc
      .record({
        n: fc.integer({ min: 1, max: 3 }),
        c: fc.integer({ min: 1, max: 4 }),
        o: fc.integer({ min: 1, max: 4 }),
        k: fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 })),
        stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
        dilation: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
        padding: fc.oneof(fc.constant<Padding>('valid'), fc.constant<Padding>('same'), fc.integer({ min: 0, max: 2 })),
        extra: fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 })),
      })
      .map(({ n, c, o, k, stride, dilation, padding, extra }) => {
        const pad = typeof padding === 'number' ? 2 * padding : 0;
        const hw = [0, 1].map((a) => Math.max(1, dilation[a] * (k[a] - 1) + 1 - (padding === 'same' ? Infinity : pad)) + extra[a]);
        return { xShape: [n, c, hw[0], hw[1]] as Shape4, wShape: [o, c, k[0], k[1]] as Shape4, stride, dilation, padding };
      });
    fc.assert(
      fc.property(layerArb, seedArb, (layer, seed) => compare(layer, seed)),
      { numRuns: propertyRuns },
    );
  });
});

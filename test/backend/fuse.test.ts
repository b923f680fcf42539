/**
 * compile's rewrite for the device backends (src/backend/fuse.ts): relu after
 * a convolution that nothing else reads becomes one fused conv2d node.
 */
import { describe, expect, it } from 'vitest';
import { fuseForDevice } from '../../src/backend/fuse.js';
import { wasmRewrites } from '../../src/backend/gpujs/wasm/rewrites.js';
import { compile } from '../../src/backend/compile.js';
import { add, conv2d, grad, input, matmul, maxPool2d, mul, relu, sum, topologicalOrder, type Tensor } from '../../src/index.js';
import { randomValues } from '../helpers.js';
import { conv2dBackpropInput } from '../../src/ops/conv2dBackpropInput.js';
import { conv2dBackpropFilter } from '../../src/ops/conv2dBackpropFilter.js';
import fc from 'fast-check';

const x = input('x', [2, 3, 8, 8]);
const w = input('w', [4, 3, 3, 3]);
const b = input('b', [4]);

describe('fuseForDevice', () => {
  it('fuses relu into the convolution it follows, sharing every other node', () => {
    const h = conv2d(x, w, { bias: b });
    const p = maxPool2d(relu(h), { size: 2 });
    const [fused] = fuseForDevice([p]);
    expect(fused).not.toBe(p);
    expect(fused.op).toBe('maxPool2d');
    const conv = fused.inputs[0] as typeof h;
    expect(conv.op).toBe('conv2d');
    expect(conv.attrs.relu).toBe(true);
    expect(conv.inputs).toEqual([x, w, b]); // the same input nodes
    expect(h.attrs.relu).toBe(false); // the original graph is untouched
    expect(Object.isFrozen(conv)).toBe(true);
  });

  it('leaves a convolution that something else reads, or that is an output, alone', () => {
    const h = conv2d(x, w);
    const twice = sum(mul(relu(h), h));
    expect(fuseForDevice([twice])[0]).toBe(twice);
    const r = relu(h);
    const both = fuseForDevice([r, h]);
    expect(both[0]).toBe(r);
    expect(both[1]).toBe(h);
  });

  it('fuses a training graph: the backward pass reads relu through its output', () => {
    const loss = sum(maxPool2d(relu(conv2d(x, w, { bias: b })), { size: 2 }));
    const grads = grad(loss, [x, w, b]);
    const fused = fuseForDevice([loss, ...grads]);
    const ops = topologicalOrder(fused).map((n) => n.op);
    expect(ops).not.toContain('relu');
    expect(ops).toContain('reluBackward');
    expect(topologicalOrder(fused).filter((n) => n.op === 'conv2d')).toHaveLength(1);
  });

  it('computes on the device what the reference computes unfused', async () => {
    const loss = sum(mul(maxPool2d(relu(conv2d(x, w, { bias: b, padding: 1 })), { size: 2 }), 0.5));
    const grads = grad(loss, [x, w, b]);
    const feeds = { x: randomValues(2 * 3 * 64, 1), w: randomValues(4 * 27, 2), b: randomValues(4, 3) };
    const want = await compile([loss, ...grads]).run(feeds);
    const f = compile([loss, ...grads], { backend: 'webasm' });
    expect(f.plan.map((s) => s.op)).not.toContain('relu');
    const got = await f.run(feeds);
    await f.dispose();
    got.forEach((r, i) => r.data.forEach((v, j) => expect(v).toBeCloseTo(want[i].data[j], 4)));
  });

  it('fuses an inference block, relu and max pool, into one conv2dMaxPool on the wasm backends', async () => {
    const y = maxPool2d(relu(conv2d(x, w, { bias: b })), { size: 2 });
    const [fused] = wasmRewrites(fuseForDevice([y]), { convPool: true });
    expect(fused.op).toBe('conv2dMaxPool');
    expect(fused.inputs).toEqual([x, w, b]);
    expect(fuseForDevice([y])[0].op).toBe('maxPool2d'); // without convPool: relu fused only
    const feeds = { x: randomValues(2 * 3 * 64, 4), w: randomValues(4 * 27, 5), b: randomValues(4, 6) };
    const [want] = await compile(y).run(feeds);
    for (const backend of ['webasm', 'cpu'] as const) {
      const f = compile([y], { backend });
      expect(f.plan.map((s) => s.op)).toEqual(backend === 'webasm' ? ['conv2dMaxPool'] : ['conv2d', 'maxPool2d']);
      const [got] = await f.run(feeds);
      await f.dispose();
      got.data.forEach((v, j) => expect(v).toBeCloseTo(want.data[j], 4));
    }
  });

  it('keeps the convolution of a training graph, which its backward pass reads', () => {
    const loss = sum(maxPool2d(relu(conv2d(x, w, { bias: b })), { size: 2 }));
    const ops = topologicalOrder(wasmRewrites(fuseForDevice([loss, ...grad(loss, [w, b])]), { convPool: true })).map((n) => n.op);
    expect(ops).not.toContain('conv2dMaxPool');
    expect(ops).toContain('conv2d');
  });

  it('gives a stride-1 input gradient a zero-padded dy with the full padding on the wasm backends', async () => {
    const dy = input('dy', [2, 4, 6, 6]);
    const f3 = input('f3', [4, 3, 3, 3]);
    // 'same' padding (1 on every side) of an 8x8 input: dy gains 1 more on every side.
    const dx = conv2dBackpropInput(dy, f3, { inputShape: [2, 3, 8, 8] });
    const [padded] = wasmRewrites(fuseForDevice([dx]), { padInputGradient: true });
    expect(padded.op).toBe('conv2dBackpropInput');
    expect((padded as Tensor<'conv2dBackpropInput'>).attrs.pads).toEqual([2, 2, 2, 2]);
    expect(padded.inputs[0].op).toBe('pad');
    expect(padded.inputs[0].shape).toEqual([2, 4, 10, 10]);
    expect(padded.inputs[1]).toBe(f3);
    expect(fuseForDevice([dx])[0]).toBe(dx); // without the option: as written
    // Already full, strided, or padded beyond k - 1: left alone.
    const full = conv2dBackpropInput(input('d2', [2, 4, 10, 10]), f3, { inputShape: [2, 3, 8, 8], padding: 2 });
    expect(wasmRewrites(fuseForDevice([full]), { padInputGradient: true })[0]).toBe(full);
    const dilated = conv2dBackpropInput(input('d3', [2, 4, 3, 3]), f3, { inputShape: [2, 3, 9, 9], stride: 2, dilation: 2 });
    expect(wasmRewrites(fuseForDevice([dilated]), { padInputGradient: true })[0]).toBe(dilated);
    const wide = conv2dBackpropInput(input('d4', [2, 4, 12, 12]), f3, { inputShape: [2, 3, 8, 8], padding: 3 });
    expect(wasmRewrites(fuseForDevice([wide]), { padInputGradient: true })[0]).toBe(wide);
    // The same numbers as the reference, with the pad in the wasm plan.
    const feeds = { dy: randomValues(2 * 4 * 36, 7), f3: randomValues(4 * 27, 8) };
    const [want] = await compile(mul(dx, 1.5)).run(feeds);
    const f = compile([mul(dx, 1.5)], { backend: 'webasm' });
    expect(f.plan.map((s) => s.op)).toEqual(['pad', 'conv2dBackpropInput', 'mul']);
    const [got] = await f.run(feeds);
    await f.dispose();
    got.data.forEach((v, j) => expect(v).toBeCloseTo(want.data[j], 4));
  });

  it('makes a strided input gradient a stride-1 one over dy with zeros between its cells, then pads it in full', () => {
    // A 3x3 filter, stride 2, padding 1 over a 7x7 input: dy is 4x4. The
    // stride-1 convolution's output is 7 + 2 - 3 + 1 = 7 wide, so dy's
    // cells go 2 apart into 7 columns (the floor dropped none here), then
    // the full padding of 1 more on every side: 9x9.
    const dy = input('dy', [2, 4, 4, 4]);
    const f3 = input('f3', [4, 3, 3, 3]);
    const dx = conv2dBackpropInput(dy, f3, { inputShape: [2, 3, 7, 7], stride: 2, padding: 1 });
    const [unit] = wasmRewrites([dx], { padInputGradient: true }) as [Tensor<'conv2dBackpropInput'>];
    expect(unit.op).toBe('conv2dBackpropInput');
    expect(unit.attrs.stride).toEqual([1, 1]);
    expect(unit.attrs.pads).toEqual([2, 2, 2, 2]);
    expect(unit.inputs[0].shape).toEqual([2, 4, 9, 9]);
    expect(topologicalOrder([unit]).map((n) => n.op)).toEqual(['input', 'reshape', 'pad', 'reshape', 'slice', 'pad', 'input', 'conv2dBackpropInput']);
    // A strided filter gradient of a padded convolution reads a padded x and has no padding itself.
    const xs = input('xs', [2, 3, 7, 7]);
    const dw = conv2dBackpropFilter(xs, dy, { filterShape: [4, 3, 3, 3], stride: 2, padding: 1 });
    const [unpadded] = wasmRewrites([dw], { padFilterGradient: true }) as [Tensor<'conv2dBackpropFilter'>];
    expect(unpadded.attrs.pads).toEqual([0, 0, 0, 0]);
    expect(unpadded.inputs[0].op).toBe('pad');
    expect(unpadded.inputs[0].shape).toEqual([2, 3, 9, 9]);
    const valid = conv2dBackpropFilter(xs, input('dv', [2, 4, 5, 5]), { filterShape: [4, 3, 3, 3] });
    expect(wasmRewrites([valid], { padFilterGradient: true })[0]).toBe(valid);
  });

  it('gives the reference\'s gradients on webasm through the rewrites, for random strides, paddings, sizes and groups', async () => {
    // Every rewrite of a convolution's two gradients is checked here on
    // geometries drawn at random (uneven strides, asymmetric padding, sizes
    // whose forward floor drops rows, groups), against the float64 reference.
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }),
          groups: fc.constantFrom(1, 2),
          cg: fc.integer({ min: 1, max: 3 }),
          og: fc.constantFrom(1, 2, 3, 4, 8),
          h: fc.integer({ min: 3, max: 11 }),
          w: fc.integer({ min: 3, max: 11 }),
          kh: fc.integer({ min: 1, max: 3 }),
          kw: fc.integer({ min: 1, max: 3 }),
          sh: fc.integer({ min: 1, max: 3 }),
          sw: fc.integer({ min: 1, max: 3 }),
          pads: fc.tuple(fc.nat(2), fc.nat(2), fc.nat(2), fc.nat(2)),
          seed: fc.nat(1000),
        }),
        async ({ n, groups, cg, og, h, w: width, kh, kw, sh, sw, pads, seed }) => {
          const [pt, pb, pl, pr] = pads;
          if (h + pt + pb < kh || width + pl + pr < kw) return;
          const C = cg * groups;
          const O = og * groups;
          const xs = input('x', [n, C, h, width]);
          const filter = input('w', [O, cg, kh, kw]);
          const y = conv2d(xs, filter, { stride: [sh, sw], padding: [pt, pb, pl, pr], groups });
          const loss = sum(mul(y, y));
          const outputs = grad(loss, [xs, filter]);
          const feeds = { x: randomValues(n * C * h * width, seed), w: randomValues(O * cg * kh * kw, seed + 1) };
          const want = await compile(outputs).run(feeds);
          const f = compile(outputs, { backend: 'webasm' });
          const got = await f.run(feeds);
          await f.dispose();
          for (let o = 0; o < 2; o++) {
            const scale = Math.max(1, ...Array.from(want[o].data, Math.abs));
            got[o].data.forEach((v, j) => expect(Math.abs(v - want[o].data[j])).toBeLessThan(1e-4 * scale));
          }
        },
      ),
      { numRuns: 40, seed: 20261203 },
    );
  });

  it('fuses only the geometry the blocked kernel takes', () => {
    const strided = maxPool2d(relu(conv2d(x, w, { stride: 2 })), { size: 2 });
    expect(wasmRewrites(fuseForDevice([strided]), { convPool: true })[0].op).toBe('maxPool2d');
    const overlapping = maxPool2d(relu(conv2d(x, w)), { size: 3, stride: 2 });
    expect(wasmRewrites(fuseForDevice([overlapping]), { convPool: true })[0].op).toBe('maxPool2d');
  });

  it('fuses a dense layer, bias and relu, into its matmul (either add order), in training graphs too', async () => {
    const h = input('h', [5, 8]);
    const v = input('v', [8, 4]);
    const c = input('c', [4]);
    const layer = relu(add(c, matmul(h, v)));
    const [fused] = fuseForDevice([layer]);
    expect(fused.op).toBe('matmul');
    expect((fused as Tensor<'matmul'>).attrs).toMatchObject({ hasBias: true, relu: true });
    expect(fused.inputs).toEqual([h, v, c]);
    const loss = sum(mul(layer, layer));
    const all = [loss, ...grad(loss, [h, v, c])];
    const nodes = topologicalOrder(fuseForDevice(all));
    expect(nodes.map((n) => n.op)).not.toContain('relu');
    expect(nodes.filter((n) => n.op === 'matmul' && (n as Tensor<'matmul'>).attrs.hasBias && (n as Tensor<'matmul'>).attrs.relu)).toHaveLength(1);
    const feeds = { h: randomValues(40, 7), v: randomValues(32, 8), c: randomValues(4, 9) };
    const want = await compile(all).run(feeds);
    const f = compile(all, { backend: 'webasm' });
    const got = await f.run(feeds);
    await f.dispose();
    got.forEach((r, i) => r.data.forEach((x, j) => expect(x).toBeCloseTo(want[i].data[j], 4)));
    // A product read elsewhere, or a bias that is not one value per column, stays apart.
    const m = matmul(h, v);
    expect(fuseForDevice([add(m, c), m])[0].op).toBe('add');
    expect(fuseForDevice([add(matmul(h, v), input('d', [5, 4]))])[0].op).toBe('add');
  });
});

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
    const strided = conv2dBackpropInput(input('d3', [2, 4, 3, 3]), f3, { inputShape: [2, 3, 7, 7], stride: 2 });
    expect(wasmRewrites(fuseForDevice([strided]), { padInputGradient: true })[0]).toBe(strided);
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

/**
 * The summary's multiply-adds and receptive fields (src/nn/analysis.ts),
 * against numbers worked out by hand from the lecture's formulas.
 */
import { describe, expect, it } from 'vitest';
import { defineModel, formatSummary, lenet5, matmul, nn, reshape, summary, type Layer } from '../../src/index.js';

describe('summary: multiply-adds and receptive fields', () => {
  it('LeNet-5: C·kH·kW products per output, inputs times outputs per dense layer, fields 5, 6, 14, 16, then all', () => {
    const s = summary(lenet5());
    const by = Object.fromEntries(s.layers.map((l) => [l.name, l]));
    expect(by.conv1.multiplyAdds).toBe(6 * 24 * 24 * 1 * 5 * 5);
    expect(by.conv2.multiplyAdds).toBe(16 * 8 * 8 * 6 * 5 * 5);
    expect(by.fc1.multiplyAdds).toBe(256 * 120);
    expect(by.fc3.multiplyAdds).toBe(84 * 10);
    expect(by.relu1.multiplyAdds).toBe(0);
    expect(by.pool1.multiplyAdds).toBe(0);
    expect(s.totalMultiplyAdds).toBe(86_400 + 153_600 + 30_720 + 10_080 + 840);
    expect([by.conv1, by.pool1, by.conv2, by.pool2].map((l) => l.receptiveField)).toEqual([[5, 5], [6, 6], [14, 14], [16, 16]]);
    expect([by.flatten1, by.fc1, by.fc3].map((l) => l.receptiveField)).toEqual(['all', 'all', 'all']);
    expect(formatSummary(s)).toMatch(/^conv2 +conv2d +\[N,16,8,8\] +2,416 +153,600 +14x14$/m);
    expect(formatSummary(s)).toContain('total parameters: 44,426, multiply-adds per example: 281,640');
  });

  it('strides and dilation: rf grows by d (k - 1) jump, and jump by the stride', () => {
    const m = defineModel('dilated', [1, 32, 32], [
      nn.conv2d('a', { filters: 2, size: 3, stride: 2 }), // rf 3, jump 2
      nn.conv2d('b', { filters: 2, size: 3, dilation: 2 }), // rf 3 + 2*2*2 = 11, jump 2
      nn.conv2d('c', { filters: 2, size: [1, 3], stride: [1, 2] }), // rf [11, 11 + 2*2 = 15], jump [2, 4]
      nn.maxPool2d({ size: 2, stride: 2 }), // rf [11 + 2, 15 + 4] = [13, 19]
    ]);
    const s = summary(m);
    expect(s.layers.map((l) => l.receptiveField)).toEqual([[3, 3], [11, 11], [11, 15], [13, 19]]);
    // a: 2 filters x 15x15 outputs x 1x3x3; b: 2 x 11x11 x 2x3x3.
    expect(s.layers[0].multiplyAdds).toBe(2 * 15 * 15 * 9);
    expect(s.layers[1].multiplyAdds).toBe(2 * 11 * 11 * 2 * 9);
  });

  it('grouped and depthwise convolutions: C/groups·kH·kW products per output, parameters likewise', () => {
    const m = defineModel('grouped', [6, 10, 10], [
      nn.conv2d('g', { filters: 4, size: 3, groups: 2 }), // 4 x 8x8 outputs, each 3 channels x 3x3
      nn.conv2d('d', { filters: 8, size: 3, groups: 4, padding: 1 }), // depthwise, multiplier 2: 8 x 8x8, each 1 x 3x3
      nn.conv2d('p', { filters: 6, size: 1 }), // pointwise: 6 x 8x8, each 8 x 1x1
    ]);
    const s = summary(m);
    expect(s.layers.map((l) => l.multiplyAdds)).toEqual([4 * 64 * 3 * 9, 8 * 64 * 1 * 9, 6 * 64 * 8]);
    expect(s.layers.map((l) => l.paramCount)).toEqual([4 * (3 * 9 + 1), 8 * (9 + 1), 6 * (8 + 1)]);
    // groups change which channels a filter reads, not how far it sees
    expect(s.layers.map((l) => l.receptiveField)).toEqual([[3, 3], [5, 5], [5, 5]]);
  });

  it('a residual block sees what its widest branch sees, and counts each node once', () => {
    const body = nn.sequential(nn.conv2d('c1', { filters: 4, size: 3, padding: 'same' }), nn.relu(), nn.conv2d('c2', { filters: 4, size: 3, padding: 'same' }));
    const m = defineModel('res', [4, 8, 8], [nn.residual(body), nn.relu()]);
    const s = summary(m);
    const add = s.layers.find((l) => l.kind === 'add')!;
    expect(add.receptiveField).toEqual([5, 5]);
    expect(add.multiplyAdds).toBe(0);
    expect(s.totalMultiplyAdds).toBe(2 * (4 * 8 * 8 * 4 * 9));
  });

  it('channel-wise layers (local response norm, batch norm) keep the field of their input', () => {
    const m = defineModel('norms', [3, 12, 12], [
      nn.conv2d('c1', { filters: 6, size: 3 }),
      nn.localResponseNorm(), // pools x² across 5 channels: spatially it sees one cell of its input
      nn.maxPool2d({ size: 2 }),
      nn.batchNorm('bn'),
      nn.conv2d('c2', { filters: 4, size: 3 }),
    ]);
    const s = summary(m);
    expect(s.layers.map((l) => l.receptiveField)).toEqual([[3, 3], [3, 3], [4, 4], [4, 4], [8, 8]]);
  });

  it('a batched matmul counts M·N·K multiply-adds per example', () => {
    // [N, 4, 6] (reshaped image) times itself transposed: per example 4 x 4 outputs of 6 products.
    const gram: Layer = (x, ctx) => {
      const rows = reshape(x, [x.shape[0], 4, 6]);
      const y = matmul(rows, rows, { transposeB: true });
      ctx.record('gram', 'matmul', y);
      return y;
    };
    const m = defineModel('gram', [1, 4, 6], [gram]);
    expect(summary(m).totalMultiplyAdds).toBe(4 * 4 * 6);
  });

  it('a model of dense layers on a flat input sees everything', () => {
    const s = summary(defineModel('mlp', [20], [nn.dense('h', { units: 8 }), nn.relu(), nn.dense('o', { units: 3 })]));
    expect(s.layers.map((l) => l.receptiveField)).toEqual(['all', 'all', 'all']);
    expect(s.layers.map((l) => l.multiplyAdds)).toEqual([160, 0, 24]);
  });
});

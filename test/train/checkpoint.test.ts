import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint, type TensorGroup } from '../../src/train/checkpoint.js';

function tensor(shape: number[], start = 0): { shape: number[]; data: Float32Array } {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float32Array.from({ length: n }, (_, i) => start + i * 0.5 - 1) };
}

function params(): TensorGroup {
  return {
    'conv1.w': tensor([6, 1, 5, 5]),
    'conv1.b': tensor([6], 100),
    'fc.w': tensor([10, 84], -3),
  };
}

const expected = { 'conv1.w': [6, 1, 5, 5], 'conv1.b': [6], 'fc.w': [10, 84] };

describe('checkpoint', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'striate-ckpt-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips params, optimizer state and metadata exactly', async () => {
    const p = params();
    p['fc.w'].data[3] = Number.NaN; // special values survive too
    p['fc.w'].data[4] = -0;
    p['fc.w'].data[5] = Number.POSITIVE_INFINITY;
    const optimizer = { 'conv1.w.m': tensor([6, 1, 5, 5], 7), 'conv1.w': tensor([2], 9) };
    const meta = { epoch: 3, step: 1234, note: 'lenet', nested: { lr: 0.01 } };
    const target = join(dir, 'nested', 'ckpt'); // created on demand
    const manifest = await saveCheckpoint(target, { params: p, optimizer, meta });
    expect(manifest.entries.map((e) => `${e.group}:${e.name}`)).toEqual([
      'params:conv1.w',
      'params:conv1.b',
      'params:fc.w',
      'optimizer:conv1.w.m',
      'optimizer:conv1.w',
    ]);
    expect((await readdir(target)).sort()).toEqual(['manifest.json', 'weights.bin']);

    const loaded = await loadCheckpoint(target, { expect: expected });
    for (const [name, t] of Object.entries(p)) {
      expect(loaded.params[name].shape).toEqual(t.shape);
      // Bitwise comparison, so NaN and -0 count.
      expect(new Uint32Array(loaded.params[name].data.buffer)).toEqual(new Uint32Array(t.data.buffer));
    }
    expect(Object.keys(loaded.optimizer)).toEqual(['conv1.w.m', 'conv1.w']);
    expect(loaded.optimizer['conv1.w.m'].data).toEqual(optimizer['conv1.w.m'].data);
    expect(loaded.meta).toEqual(meta);
    expect(loaded.manifest.weights.byteLength).toBe((150 + 6 + 840 + 150 + 2) * 4);

    const onDisk = JSON.parse(await readFile(join(target, 'manifest.json'), 'utf8'));
    expect(onDisk.format).toBe('striate-checkpoint');
    expect(onDisk.version).toBe(1);
    expect(onDisk.weights.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(onDisk.entries[1]).toEqual({
      name: 'conv1.b',
      group: 'params',
      dtype: 'float32',
      shape: [6],
      byteOffset: 600,
      byteLength: 24,
    });
  });

  it('keeps non-trainable statistics in their own group, and loads none from a checkpoint without them', async () => {
    const stats = { 'bn1.mean': tensor([6], 2), 'bn1.var': tensor([6], 3) };
    const manifest = await saveCheckpoint(dir, { params: params(), optimizer: { 'm/conv1.b': tensor([6]) }, stats });
    expect(manifest.entries.map((e) => `${e.group}:${e.name}`).slice(-3)).toEqual(['optimizer:m/conv1.b', 'stats:bn1.mean', 'stats:bn1.var']);
    const loaded = await loadCheckpoint(dir, { expect: expected }); // statistics are not parameters
    expect(Object.keys(loaded.stats)).toEqual(['bn1.mean', 'bn1.var']);
    expect(loaded.stats['bn1.var']).toEqual(stats['bn1.var']);
    expect(Object.keys(loaded.optimizer)).toEqual(['m/conv1.b']);

    await saveCheckpoint(dir, { params: params() });
    expect((await loadCheckpoint(dir)).stats).toEqual({});
  });

  it('overwrites an existing checkpoint and handles empty tensors and no meta', async () => {
    await saveCheckpoint(dir, { params: params(), meta: { epoch: 1 } });
    await saveCheckpoint(dir, { params: { empty: { shape: [0, 3], data: new Float32Array(0) }, one: tensor([1]) } });
    const loaded = await loadCheckpoint(dir);
    expect(Object.keys(loaded.params)).toEqual(['empty', 'one']);
    expect(loaded.params.empty.shape).toEqual([0, 3]);
    expect(loaded.meta).toBeUndefined();
    expect(loaded.optimizer).toEqual({});
  });

  it('rejects a truncated weights file', async () => {
    await saveCheckpoint(dir, { params: params() });
    const w = join(dir, 'weights.bin');
    await truncate(w, 100);
    await expect(loadCheckpoint(dir)).rejects.toThrow(
      `loadCheckpoint: weights file ${w} is truncated: it is 100 bytes but the manifest says 3984`,
    );
  });

  it('rejects a flipped byte via the checksum', async () => {
    await saveCheckpoint(dir, { params: params() });
    const w = join(dir, 'weights.bin');
    const bytes = await readFile(w);
    bytes[1234] ^= 0x01;
    await writeFile(w, bytes);
    await expect(loadCheckpoint(dir)).rejects.toThrow(/weights\.bin fails its checksum \(SHA-256 [0-9a-f]{64}, manifest says [0-9a-f]{64}\)/);
  });

  it('names a missing parameter', async () => {
    const p = params();
    delete p['conv1.b'];
    await saveCheckpoint(dir, { params: p });
    await expect(loadCheckpoint(dir, { expect: expected })).rejects.toThrow(
      'loadCheckpoint: parameter "conv1.b" (shape [6]) is missing from the checkpoint',
    );
  });

  it('names a parameter with the wrong shape', async () => {
    await saveCheckpoint(dir, { params: params() });
    await expect(loadCheckpoint(dir, { expect: { ...expected, 'conv1.w': [6, 3, 5, 5] } })).rejects.toThrow(
      'loadCheckpoint: parameter "conv1.w" has shape [6,1,5,5] in the checkpoint but the model expects [6,3,5,5]',
    );
  });

  it('rejects extra parameters and lists every problem at once', async () => {
    await saveCheckpoint(dir, { params: params() });
    await expect(loadCheckpoint(dir, { expect: { 'conv1.w': [6, 1, 5, 5], 'fc.w': [10, 84] } })).rejects.toThrow(
      'loadCheckpoint: parameter "conv1.b" (shape [6]) is in the checkpoint but not in the model',
    );
    const err = await loadCheckpoint(dir, { expect: { 'conv1.w': [1], other: [2] } }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/does not match the model \(4 problems\)/);
    expect((err as Error).message).toMatch(/"conv1.w" has shape \[6,1,5,5\] in the checkpoint but the model expects \[1\]/);
    expect((err as Error).message).toMatch(/"other" \(shape \[2\]\) is missing/);
  });

  it('ignores leftover temp files from an interrupted save', async () => {
    await saveCheckpoint(dir, { params: params(), meta: { epoch: 1 } });
    // What a crash mid-save leaves behind: partial temp files next to the good pair.
    await writeFile(join(dir, '.weights.bin.999.abcdef.tmp'), new Uint8Array(17));
    await writeFile(join(dir, '.manifest.json.999.abcdef.tmp'), '{"format": "striate-che');
    const loaded = await loadCheckpoint(dir, { expect: expected });
    expect(loaded.meta).toEqual({ epoch: 1 });
    // A later save into the same directory still works and does not trip over them.
    await saveCheckpoint(dir, { params: params(), meta: { epoch: 2 } });
    expect((await loadCheckpoint(dir)).meta).toEqual({ epoch: 2 });
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toHaveLength(2);
  });

  it('leaves no temp files behind and the old checkpoint intact when a save fails', async () => {
    await saveCheckpoint(dir, { params: params(), meta: { epoch: 1 } });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(saveCheckpoint(dir, { params: params(), meta: cyclic })).rejects.toThrow(/meta cannot be stored as JSON/);
    expect((await readdir(dir)).sort()).toEqual(['manifest.json', 'weights.bin']);
    expect((await loadCheckpoint(dir)).meta).toEqual({ epoch: 1 });
  });

  it('validates tensors before saving', async () => {
    await expect(saveCheckpoint(dir, { params: { w: { shape: [2, 2], data: new Float32Array(3) } } })).rejects.toThrow(
      'saveCheckpoint: params tensor "w" has shape [2,2] (4 values) but its data holds 3 values',
    );
    await expect(
      saveCheckpoint(dir, { params: { w: { shape: [2], data: new Float64Array(2) as unknown as Float32Array } } }),
    ).rejects.toThrow(/must have data as a Float32Array/);
    await expect(saveCheckpoint(dir, { params: { w: { shape: [-1], data: new Float32Array(0) } } })).rejects.toThrow(
      /shape \[-1\]; a shape must be an array of non-negative integers/,
    );
  });

  it('rejects a missing directory, a wrong format version and out-of-range entries', async () => {
    await expect(loadCheckpoint(join(dir, 'nope'))).rejects.toThrow(/manifest\.json does not exist/);
    await saveCheckpoint(dir, { params: params() });
    const mPath = join(dir, 'manifest.json');
    const good = JSON.parse(await readFile(mPath, 'utf8'));

    await writeFile(mPath, JSON.stringify({ ...good, version: 2 }));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/has format version 2, but this version of Striate reads only version 1/);

    const bad = structuredClone(good);
    bad.entries[2].byteOffset = good.weights.byteLength - 4;
    await writeFile(mPath, JSON.stringify(bad));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/params tensor "fc.w" spans bytes 3980\.\.7340 but the weights file is 3984 bytes long/);

    const escape = structuredClone(good);
    escape.weights.file = '../secret.bin';
    await writeFile(mPath, JSON.stringify(escape));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/"weights.file" must be a plain file name/);

    await writeFile(mPath, '{ not json');
    await expect(loadCheckpoint(dir)).rejects.toThrow(/is not a valid checkpoint manifest: it is not valid JSON/);
  });
});

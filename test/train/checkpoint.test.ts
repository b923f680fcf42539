import { mkdtemp, readdir, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StriateError } from '../../src/graph/error.js';
import { initParams, lenet5, toTensorGroup } from '../../src/nn/index.js';
import {
  type CheckpointContents,
  listCheckpoints,
  loadCheckpoint,
  type LoadedCheckpoint,
  type Manifest,
  saveCheckpoint,
  type TensorGroup,
} from '../../src/train/checkpoint.js';
import { reseal, writeVersion1Checkpoint } from './fixtures/checkpoint-files.js';

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

/** Every test gets a fresh directory of its own. */
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'striate-ckpt-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('checkpoint', () => {
  it('round-trips params, optimizer state and metadata exactly', async () => {
    const p = params();
    p['fc.w'].data[3] = Number.NaN; // special values survive too, when allowed
    p['fc.w'].data[4] = -0;
    p['fc.w'].data[5] = Number.POSITIVE_INFINITY;
    const optimizer = { 'conv1.w.m': tensor([6, 1, 5, 5], 7), 'conv1.w': tensor([2], 9) };
    const meta = { epoch: 3, step: 1234, note: 'lenet', nested: { lr: 0.01 } };
    const target = join(dir, 'nested', 'ckpt'); // created on demand
    const manifest = await saveCheckpoint(target, { params: p, optimizer, meta }, { allowNonFinite: true });
    expect(manifest.entries.map((e) => `${e.group}:${e.name}`)).toEqual([
      'params:conv1.w',
      'params:conv1.b',
      'params:fc.w',
      'optimizer:conv1.w.m',
      'optimizer:conv1.w',
    ]);
    expect(manifest.entries[2].nonFinite).toBe(2); // flagged: NaN and +Infinity
    expect(manifest.entries.filter((e) => e.nonFinite !== undefined)).toHaveLength(1);
    expect((await readdir(target)).sort()).toEqual(['manifest-000001.json', 'manifest.json', 'weights-000001.bin']);

    const loaded = await loadCheckpoint(target, { expect: expected });
    expect(loaded.save).toBe(1);
    for (const [name, t] of Object.entries(p)) {
      expect(loaded.params[name].shape).toEqual(t.shape);
      // Bitwise comparison, so NaN and -0 count.
      expect(new Uint32Array(loaded.params[name].data.buffer)).toEqual(new Uint32Array(t.data.buffer));
    }
    expect(Object.keys(loaded.optimizer)).toEqual(['conv1.w.m', 'conv1.w']);
    expect(loaded.optimizer['conv1.w.m'].data).toEqual(optimizer['conv1.w.m'].data);
    expect(loaded.meta).toEqual(meta);
    expect(loaded.manifest.weights.byteLength).toBe((150 + 6 + 840 + 150 + 2) * 4);

    const text = await readFile(join(target, 'manifest.json'), 'utf8');
    expect(await readFile(join(target, 'manifest-000001.json'), 'utf8')).toBe(text);
    const onDisk = JSON.parse(text);
    expect(onDisk.format).toBe('striate-checkpoint');
    expect(onDisk.version).toBe(2);
    expect(onDisk.save).toBe(1);
    expect(onDisk.weights.file).toBe('weights-000001.bin');
    expect(onDisk.weights.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(onDisk).at(-1)).toBe('manifestSha256');
    expect(reseal(onDisk)).toBe(text); // the checksum is the one the format defines
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
    const w = join(dir, 'weights-000001.bin');
    await truncate(w, 100);
    const err = await loadCheckpoint(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StriateError);
    expect(err).toMatchObject({ op: 'loadCheckpoint', got: '100 bytes', expected: '3984 bytes' });
    expect((err as Error).message).toBe(
      `loadCheckpoint: weights file ${w} is truncated: it is 100 bytes but the manifest says 3984; the checkpoint is damaged, restore it or save it again`,
    );
  });

  it('rejects a flipped byte via the checksum', async () => {
    await saveCheckpoint(dir, { params: params() });
    const w = join(dir, 'weights-000001.bin');
    const bytes = await readFile(w);
    bytes[1234] ^= 0x01;
    await writeFile(w, bytes);
    await expect(loadCheckpoint(dir)).rejects.toThrow(StriateError);
    await expect(loadCheckpoint(dir)).rejects.toThrow(/weights-000001\.bin fails its checksum \(SHA-256 [0-9a-f]{64}, manifest says [0-9a-f]{64}\)/);
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
    const err = await loadCheckpoint(dir, { expect: { ...expected, 'conv1.w': [6, 3, 5, 5] } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StriateError);
    expect((err as StriateError).message).toBe(
      'loadCheckpoint: parameter "conv1.w" has shape [6,1,5,5] in the checkpoint but the model expects [6,3,5,5]',
    );
    expect((err as StriateError).got).toBe('parameter "conv1.w" has shape [6,1,5,5] in the checkpoint but the model expects [6,3,5,5]');
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

  it('loads around what a killed save left, and the next save removes it', async () => {
    await saveCheckpoint(dir, { params: params(), meta: { epoch: 1 } });
    // What kills at different points of save 2 leave: its partial numbered
    // files, and temporary files (of this format and of version 1).
    await writeFile(join(dir, 'weights-000002.bin'), new Uint8Array(17));
    await writeFile(join(dir, 'manifest-000002.json'), '{"format": "striate-che');
    await writeFile(join(dir, '.manifest.json.99999999.abcdef.tmp'), '{"format"');
    await writeFile(join(dir, '.weights.bin.999.abcdef.tmp'), new Uint8Array(17));
    await writeFile(join(dir, 'notes.txt'), 'mine'); // not the checkpoint's: left alone
    const loaded = await loadCheckpoint(dir, { expect: expected });
    expect(loaded.meta).toEqual({ epoch: 1 });
    expect(await listCheckpoints(dir)).toEqual([1]); // save 2 was never committed

    const manifest = await saveCheckpoint(dir, { params: params(), meta: { epoch: 2 } });
    expect(manifest.save).toBe(3); // past every number on disk, so nothing is overwritten
    expect((await loadCheckpoint(dir)).meta).toEqual({ epoch: 2 });
    expect((await readdir(dir)).sort()).toEqual([
      'manifest-000001.json',
      'manifest-000003.json',
      'manifest.json',
      'notes.txt',
      'weights-000001.bin',
      'weights-000003.bin',
    ]);
  });

  it('leaves no files behind and the old checkpoint intact when a save fails', async () => {
    await saveCheckpoint(dir, { params: params(), meta: { epoch: 1 } });
    const before = (await readdir(dir)).sort();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(saveCheckpoint(dir, { params: params(), meta: cyclic })).rejects.toThrow(/meta cannot be stored as JSON/);
    expect((await readdir(dir)).sort()).toEqual(before);
    expect((await loadCheckpoint(dir)).meta).toEqual({ epoch: 1 });
  });

  it('validates tensors before saving', async () => {
    const err = await saveCheckpoint(dir, { params: { w: { shape: [2, 2], data: new Float32Array(3) } } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StriateError);
    expect(err).toMatchObject({
      message: 'saveCheckpoint: params tensor "w" has shape [2,2] (4 values) but its data holds 3 values',
      op: 'saveCheckpoint',
      got: '3 values',
      expected: '4 values, those of shape [2,2]',
    });
    await expect(
      saveCheckpoint(dir, { params: { w: { shape: [2], data: new Float64Array(2) as unknown as Float32Array } } }),
    ).rejects.toThrow(expect.objectContaining({ op: 'saveCheckpoint', got: 'data Float64Array(2)', expected: 'a Float32Array' }));
    await expect(saveCheckpoint(dir, { params: { w: { shape: [-1], data: new Float32Array(0) } } })).rejects.toThrow(
      /shape \[-1\]; a shape must be an array of non-negative integers/,
    );
    await expect(saveCheckpoint(dir, null as unknown as CheckpointContents)).rejects.toThrow(StriateError);
    for (const keep of [0, 1.5, -1, '2']) {
      await expect(saveCheckpoint(dir, { params: params() }, { keep: keep as number })).rejects.toThrow(
        expect.objectContaining({ op: 'saveCheckpoint', expected: 'a whole number >= 1' }),
      );
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses NaN and infinite values when saving, naming the tensor and the index', async () => {
    await saveCheckpoint(dir, { params: params(), meta: { epoch: 1 } });
    const p = params();
    p['fc.w'].data[17] = Number.NaN;
    await expect(saveCheckpoint(dir, { params: p })).rejects.toThrow(
      expect.objectContaining({
        message: expect.stringMatching(/^saveCheckpoint: params tensor "fc.w" holds NaN at index 17 \(of 840\); training has probably diverged/),
        got: 'NaN at index 17 of params "fc.w"',
        expected: 'finite values (or { allowNonFinite: true })',
      }),
    );
    const optimizer = { 'v/conv1.b': tensor([6]) };
    optimizer['v/conv1.b'].data[5] = Number.NEGATIVE_INFINITY;
    await expect(saveCheckpoint(dir, { params: params(), optimizer })).rejects.toThrow(/optimizer tensor "v\/conv1.b" holds -Infinity at index 5 \(of 6\)/);
    const stats = { 'bn.var': { shape: [1], data: Float32Array.of(Number.POSITIVE_INFINITY) } };
    await expect(saveCheckpoint(dir, { params: params(), stats })).rejects.toThrow(/stats tensor "bn.var" holds Infinity at index 0/);
    expect((await loadCheckpoint(dir)).meta).toEqual({ epoch: 1 }); // the good one stays current
    expect(await listCheckpoints(dir)).toEqual([1]);
  });

  it('refuses optimizer state whose shape does not fit the parameter it names', async () => {
    const optimizer = { 'm/conv1.b': tensor([6]), 'v/conv1.b': tensor([7]), 'm/elsewhere': tensor([3]), free: tensor([2]) };
    await expect(saveCheckpoint(dir, { params: params(), optimizer })).rejects.toThrow(
      expect.objectContaining({
        op: 'saveCheckpoint',
        message: 'saveCheckpoint: optimizer tensor "v/conv1.b" has shape [7] but parameter "conv1.b" has [6]',
      }),
    );
    delete (optimizer as Record<string, unknown>)['v/conv1.b'];
    await saveCheckpoint(dir, { params: params(), optimizer }); // names without a parameter, or not slot/name, are free
    expect(Object.keys((await loadCheckpoint(dir)).optimizer)).toEqual(['m/conv1.b', 'm/elsewhere', 'free']);
  });

  it('rejects a missing directory, a wrong format version and out-of-range entries', async () => {
    await expect(loadCheckpoint(join(dir, 'nope'))).rejects.toThrow(
      expect.objectContaining({ op: 'loadCheckpoint', message: expect.stringMatching(/manifest\.json does not exist/) }),
    );
    await saveCheckpoint(dir, { params: params() });
    const mPath = join(dir, 'manifest.json');
    const good = JSON.parse(await readFile(mPath, 'utf8'));

    await writeFile(mPath, reseal({ ...good, version: 3 }));
    await expect(loadCheckpoint(dir)).rejects.toThrow(
      expect.objectContaining({ message: expect.stringMatching(/has format version 3, but this version of Striate reads only versions 1 and 2/), got: 'version 3' }),
    );

    // Sealed again, so that the checks behind the manifest's checksum are the ones that refuse it.
    const bad = structuredClone(good);
    bad.entries[2].byteOffset = good.weights.byteLength - 4;
    await writeFile(mPath, reseal(bad));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/params tensor "fc.w" spans bytes 3980\.\.7340 but the weights file is 3984 bytes long/);

    const escape = structuredClone(good);
    escape.weights.file = '../secret.bin';
    await writeFile(mPath, reseal(escape));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/"weights.file" must be a plain file name/);

    const other = structuredClone(good);
    other.weights.file = 'weights-000002.bin';
    await writeFile(mPath, reseal(other));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/save 1 must name the weights file "weights-000001.bin", got "weights-000002.bin"/);

    await writeFile(mPath, '{ not json');
    await expect(loadCheckpoint(dir)).rejects.toThrow(
      expect.objectContaining({ message: expect.stringMatching(/is not a valid checkpoint manifest: it is not valid JSON/), got: 'text that is not JSON' }),
    );
    await expect(loadCheckpoint(dir, { save: 1 })).resolves.toMatchObject({ save: 1 }); // its numbered copy is intact
    // Saving over a damaged manifest.json: which saves it had committed is unknown, so none is removed.
    await writeFile(join(dir, 'manifest-000002.json'), '{"format"'); // and a killed save's leftover
    await saveCheckpoint(dir, { params: params() }, { keep: 1 });
    expect(await listCheckpoints(dir)).toEqual([3, 2, 1]);
    await expect(loadCheckpoint(dir, { save: 2 })).rejects.toThrow(/manifest-000002\.json is not a valid checkpoint manifest/);
    await expect(loadCheckpoint(dir, { save: -1 })).rejects.toThrow(expect.objectContaining({ expected: 'a whole number >= 0' }));
  });
});

describe('checkpoint saves', () => {
  /** Params whose values all say which save they are. */
  const numbered = (i: number): TensorGroup => ({ w: { shape: [3], data: new Float32Array(3).fill(i) } });

  it('keeps the last `keep` saves (default 2), each loadable, and removes older ones', async () => {
    for (let i = 1; i <= 3; i++) await saveCheckpoint(dir, { params: numbered(i), meta: { i } });
    expect(await listCheckpoints(dir)).toEqual([3, 2]);
    expect((await readdir(dir)).sort()).toEqual(['manifest-000002.json', 'manifest-000003.json', 'manifest.json', 'weights-000002.bin', 'weights-000003.bin']);
    for (let i = 4; i <= 6; i++) await saveCheckpoint(dir, { params: numbered(i), meta: { i } }, { keep: 3 });
    expect(await listCheckpoints(dir)).toEqual([6, 5, 4]);
    expect((await loadCheckpoint(dir)).params.w.data).toEqual(new Float32Array(3).fill(6));
    const older = await loadCheckpoint(dir, { save: 4 });
    expect([older.save, older.meta, older.params.w.data[0]]).toEqual([4, { i: 4 }, 4]);
    await expect(loadCheckpoint(dir, { save: 3 })).rejects.toThrow(
      expect.objectContaining({ op: 'loadCheckpoint', message: `loadCheckpoint: ${dir} does not keep save 3; it keeps saves 6, 5, 4`, got: 'save 3' }),
    );
    await saveCheckpoint(dir, { params: numbered(7) }, { keep: 1 });
    expect(await listCheckpoints(dir)).toEqual([7]);
    expect((await readdir(dir)).sort()).toEqual(['manifest-000007.json', 'manifest.json', 'weights-000007.bin']);
    expect(await listCheckpoints(join(dir, 'nope'))).toEqual([]);
  });

  it('refuses a numbered manifest that is another save’s', async () => {
    await saveCheckpoint(dir, { params: numbered(1) });
    await saveCheckpoint(dir, { params: numbered(2) });
    await rename(join(dir, 'manifest-000001.json'), join(dir, 'manifest-000009.json'));
    await rename(join(dir, 'manifest-000002.json'), join(dir, 'manifest-000001.json'));
    await expect(loadCheckpoint(dir, { save: 1 })).rejects.toThrow(/manifest-000001\.json is not a valid checkpoint manifest: it is the manifest of save 2, not of save 1/);
  });

  it('queues saves into one directory from one process', async () => {
    const saves = await Promise.all([1, 2, 3, 4, 5].map((i) => saveCheckpoint(dir, { params: numbered(i), meta: { i } }, { keep: 5 })));
    expect(saves.map((m) => m.save)).toEqual([1, 2, 3, 4, 5]);
    for (const i of [1, 2, 3, 4, 5]) expect((await loadCheckpoint(dir, { save: i })).params.w.data[0]).toBe(i);
    expect((await loadCheckpoint(dir)).meta).toEqual({ i: 5 });
  });

  it('loads a version 1 checkpoint, keeps it as save 0 through the next save, then removes it', async () => {
    await writeVersion1Checkpoint(dir, params(), { epoch: 1 });
    const legacy = await loadCheckpoint(dir, { expect: expected });
    expect([legacy.save, legacy.manifest.version, legacy.meta]).toEqual([0, 1, { epoch: 1 }]);
    expect(legacy.params['conv1.b'].data).toEqual(params()['conv1.b'].data);
    expect(await listCheckpoints(dir)).toEqual([0]);
    expect((await loadCheckpoint(dir, { save: 0 })).meta).toEqual({ epoch: 1 });

    await saveCheckpoint(dir, { params: numbered(1) });
    expect(await listCheckpoints(dir)).toEqual([1, 0]);
    expect((await loadCheckpoint(dir, { save: 0 })).params['fc.w'].data).toEqual(params()['fc.w'].data);
    await saveCheckpoint(dir, { params: numbered(2) });
    expect((await readdir(dir)).sort()).toEqual(['manifest-000001.json', 'manifest-000002.json', 'manifest.json', 'weights-000001.bin', 'weights-000002.bin']);
  });

  it('checks the entries of a version 1 manifest, which has no checksum, to tile the weights file', async () => {
    await writeVersion1Checkpoint(dir, { a: tensor([4]), b: tensor([4]) });
    const mPath = join(dir, 'manifest.json');
    const m = JSON.parse(await readFile(mPath, 'utf8'));
    m.entries[1].byteOffset = 0; // b reads a's bytes
    await writeFile(mPath, JSON.stringify(m));
    await expect(loadCheckpoint(dir)).rejects.toThrow(
      expect.objectContaining({
        message: expect.stringMatching(/params tensor "b" starts at byte 0 but the entries before it end at byte 16; the entries must tile the weights file in order/),
        got: 'byteOffset 0',
        expected: 'byteOffset 16',
      }),
    );
  });
});

describe('manifest integrity', () => {
  const adam = (): CheckpointContents => ({
    params: { 'conv.w': tensor([2, 3]), 'fc.w': tensor([3, 2], 10), 'fc.b': tensor([2], 20) },
    optimizer: { 'm/conv.w': tensor([2, 3], 30), 'v/conv.w': tensor([2, 3], 40), 'm/fc.b': tensor([2], 50), 'v/fc.b': tensor([2], 60) },
    meta: { epoch: 2, step: 40, optimizer: 'adam' },
  });

  /** Load after changing manifest.json as saved by `saveCheckpoint(dir, adam())`, then sealing it again or not. */
  async function edit(change: (m: Manifest) => void, seal = false): Promise<unknown> {
    const path = join(dir, 'manifest.json');
    const m = JSON.parse(await readFile(join(dir, 'manifest-000001.json'), 'utf8'));
    change(m);
    await writeFile(path, seal ? reseal(m) : JSON.stringify(m, null, 2) + '\n');
    return loadCheckpoint(dir).catch((e: unknown) => e);
  }

  it('refuses hand edits that keep every size: shapes swapped, the m and v moments swapped, the meta changed', async () => {
    await saveCheckpoint(dir, adam());
    const swaps: [string, (m: Manifest) => void][] = [
      ['shapes of the same size', (m) => ([m.entries[0].shape, m.entries[1].shape] = [m.entries[1].shape, m.entries[0].shape])],
      ['the m and v moments', (m) => ([m.entries[3].name, m.entries[4].name] = [m.entries[4].name, m.entries[3].name])],
      ['a moment renamed to another parameter of its size', (m) => (m.entries[5].name = 'm/conv.b')],
      ['the meta', (m) => ((m.meta as { step: number }).step = 41)],
    ];
    for (const [what, change] of swaps) {
      const err = await edit(change);
      expect(err, what).toBeInstanceOf(StriateError);
      expect((err as StriateError).message, what).toMatch(/manifest\.json fails its checksum \(SHA-256 of its contents [0-9a-f]{64}, "manifestSha256" says "[0-9a-f]{64}"\); it was damaged or edited by hand/);
    }
    const removed = await edit((m) => delete m.manifestSha256);
    expect((removed as StriateError).message).toMatch(/"manifestSha256" says undefined/);
  });

  it('refuses, behind the checksum, entries that do not tile the weights file, duplicates and moments shaped unlike their parameter', async () => {
    await saveCheckpoint(dir, adam());
    const cases: [(m: Manifest) => void, RegExp][] = [
      [(m) => (m.entries[1].byteOffset += 4), /params tensor "fc.w" starts at byte 28 but the entries before it end at byte 24/],
      [(m) => ([m.entries[0], m.entries[1]] = [m.entries[1], m.entries[0]]), /params tensor "fc.w" starts at byte 24 but the entries before it end at byte 0/],
      [(m) => m.entries.pop(), /the entries cover 112 bytes but the weights file is 120 bytes long; they must tile it exactly/],
      [(m) => (m.entries[2].name = 'fc.w'), /params tensor "fc.w" appears twice/],
      [(m) => (m.entries[0].shape = [3, 2]), /optimizer state that does not fit its parameters \(2 problems\):\n {2}- optimizer tensor "m\/conv.w" has shape \[2,3\] but parameter "conv.w" has \[3,2\]/],
      [(m) => (m.entries[0].byteLength = 20), /params tensor "conv.w" has shape \[2,3\], which needs 24 bytes, but byteLength 20/],
      [(m) => (m.save = 0), /"save" must be a save number >= 1, got 0/],
    ];
    for (const [change, message] of cases) {
      const err = await edit(change, true);
      expect(err).toBeInstanceOf(StriateError);
      expect((err as Error).message).toMatch(message);
    }
  });

  /**
   * Flip bits of manifest.json one at a time, every `stride`-th (a stride
   * prime to 8 reaches every bit position of a byte); every load must refuse
   * the file with a StriateError or load exactly what was saved. Returns the
   * counts. STRIATE_MANIFEST_FLIPS=all flips every bit.
   */
  async function flipBits(contents: CheckpointContents, stride: number): Promise<{ flips: number; refused: number; same: number; silent: number }> {
    if (process.env.STRIATE_MANIFEST_FLIPS === 'all') stride = 1;
    await saveCheckpoint(dir, contents);
    const path = join(dir, 'manifest.json');
    const original = await readFile(path);
    const good = await loadCheckpoint(dir);
    const same = (l: LoadedCheckpoint): boolean =>
      isDeepStrictEqual([l.params, l.optimizer, l.stats, l.meta, l.manifest.model], [good.params, good.optimizer, good.stats, good.meta, good.manifest.model]);
    const counts = { flips: 0, refused: 0, same: 0, silent: 0 };
    const bytes = Buffer.from(original);
    for (let bit = 0; bit < original.length * 8; bit += stride) {
      bytes[bit >> 3] ^= 1 << (bit & 7);
      await writeFile(path, bytes);
      bytes[bit >> 3] ^= 1 << (bit & 7);
      counts.flips++;
      try {
        const loaded = await loadCheckpoint(dir);
        if (same(loaded)) counts.same++;
        else counts.silent++;
      } catch (err) {
        if (!(err instanceof StriateError)) throw err; // anything else is a crash
        counts.refused++;
      }
    }
    return counts;
  }

  it('refuses single-bit flips of manifest.json (every 9th bit), or loads what was saved: never different data', async () => {
    const counts = await flipBits(adam(), 9);
    console.log(`manifest.json bit flips (adam state): ${JSON.stringify(counts)}`);
    expect(counts.flips).toBeGreaterThan(1400);
    expect(counts.silent).toBe(0);
    expect(counts.refused + counts.same).toBe(counts.flips);
  });

  it('the same with a model description in the manifest (every 23rd bit)', async () => {
    const model = lenet5();
    const counts = await flipBits({ model, params: toTensorGroup(initParams(model, 1)), meta: { epoch: 1 } }, 23);
    console.log(`manifest.json bit flips (lenet5 with its description): ${JSON.stringify(counts)}`);
    expect(counts.flips).toBeGreaterThan(1200);
    expect(counts.silent).toBe(0);
  });
});

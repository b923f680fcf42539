/** saveOnnx and loadOnnx (striate/node): files on disk, written atomically. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx, initParams, initStats, lenet5, loadOnnx, resnet, saveOnnx, StriateError } from '../../src/node.js';
import { images, perturbedStats, relativeDifference, runOrt, sameBytes, striateLogits, TOLERANCE } from './ort.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'striate-onnx-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('saveOnnx and loadOnnx', () => {
  it('save writes exportOnnx’s bytes and nothing else is left in the directory; load reads the model back', async () => {
    const model = resnet();
    const params = initParams(model, 4);
    const stats = perturbedStats(initStats(model));
    const path = join(dir, 'resnet.onnx');
    await saveOnnx(path, model, params, stats);
    expect(await readdir(dir)).toEqual(['resnet.onnx']);
    const bytes = new Uint8Array(await readFile(path));
    expect(sameBytes(bytes, exportOnnx(model, params, stats))).toBe(true);
    const loaded = await loadOnnx(path);
    const x = images(2, 784);
    expect(relativeDifference(await striateLogits(loaded.model, loaded.params, loaded.stats, x), await runOrt(bytes, x, [2, 1, 28, 28]))).toBeLessThan(TOLERANCE);
  });

  it('a save that fails leaves the old file as it was and no temporary file', async () => {
    const path = join(dir, 'lenet.onnx');
    await saveOnnx(path, lenet5(), initParams(lenet5(), 1));
    const before = await readFile(path);
    await expect(saveOnnx(path, resnet(), initParams(resnet(), 1))).rejects.toBeInstanceOf(StriateError); // no stats
    expect(sameBytes(new Uint8Array(await readFile(path)), new Uint8Array(before))).toBe(true);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a bad path, and a missing file is an error', async () => {
    await expect(saveOnnx('' as string, lenet5(), initParams(lenet5(), 1))).rejects.toBeInstanceOf(StriateError);
    await expect(loadOnnx(join(dir, 'missing.onnx'))).rejects.toThrow(/ENOENT/);
  });
});

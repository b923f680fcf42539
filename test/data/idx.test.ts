import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGzip, parseIdx } from '../../src/data/idx.js';
import { loadIdxFile } from '../../src/data/mnist.js';

/** Build an IDX buffer by hand: magic 00 00 type ndims, big-endian dims, payload. */
function idx(type: number, dims: number[], payload: number[]): Uint8Array {
  const buf = new Uint8Array(4 + 4 * dims.length + payload.length);
  const dv = new DataView(buf.buffer);
  buf[2] = type;
  buf[3] = dims.length;
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  buf.set(payload, 4 + 4 * dims.length);
  return buf;
}

describe('parseIdx', () => {
  it('reads a golden 2×3 ubyte array', () => {
    const buf = idx(0x08, [2, 3], [0, 1, 2, 253, 254, 255]);
    // Spell out the header bytes once, so the test does not only check idx() against itself.
    expect(Array.from(buf.subarray(0, 12))).toEqual([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]);
    const out = parseIdx(buf, 'golden');
    expect(out.dims).toEqual([2, 3]);
    expect(Array.from(out.data)).toEqual([0, 1, 2, 253, 254, 255]);
  });

  it('reads a 1-d label file and dims above 2^24', () => {
    const out = parseIdx(idx(0x08, [4], [5, 0, 4, 1]), 'labels');
    expect(out.dims).toEqual([4]);
    expect(Array.from(out.data)).toEqual([5, 0, 4, 1]);
    // A big first dimension with zero-sized second: exercises the full 32-bit read.
    expect(parseIdx(idx(0x08, [0x01020304, 0], []), 'big').dims).toEqual([0x01020304, 0]);
  });

  it('returns a view, not a copy, and respects a non-zero byteOffset', () => {
    const inner = idx(0x08, [3], [7, 8, 9]);
    const outer = new Uint8Array(inner.length + 5);
    outer.set(inner, 5);
    const out = parseIdx(outer.subarray(5), 'offset');
    expect(Array.from(out.data)).toEqual([7, 8, 9]);
    expect(out.data.buffer).toBe(outer.buffer);
  });

  it('rejects a truncated file, naming it and both sizes', () => {
    const buf = idx(0x08, [2, 3], [0, 1, 2, 3, 4, 5]).subarray(0, 15);
    expect(() => parseIdx(buf, 'train-images')).toThrow(
      'parseIdx: train-images is truncated: dimensions [2, 3] need 18 bytes (12 header + 6 data) but it has 15',
    );
  });

  it('rejects a file cut inside the header', () => {
    expect(() => parseIdx(idx(0x08, [2, 3], []).subarray(0, 9), 'hdr')).toThrow(/hdr is truncated.*needs 12 header bytes.*only 9 bytes/);
    expect(() => parseIdx(new Uint8Array(0), 'empty')).toThrow(/empty is 0 bytes long/);
  });

  it('rejects an oversized file', () => {
    const buf = idx(0x08, [2], [1, 2, 3]);
    expect(() => parseIdx(buf, 'long')).toThrow(/long is longer than its header says.*need 10 bytes.*has 11/);
  });

  it('rejects a wrong magic number', () => {
    const buf = idx(0x08, [1], [1]);
    buf[0] = 0x50; // 'P', e.g. a PNG or an HTML page
    expect(() => parseIdx(buf, 'magic')).toThrow(/magic is not an IDX file: it starts with 0x50 0x00/);
  });

  it('rejects unknown and unsupported types clearly', () => {
    expect(() => parseIdx(idx(0x07, [1], [0]), 'unk')).toThrow(/unknown IDX type code 0x07/);
    expect(() => parseIdx(idx(0x0d, [1], [0, 0, 0, 0]), 'floats')).toThrow(
      /floats holds float \(float32\) values \(type 0x0d\), but only unsigned byte \(type 0x08\)/,
    );
  });

  it('rejects zero dimensions and absurd dimension products', () => {
    expect(() => parseIdx(idx(0x08, [], []), 'zero')).toThrow(/declares 0 dimensions/);
    expect(() => parseIdx(idx(0x08, [0xffffffff, 0xffffffff, 0xffffffff], []), 'huge')).toThrow(/impossibly large/);
  });

  it('points gzip input at the Node loader', () => {
    const gz = gzipSync(idx(0x08, [1], [1]));
    expect(isGzip(gz)).toBe(true);
    expect(() => parseIdx(gz, 'x.gz')).toThrow(/gzip-compressed.*loadIdxFile/);
  });
});

describe('loadIdxFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'striate-idx-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads plain and gzipped files the same', async () => {
    const raw = idx(0x08, [2, 2], [1, 2, 3, 4]);
    await writeFile(join(dir, 'a'), raw);
    await writeFile(join(dir, 'a.gz'), gzipSync(raw));
    // Gzip is sniffed from the content, not the name.
    await writeFile(join(dir, 'b-no-extension'), gzipSync(raw));
    for (const name of ['a', 'a.gz', 'b-no-extension']) {
      const out = await loadIdxFile(join(dir, name));
      expect(out.dims).toEqual([2, 2]);
      expect(Array.from(out.data)).toEqual([1, 2, 3, 4]);
    }
  });

  it('names the file in errors', async () => {
    const p = join(dir, 'short');
    await writeFile(p, idx(0x08, [2, 2], [1, 2, 3]));
    await expect(loadIdxFile(p)).rejects.toThrow(`parseIdx: ${p} is truncated`);
    await expect(loadIdxFile(join(dir, 'missing'))).rejects.toThrow(/cannot read .*missing/);
    const gz = gzipSync(idx(0x08, [100], new Array(100).fill(7)));
    await writeFile(join(dir, 'cut.gz'), gz.subarray(0, gz.length - 10));
    await expect(loadIdxFile(join(dir, 'cut.gz'))).rejects.toThrow(/looks gzip-compressed but does not decompress/);
  });
});

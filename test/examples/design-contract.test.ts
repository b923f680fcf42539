/**
 * The public API contract of ../shared/DESIGN.md, run as written (imports from
 * the package entry), and the README's first example as printed.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { input, conv2d, maxPool2d, avgPool2d, mul, sum, grad, compile } from '../../src/index.js';
import { randomValues } from '../helpers.js';

describe('DESIGN.md contract', () => {
  it('runs as written on the reference backend', async () => {
    const x = input('x', [2, 3, 9, 9]); // named graph input, static shape
    const w = input('w', [4, 3, 3, 3]);
    const b = input('b', [4]);
    const y = conv2d(x, w, { stride: 2, padding: 1, bias: b });
    const p = maxPool2d(y, { size: 2, stride: 2 });
    const q = avgPool2d(y, { size: 3, stride: 1 });
    const c = input('c', p.shape);
    const loss = sum(mul(p, c));
    const [gx, gw, gb] = grad(loss, [x, w, b]);
    const f = compile([y, gx, gw, gb], { backend: 'reference' });
    const xData = randomValues(2 * 3 * 9 * 9, 1);
    const wData = randomValues(4 * 3 * 3 * 3, 2);
    const bData = randomValues(4, 3);
    const cData = randomValues(p.size, 4);
    const [yv, gxv, gwv, gbv] = await f.run({ x: xData, w: wData, b: bData, c: cData });

    expect(y.shape).toEqual([2, 4, 5, 5]); // floor((9 + 2 - 3) / 2) + 1
    expect(p.shape).toEqual([2, 4, 2, 2]);
    expect(q.shape).toEqual([2, 4, 3, 3]);
    for (const [r, t] of [[yv, y], [gxv, x], [gwv, w], [gbv, b]] as const) {
      expect(r.shape).toEqual(t.shape);
      expect(r.data).toBeInstanceOf(Float64Array);
      expect(r.data.length).toBe(t.size);
    }
    // The bias gradient of sum(p * c) is the sum of c over each channel's windows.
    for (let o = 0; o < 4; o++) {
      let s = 0;
      for (let n = 0; n < 2; n++) for (let k = 0; k < 4; k++) s += cData[(n * 4 + o) * 4 + k];
      expect(gbv.data[o]).toBeCloseTo(s, 12);
    }
  });
});

describe("README's first example", () => {
  it('runs as printed', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', 'tsx', 'examples/first.ts'], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    expect(out).toMatch(/= sum\(%\d+\) \{axes: \[0,1,2,3\], keepDims: false\} : \[\]/);
    expect(out).toContain('[ 2, 4, 2, 2 ]');
  });
});

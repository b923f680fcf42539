/**
 * examples/hessian.ts: its power iteration on a quadratic whose Hessian and
 * eigenvalues are known, and on LeNet-5 (a tiny MNIST batch) its final
 * Rayleigh quotient against <v, Hv> from reverse-over-reverse in float64; the
 * CLI's help and a usage error, run as a user runs them.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { add, compile, grad, initParams, input, lenet5, matmul, mul, sum, type Tensor } from 'striate';
import { loadMnist } from 'striate/node';
import { topHessianEigenvalue, trainingLoss } from '../../examples/hessian.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => Array.from(a).reduce((s, x, i) => s + x * b[i], 0);

/**
 * A = Q D Qᵀ + K, Q = I − 2uuᵀ/|u|² (a reflection, so orthogonal) and K = B − Bᵀ
 * antisymmetric. The Hessian of ½ xᵀ A x is the symmetric part of A, Q D Qᵀ:
 * its eigenvalues are D and its eigenvectors the columns of Q.
 */
function quadratic(d: readonly number[]) {
  const n = d.length;
  const u = Array.from({ length: n }, (_, i) => Math.sin(i + 1) + 0.3);
  const uu = dot(u, u);
  const q = (i: number, j: number): number => (i === j ? 1 : 0) - (2 * u[i] * u[j]) / uu;
  const b = (i: number, j: number): number => Math.cos(3 * i + 7 * j);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = b(i, j) - b(j, i);
      for (let k = 0; k < n; k++) s += q(i, k) * d[k] * q(j, k);
      a[i * n + j] = s;
    }
  }
  const x = input('x', [n, 1]);
  const loss = mul(sum(mul(x, matmul(input('A', [n, n]), x))), 0.5);
  const feeds = { A: a, x: Float64Array.from({ length: n }, (_, i) => i - 2) };
  return { loss, x, feeds, eigenvector: (k: number) => Float64Array.from({ length: n }, (_, i) => q(i, k)) };
}

describe('examples/hessian.ts: power iteration with forward-over-reverse HVPs', () => {
  it.each([
    ['positive', [5, 3, 1, -0.5, 0.25, 2], 5],
    ['negative', [1, -5, 3, 0.5, -2, 0.1], -5],
  ])('finds the eigenvalue of largest magnitude of a quadratic with a known Hessian (%s, reference and webasm)', async (_, d, top) => {
    const { loss, x, feeds, eigenvector } = quadratic(d);
    const seen: number[] = [];
    const exact = await topHessianEigenvalue(loss, [x], feeds, { iterations: 40, seed: 3, backend: 'reference', onIteration: (i, l) => seen.push(i, l) });
    // |λ2 / λ1| = 0.6: the Rayleigh quotient's error shrinks as 0.6^(2k), v's as 0.6^k.
    expect(exact.eigenvalue).toBeCloseTo(top, 9);
    expect(exact.residual).toBeLessThan(1e-6);
    expect(Math.abs(dot(exact.vector[0], eigenvector(d.indexOf(top))))).toBeCloseTo(1, 9);
    expect(exact.rayleigh).toHaveLength(40);
    expect(exact.rayleigh.at(-1)).toBe(exact.eigenvalue);
    expect(seen).toEqual(exact.rayleigh.flatMap((l, i) => [i + 1, l]));
    // The loss is reported too: ½ xᵀ A x (K drops out) at the fed x.
    const ax = Array.from({ length: d.length }, (_, i) => dot(feeds.A.subarray(i * d.length, (i + 1) * d.length), feeds.x));
    expect(exact.loss).toBeCloseTo(0.5 * dot(feeds.x, ax), 10);

    const device = await topHessianEigenvalue(loss, [x], feeds, { iterations: 40, seed: 3 });
    expect(Math.abs(device.eigenvalue - top)).toBeLessThan(1e-5 * Math.abs(top));
  });

  it('on LeNet-5 (4 MNIST images, webasm and reference): the last Rayleigh quotient is <v, Hv> by reverse-over-reverse', async () => {
    const model = lenet5();
    const batch = 4;
    const mnist = await loadMnist({ limitTrain: batch, limitTest: 0 });
    const { loss, params } = trainingLoss(model, batch);
    const values = initParams(model, 1);
    const feeds: Record<string, ArrayLike<number>> = { x: mnist.train.images, labels: Float32Array.from(mnist.train.labels) };
    for (const w of params) feeds[w.attrs.name] = values[w.attrs.name].data;

    // Reverse-over-reverse in float64: Hv = ∇<∇L, v>, the oracle for both backends.
    const vs = params.map((w) => input(`v/${w.attrs.name}`, w.shape));
    const g = grad(loss, params);
    const gv = g.map((gi, i): Tensor => sum(mul(gi, vs[i]))).reduce((s, t) => add(s, t));
    const ror = compile(grad(gv, params));
    const rayleighByRoR = (v: readonly Float64Array[]): number => {
      const fed: Record<string, ArrayLike<number>> = { ...feeds };
      vs.forEach((t, i) => (fed[t.attrs.name] = v[i]));
      const hv = ror.runSync(Object.fromEntries(ror.inputs.map(({ name }) => [name, fed[name]])));
      return hv.reduce((s, r, i) => s + dot(r.data, v[i]), 0);
    };

    for (const backend of ['webasm', 'reference'] as const) {
      const result = await topHessianEigenvalue(loss, params, feeds, { iterations: 3, seed: 2, backend });
      const unit = result.vector.reduce((s, vi) => s + dot(vi, vi), 0);
      expect(unit).toBeCloseTo(1, 12);
      expect(Number.isFinite(result.eigenvalue) && Number.isFinite(result.residual)).toBe(true);
      const want = rayleighByRoR(result.vector);
      expect(Math.abs(result.eigenvalue - want), `${backend}: ${result.eigenvalue} vs ${want}`).toBeLessThan((backend === 'reference' ? 1e-10 : 1e-5) * Math.abs(want));
      expect(result.loss).toBeGreaterThan(0);
    }
  });

  it('the CLI prints its help, and refuses a bad flag with exit code 2', async () => {
    const cli = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
        execFile(process.execPath, ['--import', 'tsx', 'examples/hessian.ts', ...args], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) =>
          done({ code: err ? Number(err.code) : 0, stdout, stderr }),
        ),
      );
    const help = await cli('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npx tsx examples\/hessian\.ts/);
    expect(help.stdout).toContain('--checkpoint DIR');
    const bad = await cli('--iterations', '0');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('hessian: --iterations must be an integer >= 1, got "0"');
  });
});

/**
 * The README's guide (Build and train your own model, Save, load and predict,
 * Look inside, Custom training): each example under examples/guide/ runs as a
 * user runs it (`tsx examples/guide/<file>.ts`), and its output is checked
 * for what the README says of it; every line of code the README shows is in
 * the file it links to. The browser example runs in
 * test/browser/guide.browser.ts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'striate-guide-test-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Run an example with tsx and resolve to what it printed; reject with its stderr when it fails. */
function runExample(file: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--import', 'tsx', `examples/guide/${file}`, ...args], { cwd: root, timeout: 90_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file} failed: ${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

/** The numbers in the lines of `out` that match `pattern`, one array per line. */
function numbers(out: string, pattern: RegExp): number[][] {
  return [...out.matchAll(new RegExp(pattern.source, 'gm'))].map((m) => m.slice(1).map(Number));
}

describe('examples/guide', () => {
  it("README: every TypeScript snippet of the guide is code from the example file it links to", async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const guide = readme.slice(readme.indexOf('## Install'), readme.indexOf('## A first example'));
    const snippets = [...guide.matchAll(/```ts\n([\s\S]*?)```/g)];
    expect(snippets.length).toBeGreaterThanOrEqual(6);
    for (const snippet of snippets) {
      const before = guide.slice(0, snippet.index);
      const file = [...before.matchAll(/\]\((examples\/guide\/[\w-]+\.ts)\)/g)].at(-1)?.[1];
      expect(file, `no example file is linked before the snippet\n${snippet[1]}`).toBeDefined();
      const lines = new Set((await readFile(join(root, file!), 'utf8')).split('\n').map((l) => l.trim()));
      // Elisions (`/* the layers above */`, `// ... fill them ...`) stand for code shown elsewhere.
      const shown = snippet[1].split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.includes('/*') && !l.startsWith('// ...'));
      for (const line of shown) expect(lines.has(line), `README shows a line that is not in ${file}: ${line}`).toBe(true);
    }
  });

  it('errors.ts: prints the op, got and expected of three StriateErrors, as the README shows', async () => {
    const out = await runExample('errors.ts');
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Errors'));
    const shown = /```text\n([\s\S]*?)```/.exec(section)![1];
    expect(out).toBe(shown);
    expect(out.split('\n')[0]).toMatch(/^conv2d \| filters \[4,2,3,3\]/);
  });

  it('autodiff.ts: jvp agrees with vjp, the straight-through gradient, and checkpointing halves the live activations (README)', async () => {
    const out = await runExample('autodiff.ts');
    const [[byJvp, byVjp]] = numbers(out, /^<c, J t> = ([-\d.]+) \(jvp\), ([-\d.]+) \(vjp\)$/);
    expect(byJvp).toBeCloseTo(byVjp, 10);
    expect(byJvp).not.toBe(0);
    // d/dx of sum(binarize(x) x) = [x > 0] + x at x = sin(0.7 i) / 2.
    const [ste] = numbers(out, /^straight-through gradient: ([-\d.]+), ([-\d.]+), ([-\d.]+), ([-\d.]+), \.\.\.$/);
    ste.forEach((v, i) => {
      const xi = Math.sin(i * 0.7) / 2;
      expect(v).toBeCloseTo((xi > 0 ? 1 : 0) + xi, 3);
    });
    const [[plain, light]] = numbers(out, /^activations alive at once: ([\d.]+) MiB as written, ([\d.]+) MiB checkpointed$/);
    expect(light).toBeLessThan(plain * 0.6);
    expect(out).toContain('same gradient: true');
    // The README shows the memory line as printed, and its snippets are lines of the file.
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Forward mode, custom gradients'), readme.indexOf('## Backends'));
    expect(section).toContain(out.split('\n').find((l) => l.startsWith('activations alive'))!);
    const lines = new Set((await readFile(join(root, 'examples/guide/autodiff.ts'), 'utf8')).split('\n').map((l) => l.trim()));
    const snippets = [...section.matchAll(/```ts\n([\s\S]*?)```/g)];
    expect(snippets.length).toBe(3);
    for (const [, code] of snippets) for (const line of code.split('\n').filter((l) => l.trim())) expect(lines.has(line.trim()), line).toBe(true);
  });

  it('train-your-own.ts: prints the summary, one line per epoch, and a top-1 and top-5 error', async () => {
    const out = await runExample('train-your-own.ts');
    expect(out).toContain('stripes-net (input [N,1,16,16])');
    expect(out).toMatch(/^conv1 +conv2d +\[N,8,16,16\] +208 +51,200 +5x5$/m);
    expect(out).toMatch(/^fc +dense +\[N,10\] +1,450 +1,440 +all$/m);
    expect(out).toContain('total parameters: 2,826');
    const epochs = numbers(out, /^epoch (\d+): train loss ([\d.]+), test accuracy ([\d.]+)%/);
    expect(epochs.map(([e]) => e)).toEqual([1, 2, 3]);
    const [loss1, loss3] = [epochs[0][1], epochs[2][1]];
    expect(loss3).toBeLessThan(loss1 / 2);
    const accuracy = epochs[2][2] / 100;
    expect(accuracy).toBeGreaterThan(0.85); // the README says about 95%
    const [[top1, top5]] = numbers(out, /^test error: top-1 ([\d.]+)%, top-5 ([\d.]+)% \(500 images\)$/);
    // evaluate() on the final parameters measures what the last epoch's evaluation did.
    expect(top1 / 100).toBeCloseTo(1 - accuracy, 6);
    expect(top5).toBeLessThanOrEqual(top1);
    expect(top5).toBeLessThan(2);
  });

  it('save-load-predict.ts: loads the checkpoint without the model code and predicts what the trained model predicted', async () => {
    const checkpoint = join(dir, 'checkpoint');
    const out = await runExample('save-load-predict.ts', checkpoint);
    expect(out).toContain(`saved to ${checkpoint}`);
    const manifest = JSON.parse(await readFile(join(checkpoint, 'manifest.json'), 'utf8'));
    expect(manifest.model.name).toBe('mini-lenet'); // the description travels with the weights
    expect(out).toContain('loaded "mini-lenet", meta {"trainedOn":2000}');
    const rows = numbers(out, /^digit (\d) is a (\d): top 3 (\d) \(([\d.]+)%\), (\d) \(([\d.]+)%\), (\d) \(([\d.]+)%\)$/);
    expect(rows.map(([i]) => i)).toEqual([0, 1, 2, 3]);
    let correct = 0;
    for (const [, label, c1, p1, c2, p2, c3, p3] of rows) {
      expect(new Set([c1, c2, c3]).size).toBe(3);
      expect(p1).toBeGreaterThanOrEqual(p2);
      expect(p2).toBeGreaterThanOrEqual(p3);
      if (c1 === label) correct++;
    }
    expect(correct).toBeGreaterThanOrEqual(3);
    expect(out).toContain('predictions equal those before saving: true');
  });

  it('look-inside.ts: feature maps by layer name, charts, nearest training digits, the top 5 and top-5 error, saliency', async () => {
    const out = await runExample('look-inside.ts', dir);
    expect(out).toContain('relu1 (feature maps): shape [500,6,24,24]; features: shape [500,192]');
    for (const chart of ['filters.png', 'augment.png']) {
      const png = await readFile(join(dir, chart));
      expect([...png.subarray(0, 8)], chart).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(out).toContain(`wrote ${join(dir, chart)}`);
    }

    // The 5 training digits nearest test digit 0 (a 7) in the features fc reads: mostly 7s, nearest first.
    const pair = String.raw`(\d) \(([\d.]+)\)`;
    const [[label, ...near]] = numbers(out, new RegExp(String.raw`^test digit 0 is a (\d); its 5 nearest training digits \(layer features\) are ${Array(5).fill(pair).join(', ')}$`));
    expect(label).toBe(7);
    const labels = near.filter((_, i) => i % 2 === 0);
    const distances = near.filter((_, i) => i % 2 === 1);
    expect(labels.filter((n) => n === label).length).toBeGreaterThanOrEqual(4);
    expect(distances[0]).toBeGreaterThan(0); // test digits are not training digits
    for (let j = 1; j < 5; j++) expect(distances[j]).toBeGreaterThanOrEqual(distances[j - 1]);

    // topK of the whole test set: digit 0's row, best first; the top-5 error after two epochs, well below 20%.
    const [top5] = numbers(out, new RegExp(String.raw`^its top 5 classes: ${Array(5).fill(String.raw`(\d) \(([\d.]+)%\)`).join(', ')}$`));
    const classes = top5.filter((_, i) => i % 2 === 0);
    const percents = top5.filter((_, i) => i % 2 === 1);
    expect(classes[0]).toBe(label);
    expect(new Set(classes).size).toBe(5);
    for (let j = 1; j < 5; j++) expect(percents[j]).toBeLessThanOrEqual(percents[j - 1]);
    expect(percents.reduce((s, p) => s + p, 0)).toBeLessThanOrEqual(100.3);
    const [[top5Error]] = numbers(out, /^top-5 error on 500 test digits: ([\d.]+)%$/);
    expect(top5Error / 100).toBeGreaterThanOrEqual(0);
    expect(top5Error / 100).toBeLessThan(0.2);

    // Integrated Gradients: the attributions add up to f(x) - f(0), up to a gap small beside it.
    const [[target, difference, attributed, gap]] = numbers(
      out,
      /^integrated gradients of class (\d): f\(x\) - f\(0\) = ([-\d.]+), attributions sum to ([-\d.]+), gap ([-\d.e+]+)$/,
    );
    expect(target).toBe(label);
    expect(difference).toBeGreaterThan(1); // the 7's logit is well above that of a blank image
    expect(Math.abs(gap)).toBeLessThan(0.02 * difference);
    expect(Math.abs(attributed - difference - gap)).toBeLessThan(0.002); // each printed to 3 places
    // Grad-CAM of relu2's 8x8 maps, resized to the image: a peak inside it, a share of the mass.
    const [[h, w, H, W, row, column, mass, inked]] = numbers(
      out,
      /^grad-cam on relu2 \[(\d+),(\d+)\] resized to \[(\d+),(\d+)\]: peak at row (\d+), column (\d+); (\d+)% of its mass on the (\d+)% of pixels the digit inks$/,
    );
    expect([h, w, H, W]).toEqual([8, 8, 28, 28]);
    expect(Math.max(row, column)).toBeLessThan(28);
    expect(mass).toBeLessThanOrEqual(100);
    expect(inked).toBeGreaterThan(0);

    // The README's outputs are lines the example prints, numbers and the directory aside.
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Look inside'), readme.indexOf('## A first example'));
    const shape = (line: string) => line.replace(/^wrote .*\/([\w-]+\.png)$/, 'wrote …/$1').replace(/\d+(\.\d+)?(e[-+]?\d+)?/g, '#');
    const printed = new Set(out.split('\n').map(shape));
    const shown = [...section.matchAll(/```text\n([\s\S]*?)```/g)].flatMap(([, text]) => text.split('\n').filter((l) => l !== ''));
    expect(shown.length).toBeGreaterThanOrEqual(7);
    for (const line of shown) expect(printed.has(shape(line)), `README shows an output line look-inside.ts does not print: ${line}`).toBe(true);
  });

  it("mlp-conv.ts: an MLP with shared weights run on every block gives the convolution's map, for the same multiply-adds", async () => {
    const out = await runExample('mlp-conv.ts');
    const count = (pattern: RegExp) => pattern.exec(out)!.slice(1).map((s) => Number(s.replace(/,/g, '')));
    const [convAdds, convParams] = count(/^convolution: .* -> \[1,4,8,8\]: ([\d,]+) multiply-adds, ([\d,]+) parameters$/m);
    const [runs, perRun, mlpAdds, mlpParams] = count(/^MLP 25 -> 6 relu -> 4 on each of the \d+ 5x5 blocks: (\d+) runs x (\d+) = ([\d,]+) multiply-adds, ([\d,]+) parameters, shared$/m);
    expect(runs).toBe(64); // 8 × 8 positions of a 5×5 block on 12 × 12
    expect(perRun).toBe(25 * 6 + 6 * 4);
    expect(mlpAdds).toBe(runs * perRun);
    expect(convAdds).toBe(mlpAdds);
    expect(convParams).toBe(mlpParams);
    expect(convParams).toBe(6 * 25 + 6 + 4 * 6 + 4);
    const [[difference]] = numbers(out, /^max \|convolution - MLP map\| = ([\d.e+-]+)$/);
    expect(difference).toBeLessThan(1e-12);
    expect(out).toContain('would need 55,296 weights');
  });

  it('onnx.ts: ONNX Runtime runs the saved LeNet-5 as Striate does, and the file loads back and fine-tunes', async () => {
    const out = await runExample('onnx.ts', dir);
    expect(out).toContain(`saved ${join(dir, 'lenet5.onnx')}`);
    const [[diff]] = numbers(out, /^ONNX Runtime and Striate agree on 8 digits: largest logit difference ([\d.e+-]+)$/);
    expect(diff).toBeLessThan(1e-3);
    const [[before, after]] = numbers(out, /^test accuracy of the loaded model: ([\d.]+)% before fine-tuning, ([\d.]+)% after$/);
    expect(before).toBeGreaterThan(50);
    expect(after).toBeGreaterThan(before);
  });

  it('custom-training.ts: a custom loss, a frozen layer, a batch transform and snapshots', async () => {
    const out = await runExample('custom-training.ts');
    const snapshots = numbers(out, /^step (\d+): loss ([\d.]+), \|fc\.w\| ([\d.]+)$/);
    // 2,000 images in batches of 32: 62 steps an epoch, 124 in all, a snapshot every 25.
    expect(snapshots.map(([step]) => step)).toEqual([25, 50, 75, 100]);
    expect(snapshots[3][1]).toBeLessThan(snapshots[0][1]);
    const epochs = numbers(out, /^epoch (\d): test accuracy ([\d.]+)%$/);
    expect(epochs.map(([e]) => e)).toEqual([1, 2]);
    expect(epochs[1][1]).toBeGreaterThan(60);
    expect(out).toContain('conv1.w unchanged: true; conv2.w unchanged: false');
  });
});

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filterGridSpec, renderChart, trainingCurvesSpec, writeChart, type ChartSpec, type TrainEvent } from 'striate/node';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Pixels darker than mid-grey in rows [top, bottom) of a PNG. */
function darkPixels(png: Uint8Array, top = 0, bottom = Infinity): number {
  const img = PNG.sync.read(Buffer.from(png));
  let n = 0;
  for (let y = top; y < Math.min(bottom, img.height); y++) {
    for (let x = 0; x < img.width; x++) {
      const i = (y * img.width + x) * 4;
      if (img.data[i] + img.data[i + 1] + img.data[i + 2] < 3 * 100) n++;
    }
  }
  return n;
}

/** A chart that is nothing but one word of text: whatever dark pixels it has are glyphs. */
const word = (text: string): ChartSpec => ({
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  width: 200,
  height: 40,
  config: { view: { stroke: null } },
  data: { values: [{ text }] },
  mark: { type: 'text', fontSize: 28, color: 'black' },
  encoding: { text: { field: 'text' } },
});

const events: TrainEvent[] = [];
for (let k = 1; k <= 40; k++) events.push({ type: 'step', epoch: k <= 20 ? 1 : 2, step: ((k - 1) % 20) + 1, loss: 2 / k, accuracy: k / 41, imagesPerSecond: 1 });
events.splice(20, 0, { type: 'epoch', epoch: 1, trainLoss: 1, trainAccuracy: 0.5, testLoss: 0.2, testAccuracy: 0.6, seconds: 1 });
events.push({ type: 'epoch', epoch: 2, trainLoss: 1, trainAccuracy: 0.5, testLoss: 0.1, testAccuracy: 0.9, seconds: 1 });

describe('renderChart', () => {
  it('draws the text of a PNG with a system font', async () => {
    const text = await renderChart(word('Striate'), { scale: 1 });
    const blank = await renderChart(word(''), { scale: 1 });
    expect(darkPixels(blank)).toBe(0);
    expect(darkPixels(text)).toBeGreaterThan(300);
  });

  it("draws the curves' title, axis titles and labels", async () => {
    const png = await renderChart(trainingCurvesSpec(events, { title: 'LeNet-5 on MNIST' }), { scale: 1 });
    // The title band (above the plots, which start lower) holds only the title and subtitle.
    expect(darkPixels(png, 0, 24)).toBeGreaterThan(150);
    const svg = await renderChart(trainingCurvesSpec(events), { format: 'svg' });
    for (const label of ['Training curves', 'training step', 'loss (cross-entropy, log scale)', 'accuracy', 'epoch 1', 'test (end of epoch)']) {
      expect(svg).toContain(`>${label}</text>`);
    }
  });

  it('fails loudly instead of writing a PNG without text when no font can be found', async () => {
    await expect(renderChart(word('Striate'), { systemFonts: false })).rejects.toThrow(
      /renderChart: no font was found to draw the chart's text \(searched nothing\), so the PNG would have no labels; install a font/,
    );
    // An SVG leaves the fonts to whoever views it.
    await expect(renderChart(word('Striate'), { systemFonts: false, format: 'svg' })).resolves.toContain('Striate');
  });

  const dejavu = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
  it.skipIf(!existsSync(dejavu))('draws with the font files it is given when system fonts are off', async () => {
    const png = await renderChart(word('Striate'), { systemFonts: false, fontFiles: [dejavu], scale: 1 });
    expect(darkPixels(png)).toBeGreaterThan(300);
  });

  it('scales PNGs and checks its arguments', async () => {
    const one = PNG.sync.read(Buffer.from(await renderChart(word('x'), { scale: 1 })));
    const two = PNG.sync.read(Buffer.from(await renderChart(word('x'))));
    expect([two.width, two.height]).toEqual([2 * one.width, 2 * one.height]);
    await expect(renderChart({ $schema: 'https://vega.github.io/schema/vega/v5.json' })).rejects.toThrow(
      /renderChart: expects a Vega-Lite spec .* got an object with \$schema "https:\/\/vega.github.io\/schema\/vega\/v5.json"/,
    );
    await expect(renderChart(word('x'), { scale: 0 })).rejects.toThrow(/scale must be a number in \(0, 16\], got 0/);
    await expect(renderChart(word('x'), { format: 'jpeg' as 'png' })).rejects.toThrow(/format must be 'png' or 'svg', got "jpeg"/);
  });

  it('names the packages to install when vega-lite is missing', async () => {
    const script = "const { renderChart } = await import('./src/viz/render.ts'); await renderChart({ $schema: 'vega-lite' }).catch((e) => console.log(e.message));";
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', '--import', './test/viz/fixtures/hide-packages.mjs', '--input-type=module', '-e', script],
        { cwd: root, timeout: 60_000, env: { ...process.env, STRIATE_HIDE_PACKAGES: 'vega-lite' } },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
    expect(out.trim()).toBe(
      'renderChart: the optional package "vega-lite" is not installed; charts need vega, vega-lite and @resvg/resvg-js: add them with `npm install vega vega-lite @resvg/resvg-js`',
    );
  });
});

describe('writeChart', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'striate-chart-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes PNG or SVG by the extension', async () => {
    const spec = filterGridSpec({ data: Float32Array.from({ length: 6 * 25 }, (_, i) => Math.sin(i)), shape: [6, 1, 5, 5] });
    await writeChart(join(dir, 'filters.png'), spec);
    await writeChart(join(dir, 'filters.SVG'), spec);
    const png = await readFile(join(dir, 'filters.png'));
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(darkPixels(png)).toBeGreaterThan(100); // the title and the filter labels
    expect((await readFile(join(dir, 'filters.SVG'), 'utf8')).startsWith('<svg')).toBe(true);
    await expect(writeChart(join(dir, 'filters.jpg'), spec)).rejects.toThrow(/writeChart: cannot tell the format of ".*filters.jpg" from its extension; name the file .png or .svg/);
  });
});

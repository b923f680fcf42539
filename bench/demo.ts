/**
 * `npm run bench:demo`: what the demo's look-inside panels cost its training.
 * Builds the demo (Vite, production), opens it in Chromium on each backend,
 * trains, and alternates the panels' "live" box on and off every `--seconds`
 * seconds for `--rounds` rounds, measuring the training steps a second and
 * the panel updates a second (feature maps and saliency; nearest-neighbour
 * queries over the last two seconds of each live phase). Prints the medians, and training's rate with the
 * panels live as a share of its rate without.
 *
 * On a machine without a GPU, Chromium's WebGL2 and WebGPU run on
 * SwiftShader, on the same cores as everything else: there every panel update
 * costs training directly. Name the machine when quoting the numbers.
 *
 *   npm run bench:demo -- [--backends LIST] [--rounds N] [--seconds S]
 */
import { resolve } from 'node:path';
import os from 'node:os';
import { build, preview } from 'vite';
import { launchChromium, pageErrors } from '../test/browser/chromium.js';

const USAGE = `usage: npm run bench:demo -- [--backends LIST] [--rounds N] [--seconds S]
  --backends LIST   demo backends (default webasm-threads,webasm,webgl2)
  --rounds N        on/off rounds per backend (default 3)
  --seconds S       length of each phase in seconds (default 6)`;

function parse(argv: string[]): { backends: string[]; rounds: number; seconds: number } {
  const out = { backends: ['webasm-threads', 'webasm', 'webgl2'], rounds: 3, seconds: 6 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[++i];
    if (flag === '--backends' && value) out.backends = value.split(',');
    else if (flag === '--rounds' && Number.isInteger(Number(value)) && Number(value) >= 1) out.rounds = Number(value);
    else if (flag === '--seconds' && Number(value) > 0) out.seconds = Number(value);
    else {
      console.error(`bench:demo: bad flag ${flag} ${value ?? ''}\n${USAGE}`);
      process.exit(2);
    }
  }
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Hooks {
  ready: boolean;
  batchSize: number;
  status(): { step: number; phase: string; error?: string };
  inspect(): { updates: number; rates: { looks: number; neighbours: number }; errors: string[] };
  availability(): Record<string, string | null>;
}

const args = parse(process.argv.slice(2));
const config = resolve(import.meta.dirname, '../examples/browser/vite.config.ts');
await build({ configFile: config, logLevel: 'warn' });
const server = await preview({ configFile: config, logLevel: 'warn', preview: { port: 0, host: '127.0.0.1', strictPort: false } });
const url = server.resolvedUrls!.local[0];
const browser = await launchChromium();
console.log(`bench:demo on ${os.cpus()[0]?.model ?? 'an unknown CPU'} (${os.cpus().length} cores), Chromium, ${args.rounds} rounds of ${args.seconds} s per phase`);
const rows: string[] = [];
const batchSizes = new Set<number>();
try {
  for (const backend of args.backends) {
    const page = await browser.newPage({ viewport: { width: 1320, height: 900 } });
    const errors = pageErrors(page);
    await page.goto(`${url}?backend=${backend}`);
    await page.waitForFunction(() => (window as unknown as { striateDemo?: Hooks }).striateDemo?.ready === true, null, { timeout: 60_000 });
    const hooks = () => page.evaluate(() => {
      const d = (window as unknown as { striateDemo: Hooks }).striateDemo;
      return { status: d.status(), inspect: d.inspect(), availability: d.availability(), batchSize: d.batchSize };
    });
    const reason = (await hooks()).availability[backend];
    if (reason) {
      console.log(`${backend}: not available here (${reason})`);
      await page.close();
      continue;
    }
    // Train from a fresh network; again whenever the run's 10 epochs are over (a finished run makes no steps to count).
    const restart = async (): Promise<void> => {
      if ((await hooks()).status.phase === 'done') await page.click('#reset');
      await page.click('#train');
      await page.waitForFunction(() => (window as unknown as { striateDemo: Hooks }).striateDemo.status().step >= 20, null, { timeout: 120_000 });
    };
    await restart();
    const rate = { on: [] as number[], off: [] as number[], looks: [] as number[], neighbours: [] as number[] };
    for (let r = 0; r < args.rounds; r++) {
      for (let live = true, n = 0; n < 2; n++, live = !live) {
        if ((await hooks()).status.phase === 'done') await restart();
        await page.setChecked('#inspect-live', live);
        await page.waitForTimeout(1000);
        const a = await hooks();
        const t0 = Date.now();
        await page.waitForTimeout(args.seconds * 1000);
        const b = await hooks();
        const s = (Date.now() - t0) / 1000;
        if (b.status.phase === 'error') throw new Error(`${backend}: training stopped: ${b.status.error}`);
        if (b.inspect.errors.length) throw new Error(`${backend}: look inside failed: ${b.inspect.errors.join('; ')}`);
        if (b.status.phase === 'done') {
          // The run ended in this phase: measure this phase again on a fresh run.
          n--;
          live = !live;
          continue;
        }
        (live ? rate.on : rate.off).push((b.status.step - a.status.step) / s);
        if (live) {
          rate.looks.push((b.inspect.updates - a.inspect.updates) / s);
          rate.neighbours.push(b.inspect.rates.neighbours);
        }
      }
    }
    const batch = (await hooks()).batchSize;
    batchSizes.add(batch);
    if ((await hooks()).status.phase === 'running') await page.click('#train');
    if (errors.length) throw new Error(`${backend}: the page logged errors:\n${errors.join('\n')}`);
    await page.close();
    const on = median(rate.on) * batch;
    const off = median(rate.off) * batch;
    rows.push(
      `${backend.padEnd(15)} ${off.toFixed(0).padStart(8)} ${on.toFixed(0).padStart(8)} ${((on / off) * 100).toFixed(0).padStart(6)}% ${median(rate.looks).toFixed(1).padStart(9)} ${median(rate.neighbours).toFixed(1).padStart(13)}`,
    );
  }
} finally {
  await browser.close();
  await server.close();
}
console.log(`\nbackend         img/s off img/s live  share   looks/s  neighbours/s   (medians; batch ${[...batchSizes].join(', ')})`);
for (const r of rows) console.log(r);

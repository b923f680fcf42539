// Build and train in the browser: the model and data of train-your-own.ts, trained in the
// page on WebAssembly, with each epoch and the final error written into the page.
import { adam, defineModel, evaluate, formatSummary, nn, summary, train, type EvaluateResult } from 'striate';
import { stripes } from './stripes.js';

/** Train in the page, appending progress to `log`; resolves to the test error when done. */
export function trainInPage(log: HTMLElement): Promise<EvaluateResult> {
  const model = defineModel('stripes-net', [1, 16, 16], [
    nn.conv2d('conv1', { filters: 8, size: 5, padding: 'same' }), nn.relu(), nn.maxPool2d({ size: 2 }),
    nn.conv2d('conv2', { filters: 16, size: 3 }), nn.relu(), nn.maxPool2d({ size: 2 }),
    nn.flatten(), nn.dense('fc', { units: 10 }),
  ]);
  const data = { train: stripes(2000, 1), test: stripes(500, 2) };
  const backend = 'webasm'; // in a page also 'webgpu', 'webgl2', 'webasm-threads' (cross-origin isolated), 'cpu'
  const print = (line: string) => log.append(`${line}\n`);
  print(formatSummary(summary(model)));

  return new Promise((resolve, reject) => {
    // Subscribing starts training; the page stays responsive between steps, and unsubscribe() stops it.
    train({ model, data, optimizer: adam({ lr: 0.003 }), epochs: 3, batchSize: 32, backend, seed: 1 }).subscribe({
      next: (e) => {
        if (e.type === 'epoch') print(`epoch ${e.epoch}: test accuracy ${(100 * e.testAccuracy!).toFixed(1)}% (${e.seconds.toFixed(1)} s)`);
        if (e.type !== 'done') return;
        evaluate({ model, params: e.state.params, data: data.test, backend }).then((result) => {
          print(`test error: top-1 ${(100 * result.error).toFixed(1)}%, top-5 ${(100 * result.top5Error).toFixed(1)}% (${result.count} images)`);
          resolve(result);
        }, reject);
      },
      error: reject,
    });
  });
}

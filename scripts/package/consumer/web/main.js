// A page that imports the package as a bundler user would: Vite resolves
// 'striate' to its browser build. The kernel runs on every browser backend,
// so that the browser build of gpu.js inside the package is checked on each.
import { compile, defineModel, formatSummary, input, nn, relu, summary } from 'striate';

const BACKENDS = ['webasm', 'webgl2', 'webgpu', 'cpu'];
const out = document.getElementById('out');
try {
  const x = input('x', [4]);
  const lines = [];
  for (const backend of BACKENDS) {
    const f = compile([relu(x)], { backend });
    const [y] = await f.run({ x: new Float32Array([-1, 2, -3, 4]) });
    lines.push(`relu ${Array.from(y.data).join(',')} on ${backend}`);
    await f.dispose();
  }
  const model = defineModel('page', [1, 8, 8], [nn.conv2d('c', { filters: 2, size: 3 }), nn.flatten(), nn.dense('d', { units: 2 })]);
  out.textContent = `${lines.join('\n')}\n${formatSummary(summary(model))}`;
  out.dataset.done = 'ok';
} catch (error) {
  out.textContent = `error: ${error.message}`;
  out.dataset.done = 'error';
}

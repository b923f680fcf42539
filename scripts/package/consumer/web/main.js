// A page that imports the package as a bundler user would: Vite resolves
// 'striate' to its browser build.
import { compile, defineModel, formatSummary, input, nn, relu, summary } from 'striate';

const out = document.getElementById('out');
try {
  const x = input('x', [4]);
  const f = compile([relu(x)], { backend: 'webasm' });
  const [y] = await f.run({ x: new Float32Array([-1, 2, -3, 4]) });
  const model = defineModel('page', [1, 8, 8], [nn.conv2d('c', { filters: 2, size: 3 }), nn.flatten(), nn.dense('d', { units: 2 })]);
  out.textContent = `relu ${Array.from(y.data).join(',')}\n${formatSummary(summary(model))}`;
  out.dataset.done = 'ok';
} catch (error) {
  out.textContent = `error: ${error.message}`;
  out.dataset.done = 'error';
}

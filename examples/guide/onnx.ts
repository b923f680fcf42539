// ONNX out and in: train LeNet-5 briefly, save it as an .onnx file, run that file in
// ONNX Runtime and compare its predictions with Striate's, then load the file back
// as a Striate model and fine-tune it on more digits.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { lastValueFrom } from 'rxjs';
import { adam, evaluate, lenet5, ofType, predict, train } from 'striate';
import { loadMnist, loadOnnx, saveOnnx } from 'striate/node';

const backend = 'webasm';
const mnist = await loadMnist({ limitTrain: 3000, limitTest: 500 });
const first = { ...mnist.train, count: 1000, images: mnist.train.images.subarray(0, 1000 * 784), labels: mnist.train.labels.subarray(0, 1000) };
const model = lenet5();
const run = train({ model, data: { train: first }, optimizer: adam({ lr: 0.003 }), epochs: 1, batchSize: 32, backend, seed: 1 });
const { params } = (await lastValueFrom(run.pipe(ofType('done')))).state;

// The file: opset 13, input "x" [N, 1, 28, 28], output "logits" [N, 10].
const path = join(process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'striate-onnx-'))), 'lenet5.onnx');
await saveOnnx(path, model, params);
console.log(`saved ${path}`);

// ONNX Runtime reads it as it reads any other model.
const session = await ort.InferenceSession.create(path);
const images = mnist.test.images.subarray(0, 8 * 784);
const { logits } = await session.run({ x: new ort.Tensor('float32', images, [8, 1, 28, 28]) });
const ours = await predict(model, params, images, { backend });
const worst = Math.max(...Array.from(ours.logits, (v, i) => Math.abs(v - (logits.data as Float32Array)[i])));
console.log(`ONNX Runtime and Striate agree on 8 digits: largest logit difference ${worst.toExponential(1)}`);

// In again: the file becomes a Striate model that trains like any other.
const loaded = await loadOnnx(path);
const before = await evaluate({ model: loaded.model, params: loaded.params, data: mnist.test, backend });
const rest = { ...mnist.train, count: 2000, images: mnist.train.images.subarray(1000 * 784), labels: mnist.train.labels.subarray(1000) };
const tuned = train({ model: loaded.model, data: { train: rest }, optimizer: adam({ lr: 0.001 }), epochs: 1, batchSize: 32, backend, seed: 2, initial: { params: loaded.params } });
const after = (await lastValueFrom(tuned.pipe(ofType('done')))).state;
const result = await evaluate({ model: loaded.model, params: after.params, data: mnist.test, backend });
console.log(`test accuracy of the loaded model: ${(100 * before.accuracy).toFixed(1)}% before fine-tuning, ${(100 * result.accuracy).toFixed(1)}% after`);

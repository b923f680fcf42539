// A strict TypeScript consumer: type-checked against the published .d.ts with
// skipLibCheck off, under moduleResolution node16 and bundler.
import {
  adam,
  compile,
  conv2d,
  defineModel,
  input,
  nn,
  relu,
  train,
  type CompiledFunction,
  type Dataset,
  type EvaluateResult,
  type Model,
  type Params,
  type TrainEvent,
  type TrainData,
} from 'striate';
import { loadCheckpoint, saveCheckpoint } from 'striate/node';

const model: Model = defineModel('m', [1, 8, 8], [nn.conv2d('c', { filters: 2, size: 3 }), nn.flatten(), nn.dense('d', { units: 2 })]);
const set: Dataset = { images: new Float32Array(64 * 4), labels: new Uint8Array(4), count: 4 };
const data: TrainData = { train: set, test: set };
const events = train({ model, data, optimizer: adam(), epochs: 1, batchSize: 2, backend: 'cpu' });
events.subscribe((e: TrainEvent) => {
  if (e.type === 'done') {
    const params: Params = e.state.params;
    void saveCheckpoint('/tmp/never-run', { params: nn.toTensorGroup(params) });
  }
});
const x = input('x', [1, 1, 4, 4]);
const f: CompiledFunction = compile([relu(conv2d(x, input('w', [1, 1, 3, 3])))]);
const r: Promise<EvaluateResult> | null = null;
void f;
void r;
void loadCheckpoint;

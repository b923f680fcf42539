import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createPredictor,
  defineModel,
  initParams,
  lenet5,
  loadCheckpoint,
  loadModel,
  nn,
  paramShapes,
  predict,
  saveCheckpoint,
  StriateError,
  toTensorGroup,
  type Layer,
  type Model,
} from 'striate/node';
import { randomValues } from '../helpers.js';
import { reseal } from './fixtures/checkpoint-files.js';

/** A model with a residual block inside a scope, and dropout. */
const resnetish = (): Model =>
  defineModel('resnetish', [1, 8, 8], [
    nn.conv2d('stem', { filters: 4, size: 3, padding: 'same' }),
    nn.relu(),
    nn.scope('block', nn.residual(nn.sequential(nn.conv2d('a', { filters: 4, size: 3, padding: 'same' }), nn.relu()))),
    nn.avgPool2d({ size: 2 }),
    nn.flatten(),
    nn.dropout('drop', 0.2),
    nn.dense('fc', { units: 5 }),
  ]);

describe('checkpoints with a model description', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'striate-model-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['lenet5()', lenet5()],
    ['a residual model', resnetish()],
  ])('save with %s → loadModel → predict gives the predictions from before saving', async (_, model) => {
    const params = initParams(model, 5);
    const per = model.inputShape.reduce((a, b) => a * b, 1);
    const images = Float32Array.from(randomValues(3 * per, 2));
    const before = await predict(model, params, images, { backend: 'cpu', topK: 3 });

    await saveCheckpoint(dir, { model, params: toTensorGroup(params), meta: { epoch: 4 } });
    const loaded = await loadModel(dir);
    expect(loaded.model.name).toBe(model.name);
    expect(paramShapes(loaded.model)).toEqual(paramShapes(model));
    expect(loaded.meta).toEqual({ epoch: 4 });
    expect(Object.isFrozen(loaded.params)).toBe(true);
    expect(loaded.stats).toEqual({});
    const predictor = createPredictor(loaded.model, loaded.params, { backend: 'cpu', batchSize: 2 });
    const after = await predictor.predict(images, { topK: 3 });
    await predictor.dispose();
    expect(after.probabilities).toEqual(before.probabilities);
    expect(after.topK.labels).toEqual(before.topK.labels);
  });

  it('stores the description inside manifest.json, and loadCheckpoint rebuilds the model', async () => {
    const model = lenet5();
    await saveCheckpoint(dir, { model, params: toTensorGroup(initParams(model, 1)) });
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.model.format).toBe('striate-model');
    expect(manifest.model.forward.children[0]).toEqual({ kind: 'conv2d', name: 'conv1', options: { filters: 6, size: 5 } });
    const loaded = await loadCheckpoint(dir);
    expect(loaded.model).not.toBeNull();
    expect(paramShapes(loaded.model!)).toEqual(paramShapes(model));
  });

  it('keeps checkpoints without a model loading; loadModel then asks for the model', async () => {
    const model = lenet5();
    const params = initParams(model, 1);
    await saveCheckpoint(dir, { params: toTensorGroup(params) });
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    expect('model' in manifest).toBe(false);
    expect((await loadCheckpoint(dir)).model).toBeNull();
    await expect(loadModel(dir)).rejects.toThrow(expect.objectContaining({ op: 'loadModel', expected: 'a description in the checkpoint, or options.model' }));
    await expect(loadModel(dir)).rejects.toThrow(
      `loadModel: the checkpoint in ${dir} has no model description (it was saved without { model }); give the model as loadModel(dir, { model })`,
    );
    const loaded = await loadModel(dir, { model });
    expect(loaded.model).toBe(model);
    expect(loaded.params['fc3.b'].data).toEqual(params['fc3.b'].data);
    await expect(loadModel(dir, { model: resnetish() })).rejects.toThrow(/does not match the model/);
    await expect(loadModel(dir, { model: 'lenet5' as unknown as Model })).rejects.toThrow(expect.objectContaining({ op: 'loadModel', got: 'model string "lenet5"' }));
  });

  it('loadModel loads an older kept save', async () => {
    const model = lenet5();
    await saveCheckpoint(dir, { model, params: toTensorGroup(initParams(model, 1)), meta: { epoch: 1 } });
    await saveCheckpoint(dir, { model, params: toTensorGroup(initParams(model, 2)), meta: { epoch: 2 } });
    expect((await loadModel(dir)).meta).toEqual({ epoch: 2 });
    const first = await loadModel(dir, { save: 1 });
    expect(first.meta).toEqual({ epoch: 1 });
    expect(first.params['conv1.w'].data).toEqual(initParams(model, 1)['conv1.w'].data);
  });

  it('refuses to save a model it cannot describe, or parameters that are not its own', async () => {
    const plain: Layer = (x) => x;
    const custom = defineModel('custom', [3], [nn.dense('d', { units: 2 }), plain]);
    await expect(saveCheckpoint(dir, { model: custom, params: toTensorGroup(initParams(custom, 1)) })).rejects.toThrow(
      'saveCheckpoint: modelToJson: model "custom" has a layer that is a plain function "plain"',
    );
    const model = lenet5();
    const params = toTensorGroup(initParams(model, 1));
    delete params['fc3.b'];
    await expect(saveCheckpoint(dir, { model, params })).rejects.toThrow('saveCheckpoint: parameter "fc3.b" (shape [10]) is missing from the params');
    params['fc3.b'] = { shape: [11], data: new Float32Array(11) };
    await expect(saveCheckpoint(dir, { model, params })).rejects.toThrow(
      'saveCheckpoint: parameter "fc3.b" has shape [11] in the params but the model expects [10]',
    );
    // Nothing was written.
    await expect(loadCheckpoint(dir)).rejects.toThrow(/manifest\.json does not exist/);
  });

  it('refuses a checkpoint whose parameters disagree with its own description, or whose description is unreadable', async () => {
    const model = lenet5();
    await saveCheckpoint(dir, { model, params: toTensorGroup(initParams(model, 1)) });
    const path = join(dir, 'manifest.json');
    const text = await readFile(path, 'utf8');

    const wider = JSON.parse(text);
    wider.model.forward.children[0].options.filters = 8; // conv1 now 8 filters: conv1.w, conv1.b and conv2.w disagree
    await writeFile(path, JSON.stringify(wider));
    await expect(loadModel(dir)).rejects.toThrow(/manifest\.json fails its checksum/); // an edit by hand
    // Sealed again, so that the checks behind the manifest's checksum are the ones that refuse it.
    await writeFile(path, reseal(wider));
    const err = (await loadCheckpoint(dir).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(StriateError);
    expect(err.message).toMatch(/^loadCheckpoint: the parameters in .* do not match the checkpoint's own model description \(3 problems\)/);
    expect(err.message).toMatch(/"conv1.w" has shape \[6,1,5,5\] in the checkpoint but its model description expects \[8,1,5,5\]/);
    await expect(loadModel(dir)).rejects.toThrow(/do not match the checkpoint's own model description/);

    const unknown = JSON.parse(text);
    unknown.model.forward.children[1].kind = 'swish';
    await writeFile(path, reseal(unknown));
    await expect(loadCheckpoint(dir)).rejects.toThrow(
      /^loadCheckpoint: the model description in .*manifest\.json cannot be read: modelFromJson: forward\.children\[1\] has unknown layer kind "swish"/,
    );

    const notAnObject = JSON.parse(text);
    notAnObject.model = 'lenet5';
    await writeFile(path, reseal(notAnObject));
    await expect(loadCheckpoint(dir)).rejects.toThrow(/is not a valid checkpoint manifest: "model" must be a model description object, got "lenet5"/);
  });
});

/**
 * The memory-minded list scheduler of device plans (src/backend/schedule.ts).
 *  - memoryOrder places every node reachable from the outputs exactly once,
 *    each after its inputs (property, over random DAGs of add, mul, tanh, exp,
 *    reshape, after, checkpoint and constants on a few inputs), and is the
 *    depth-first order itself on a chain.
 *  - On training graphs its plan needs no more device memory than the plain
 *    depth-first order (LeNet-5 at three batch sizes), and much less on a
 *    checkpointed residual stack, where depth-first order undoes the
 *    checkpoints. The depth-first plans are compiled by the real executor:
 *    this file mocks schedule.js with a switch (`scheduler.depthFirst`) that
 *    makes the executor's memoryOrder return topologicalOrder instead, so
 *    both sides are measured by GpuJsFunction.memory itself.
 *  - Plans scheduled this way still compute what the reference computes
 *    (webasm against float64, a few graphs).
 */
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  add,
  after,
  buildModel,
  checkpoint,
  compile,
  constant,
  conv2d,
  exp,
  grad,
  input,
  lenet5,
  mul,
  neg,
  relu,
  reshape,
  sigmoid,
  softmaxCrossEntropy,
  sum,
  tanh,
  type GpuJsFunction,
  type Shape,
  type Tensor,
} from '../../src/index.js';
import { releaseIdleGpus } from '../../src/backend/gpujs/gpu.js';
import { memoryOrder } from '../../src/backend/schedule.js';
import { sizeOf, topologicalOrder } from '../../src/graph/tensor.js';
import { propertyRuns, randomValues } from '../helpers.js';

/** Whether the executor's memoryOrder is replaced by depth-first order (see the file comment). */
const scheduler = vi.hoisted(() => ({ depthFirst: false }));

vi.mock('../../src/backend/schedule.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/backend/schedule.js')>();
  const tensor = await import('../../src/graph/tensor.js');
  return {
    ...real,
    memoryOrder: (outputs: readonly Tensor[]): Tensor[] => (scheduler.depthFirst ? tensor.topologicalOrder(outputs) : real.memoryOrder(outputs)),
  };
});

afterEach(() => {
  scheduler.depthFirst = false;
});
afterAll(() => releaseIdleGpus());

/** One step of a random DAG: an op on earlier nodes, chosen by index modulo the nodes so far. */
interface DagStep {
  readonly op: 'add' | 'mul' | 'tanh' | 'exp' | 'reshape' | 'after' | 'scale' | 'checkpoint';
  readonly a: number;
  readonly b: number;
  readonly c: number;
}

interface DagSpec {
  readonly inputs: number;
  readonly steps: readonly DagStep[];
  readonly outputs: readonly number[];
}

const dagArb: fc.Arbitrary<DagSpec> = fc.record({
  inputs: fc.integer({ min: 1, max: 3 }),
  steps: fc.array(
    fc.record({
      op: fc.constantFrom('add', 'mul', 'tanh', 'exp', 'reshape', 'after', 'scale', 'checkpoint'),
      a: fc.nat(),
      b: fc.nat(),
      c: fc.nat(),
    }),
    { maxLength: 30 },
  ),
  outputs: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
});

/**
 * The DAG of a spec: inputs x0.. of shape [2,3]; reshape flips a node between
 * [2,3] and [6]; a binary op reshapes its second operand to the first's shape;
 * scale multiplies by a constant; after waits for one or two nodes;
 * checkpoint is a node with three or more inputs (region output, arguments,
 * what the region reads), one of them possibly repeated. Outputs may repeat
 * and may be inputs.
 */
function buildDag(spec: DagSpec): Tensor[] {
  const nodes: Tensor[] = Array.from({ length: spec.inputs }, (_, i) => input(`x${i}`, [2, 3]));
  const pick = (k: number): Tensor => nodes[k % nodes.length];
  const like = (t: Tensor, shape: Shape): Tensor => (t.shape.join() === shape.join() ? t : reshape(t, shape));
  for (const { op, a, b, c } of spec.steps) {
    const x = pick(a);
    const y = pick(b);
    const z = pick(c);
    switch (op) {
      case 'add':
        nodes.push(add(x, like(y, x.shape)));
        break;
      case 'mul':
        nodes.push(mul(x, like(y, x.shape)));
        break;
      case 'tanh':
        nodes.push(tanh(x));
        break;
      case 'exp':
        nodes.push(exp(mul(x, 0.1)));
        break;
      case 'reshape':
        nodes.push(reshape(x, x.shape.length === 2 ? [6] : [2, 3]));
        break;
      case 'after':
        nodes.push(c % 2 === 0 ? after(x, y) : after(x, y, z));
        break;
      case 'checkpoint':
        nodes.push(checkpoint((u: Tensor, v: Tensor) => mul(tanh(u), add(like(v, u.shape), like(z, u.shape))))(x, y));
        break;
      case 'scale':
        nodes.push(mul(x, constant(randomValues(sizeOf(x.shape), a + 1), x.shape)));
        break;
    }
  }
  // the last node is always an output, so the graph is not just its inputs
  return [...spec.outputs.map(pick), nodes[nodes.length - 1]];
}

/** Throws, naming the problem, unless `order` holds each node reachable from `outputs` once, each after its inputs. */
function checkOrder(order: readonly Tensor[], outputs: readonly Tensor[]): void {
  const reachable = topologicalOrder(outputs);
  const at = new Map<number, number>();
  order.forEach((n, i) => {
    if (at.has(n.id)) throw new Error(`%${n.id} (${n.op}) placed twice, at ${at.get(n.id)} and ${i}`);
    at.set(n.id, i);
  });
  expect(order.length).toBe(reachable.length);
  for (const n of reachable) if (!at.has(n.id)) throw new Error(`%${n.id} (${n.op}) is reachable but not placed`);
  order.forEach((n, i) => {
    for (const inp of n.inputs) {
      if (!(at.get(inp.id)! < i)) throw new Error(`%${n.id} (${n.op}) at ${i} runs before its input %${inp.id} (${inp.op}) at ${at.get(inp.id)}`);
    }
  });
}

describe('memoryOrder', () => {
  it('places every node once, each after its inputs (random DAGs)', () => {
    fc.assert(
      fc.property(dagArb, (spec) => {
        const outputs = buildDag(spec);
        checkOrder(memoryOrder(outputs), outputs);
      }),
      { numRuns: propertyRuns * 3 },
    );
  });

  it('places every node of a training graph once, each after its inputs', () => {
    for (const outputs of [lenetTraining(2), residualTraining(4, true), residualTraining(4, false)]) checkOrder(memoryOrder(outputs), outputs);
  });

  it('is the depth-first order on a chain', () => {
    const unary = fc.constantFrom(tanh, exp, neg, sigmoid, relu, (t: Tensor) => reshape(t, t.shape.length === 2 ? [6] : [2, 3]), (t: Tensor) => after(t, t));
    fc.assert(
      fc.property(fc.array(unary, { minLength: 1, maxLength: 20 }), (ops) => {
        let h: Tensor = input('x', [2, 3]);
        for (const op of ops) h = op(h);
        const order = memoryOrder([h]);
        expect(order.map((n) => n.id)).toEqual(topologicalOrder([h]).map((n) => n.id));
        expect(order.length).toBe(ops.length + 1);
      }),
      { numRuns: propertyRuns },
    );
  });
});

/** LeNet-5's training graph for a batch: [loss, ...the gradient by every parameter]. */
function lenetTraining(batchSize: number): Tensor[] {
  const model = buildModel(lenet5(), { batchSize, training: true });
  const loss = softmaxCrossEntropy(model.output, input('labels', [batchSize]));
  return [loss, ...grad(loss, model.paramTensors)];
}

/** A residual stack h + conv2d(tanh(conv2d(h, a_i)), b_i) on [4,4,12,12], checkpointed or not: [loss, ...filter gradients]. */
function residualTraining(blocks: number, checkpointed: boolean): Tensor[] {
  const ws: Tensor[] = [];
  let h: Tensor = input('x', [4, 4, 12, 12]);
  for (let i = 0; i < blocks; i++) {
    const a = input(`a${i}`, [4, 4, 3, 3]);
    const b = input(`b${i}`, [4, 4, 3, 3]);
    ws.push(a, b);
    const block = (v: Tensor): Tensor => add(v, conv2d(tanh(conv2d(v, a, { padding: 'same' })), b, { padding: 'same' }));
    h = checkpointed ? checkpoint(block)(h) : block(h);
  }
  const loss = sum(mul(h, h));
  return [loss, ...grad(loss, ws)];
}

/** The webasm plan of `outputs`, scheduled by memoryOrder or depth-first, handed to `look`, then disposed. */
async function withPlan<T>(outputs: readonly Tensor[], depthFirst: boolean, look: (f: GpuJsFunction) => T): Promise<T> {
  scheduler.depthFirst = depthFirst;
  const f = compile(outputs, { backend: 'webasm' });
  scheduler.depthFirst = false;
  try {
    return look(f);
  } finally {
    await f.dispose();
  }
}

const memoryOf = (outputs: readonly Tensor[], depthFirst: boolean): Promise<number> => withPlan(outputs, depthFirst, (f) => f.memory.bytes);

describe('memoryOrder plans against depth-first plans (webasm)', () => {
  it('the switch really changes the executor\'s order', async () => {
    const outputs = residualTraining(3, true);
    const ops = (f: GpuJsFunction): string => f.plan.map((s) => s.op).join(' ');
    expect(await withPlan(outputs, true, ops)).not.toBe(await withPlan(outputs, false, ops));
  });

  it.each([1, 8, 32])('LeNet-5 training, batch %i: no more device memory than depth-first', async (batch) => {
    const outputs = lenetTraining(batch);
    const scheduled = await memoryOf(outputs, false);
    const depthFirst = await memoryOf(outputs, true);
    console.log(`LeNet-5 batch ${batch}: memoryOrder ${scheduled} bytes, depth-first ${depthFirst}`);
    expect(scheduled).toBeLessThanOrEqual(depthFirst);
  });

  it('a checkpointed residual stack: much less than depth-first, which keeps the recomputed activations', async () => {
    const outputs = residualTraining(12, true);
    const scheduled = await memoryOf(outputs, false);
    const depthFirst = await memoryOf(outputs, true);
    const plain = await memoryOf(residualTraining(12, false), false);
    console.log(`12 checkpointed blocks: memoryOrder ${scheduled} bytes, depth-first ${depthFirst}; not checkpointed ${plain}`);
    expect(scheduled / depthFirst).toBeLessThan(0.75);
    expect(scheduled).toBeLessThan(plain);
  });
});

describe('plans scheduled by memoryOrder compute what the reference computes (webasm)', () => {
  const feedsFor = (f: { inputs: readonly { name: string; shape: Shape }[] }): Record<string, Float64Array> =>
    Object.fromEntries(
      f.inputs.map(({ name, shape }, i) => [
        name,
        name === 'labels' ? Float64Array.from({ length: sizeOf(shape) }, (_, k) => (3 * k + 1) % 10) : randomValues(sizeOf(shape), 41 + i).map((v) => v * 0.5),
      ]),
    );

  async function expectMatchesReference(outputs: readonly Tensor[], rtol: number): Promise<void> {
    const ref = compile(outputs);
    const feeds = feedsFor(ref);
    const want = ref.runSync(feeds);
    const f = compile(outputs, { backend: 'webasm' });
    try {
      const got = await f.run(feeds);
      want.forEach((w, o) => {
        const scale = Math.max(1e-6, ...Array.from(w.data, Math.abs));
        let worst = 0;
        got[o].data.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - w.data[k]))));
        expect(worst / scale, `output ${o} of ${outputs.length}`).toBeLessThanOrEqual(rtol);
      });
    } finally {
      await f.dispose();
    }
  }

  it('LeNet-5 training, batch 4', async () => {
    await expectMatchesReference(lenetTraining(4), 1e-4);
  });

  it('a checkpointed residual stack', async () => {
    await expectMatchesReference(residualTraining(3, true), 1e-4);
  });

  it('random DAGs', async () => {
    const specs = fc.sample(dagArb, { numRuns: 4, seed: 20261202 });
    for (const spec of specs) await expectMatchesReference(buildDag(spec), 1e-5);
  });
});

/**
 * Runs a Striate graph on a gpu.js backend.
 *
 * `compile()` plans the graph once: fuses what backend/fuse.ts fuses (relu
 * into convolutions and dense layers; on wasm also what wasm/rewrites.ts
 * rewrites), then topological order, one generated kernel per computing node
 * (specialised to its shapes and attributes, cached by source: on wasm the
 * tuned kernel of wasm/kernels/ where one applies, else the op's template),
 * reshapes as aliases (flat buffers need no copy), and inputs and
 * constants as uploads. The plan becomes one gpu.js pipeline
 * (`gpu.createPipeline`): intermediates stay in device memory (textures on
 * GL, storage buffers on WebGPU, one shared wasm memory on webasm), buffers
 * are reused after each value's last use, and only the requested outputs are
 * read back.
 */
import type { Observable, ObservableInput } from 'rxjs';
import { run$ } from '../reactive.js';
import { fuseForDevice } from '../fuse.js';
import { memoryOrder } from '../schedule.js';
import { wasmKernel } from './wasm/kernels/index.js';
import { wasmRewrites } from './wasm/rewrites.js';
import { type Shape, type Tensor, sizeOf } from '../../graph/tensor.js';
import { opDef } from '../../ops/index.js';
import type { KernelStage } from '../../ops/op.js';
import { collectInputs, type Feeds, type InputSpec, validateFeeds } from '../feeds.js';
import { checkSizes, type CompiledFunction, disposedError, formatCount, type RunResult } from '../compiled.js';
import { fail } from '../../graph/error.js';
import { type Grid, gridOf, isSrc, type Src } from '../../kernel/source.js';
import {
  type GpuJsBackend,
  type GpuHandle,
  type GpuPipeline,
  acquireGpu,
  expectedExecution,
  WASM_MEMORY_BYTES,
  WASM_SPARE_PAGES,
} from './gpu.js';

/** Where a value of the plan lives. */
type Slot =
  | { kind: 'arg'; index: number } // a pipeline argument (graph input or constant)
  | { kind: 'step'; index: number }; // the output of a kernel step

interface Step {
  readonly kernelKey: string;
  readonly args: readonly Slot[];
}

/** One kernel step of a compiled plan, in the order the steps run (see GpuJsFunction.plan). */
export interface PlanStep {
  /** The op whose kernel this is. */
  readonly op: string;
  /** Which of the op's kernel stages this is, 0-based. */
  readonly stage: number;
  /** How many kernel stages the op has: 1, or more where a long reduction is split into partial sums. */
  readonly stages: number;
  /** The node's input shapes. */
  readonly inputs: readonly Shape[];
  /** The node's output shape. */
  readonly output: Shape;
  /** Output cells this step computes (one thread each). */
  readonly cells: number;
  /** The thread grid [z, y, x], or null for a flat run. */
  readonly grid: Grid | null;
  /** Whether the kernel is the backend's tuned one (gpujs/wasm/kernels/) rather than the op's portable template. */
  readonly tuned: boolean;
  /** The kernel body's source. */
  readonly source: string;
}

/** The device memory of a compiled plan (see GpuJsFunction.memory). */
export interface PlanMemory {
  /** Bytes of the graph inputs and constants the kernels read. */
  readonly argumentBytes: number;
  /** How many step buffers the plan allocates (steps of one output shape share one once it is free). */
  readonly buffers: number;
  /** Bytes of those buffers. */
  readonly bufferBytes: number;
  /** The total, `argumentBytes + bufferBytes`: what the plan holds at its peak. */
  readonly bytes: number;
  /**
   * The most bytes of step outputs alive at once in the plan's order (each
   * freed after its last reader): what the plan would need if buffers were
   * shared across shapes, which gpu.js does not do. Arguments not included.
   */
  readonly peakLiveBytes: number;
}

/**
 * A graph compiled for a gpu.js backend (every {@link BackendName} but
 * `'reference'` and `'auto'`). Results are `Float32Array`s. The first run
 * checks that gpu.js really ran the backend asked for and throws, naming
 * both, when it fell back to another. `plan` lists the kernels it runs.
 */
export class GpuJsFunction implements CompiledFunction<Float32Array> {
  readonly inputs: readonly InputSpec[];
  private readonly handle: GpuHandle;
  private readonly argNames: (string | null)[] = []; // input name, or null for a constant
  private readonly argConstants: (Float32Array | null)[] = [];
  private readonly steps: Step[] = [];
  private readonly planSteps: PlanStep[] = [];
  private readonly argSizes: number[] = []; // elements of each argument
  private outSlots: Slot[] = [];
  private readonly kernels = new Map<string, { source: Src; size: number; grid: Grid | null }>();
  private pipeline: GpuPipeline | null = null;
  private planMemory: PlanMemory | null = null;
  private checked = false;
  private disposed = false;
  /** Runs started and not yet settled: dispose waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** What dispose returns, once called. */
  private released: Promise<void> | null = null;

  constructor(
    /** The graph's outputs, in the order `run` returns them. */
    readonly outputs: readonly Tensor[],
    /** The gpu.js backend that runs the graph. */
    readonly backend: GpuJsBackend,
  ) {
    this.handle = acquireGpu(backend);
    try {
      this.inputs = this.planGraph();
    } catch (e) {
      void this.handle.release(null); // nothing built yet: only the instance's count to give back
      throw e;
    }
  }

  /** Plan the graph (see the top of this file); returns its inputs. */
  private planGraph(): readonly InputSpec[] {
    const outputs = this.outputs;
    // Planned from the fused graph (same inputs, same output shapes); the
    // wasm backends rewrite it further for their tuned kernels.
    const fused = fuseForDevice(outputs);
    const planned = this.handle.ints ? wasmRewrites(fused) : fused;
    const order = memoryOrder(planned);
    checkSizes(this.backend, order, this.handle.limit);
    const inputs = collectInputs(order);

    const slotOf = new Map<number, Slot>();
    // The nodes whose buffers are read back: each output, through reshapes.
    const outputIds = new Set<number>();
    for (let o of planned) {
      while (opDef(o.op).kernel === 'alias') o = o.inputs[0];
      outputIds.add(o.id);
    }
    const inputArg = new Map<string, number>();
    for (const node of order) {
      const def = opDef(node.op);
      if (node.op === 'input') {
        const name = (node as Tensor<'input'>).attrs.name;
        let index = inputArg.get(name);
        if (index === undefined) {
          index = this.argNames.push(name) - 1;
          this.argConstants.push(null);
          this.argSizes.push(sizeOf(node.shape));
          inputArg.set(name, index);
        }
        slotOf.set(node.id, { kind: 'arg', index });
      } else if (node.op === 'constant') {
        const index = this.argNames.push(null) - 1;
        this.argConstants.push(Float32Array.from((node as Tensor<'constant'>).attrs.value));
        this.argSizes.push(sizeOf(node.shape));
        slotOf.set(node.id, { kind: 'arg', index });
      } else if (def.kernel === 'alias') {
        slotOf.set(node.id, slotOf.get(node.inputs[0].id)!); // same flat data
      } else if (def.kernel === 'upload') {
        throw new Error(`compile: op "${node.op}" is uploaded from the host but is neither an input nor a constant`);
      } else {
        // With integer indexing a kernel runs on its output's grid (gridOf); a
        // graph output only where its rows are 4k wide: on a narrower one gpu.js
        // would enter the SIMD body row by row (bench/README.md).
        const onGrid = this.handle.ints && (!outputIds.has(node.id) || gridOf(node.shape)[2] % 4 === 0);
        const grid = onGrid ? gridOf(node.shape) : null;
        const ctx = { inputs: node.inputs.map((i) => i.shape), attrs: node.attrs as never, out: node.shape, ints: this.handle.ints, grid };
        // The backend's tuned kernel where it has one for these shapes, the op's portable template otherwise.
        const tunedRule = this.handle.ints ? wasmKernel(node.op, ctx) : null;
        const rule = tunedRule ?? def.kernel(ctx);
        const stages: readonly KernelStage[] = isSrc(rule) ? [{ size: sizeOf(node.shape), body: rule, grid }] : rule.stages;
        const args = node.inputs.map((i) => slotOf.get(i.id)!);
        let index = -1;
        stages.forEach((stage, j) => {
          const size = Math.max(1, stage.size);
          // An earlier stage runs on the grid it names; the last one produces the node.
          // A body that never reads the thread's y or z (elementwise ops, say)
          // runs flat: it needs only i, and a flat cell costs no division.
          const named = j === stages.length - 1 ? grid : (stage.grid ?? null);
          const stageGrid = named && /this\.thread\.[yz]/.test(stage.body.text) ? named : null;
          if (stageGrid && stageGrid[0] * stageGrid[1] * stageGrid[2] !== size) {
            throw new Error(`compile: a kernel stage of ${node.op} has ${size} cells but a grid of [${stageGrid}] (a bug in Striate)`);
          }
          const kernelKey = `${stageGrid ? stageGrid.join('x') : size}|${args.length}|${stage.body.text}`;
          this.kernels.set(kernelKey, { source: stage.body, size, grid: stageGrid });
          index = this.steps.push({ kernelKey, args: [...args] }) - 1;
          this.planSteps.push({ op: node.op, stage: j, stages: stages.length, inputs: node.inputs.map((t) => t.shape), output: node.shape, cells: size, grid: stageGrid, tuned: tunedRule !== null, source: stage.body.text });
          args.push({ kind: 'step', index }); // later stages read this one's output
        });
        slotOf.set(node.id, { kind: 'step', index });
      }
    }
    this.outSlots = planned.map((o) => slotOf.get(o.id)!);
    if (this.handle.ints) this.checkWasmMemory();
    return inputs;
  }

  /**
   * The device memory the plan holds while it runs, as gpu.js lays it out
   * (pipeline.js's assignBuffers): each graph input and constant a step
   * reads, then the step buffers, a buffer shared between steps of the same
   * output shape once its occupant's last reader has run; each region 16-byte
   * aligned, as the wasm executor places them (GL textures and WebGPU
   * buffers hold the same values, with their own padding). It is the peak,
   * since every buffer lives for the whole run.
   */
  get memory(): PlanMemory {
    return (this.planMemory ??= this.measureMemory());
  }

  private measureMemory(): PlanMemory {
    const align16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;
    let argumentBytes = 0;
    const readArgs = new Set(this.steps.flatMap((step) => step.args.filter((a) => a.kind === 'arg').map((a) => a.index)));
    for (const index of readArgs) argumentBytes += align16(this.argSizes[index] * 4);
    const lastRead = this.steps.map(() => -1);
    this.steps.forEach((step, i) => step.args.forEach((a) => a.kind === 'step' && (lastRead[a.index] = Math.max(lastRead[a.index], i))));
    for (const slot of this.outSlots) if (slot.kind === 'step') lastRead[slot.index] = this.steps.length;
    const buffers: { shape: string; freeAfter: number }[] = [];
    let bufferBytes = 0;
    this.steps.forEach((step, i) => {
      const { size, grid } = this.kernels.get(step.kernelKey)!;
      const shape = grid ? grid.join('x') : String(size);
      let buffer = buffers.find((b) => b.freeAfter < i && b.shape === shape);
      if (!buffer) {
        buffer = { shape, freeAfter: -1 };
        buffers.push(buffer);
        bufferBytes += align16(size * 4);
      }
      buffer.freeAfter = lastRead[i];
    });
    // The same plan's values alive at once, step by step: the floor any allocator could reach.
    let live = 0;
    let peakLiveBytes = 0;
    const freedAfter: number[][] = this.steps.map(() => []);
    lastRead.forEach((at, i) => at >= 0 && at < this.steps.length && freedAfter[at].push(i));
    const bytesOf = (i: number): number => align16(this.kernels.get(this.steps[i].kernelKey)!.size * 4);
    this.steps.forEach((_, i) => {
      live += bytesOf(i);
      peakLiveBytes = Math.max(peakLiveBytes, live);
      for (const j of freedAfter[i]) live -= bytesOf(j);
      if (lastRead[i] < 0) live -= bytesOf(i); // read by no one: free at once
    });
    return { argumentBytes, buffers: buffers.length, bufferBytes, bytes: argumentBytes + bufferBytes, peakLiveBytes };
  }

  /**
   * The wasm backends run a plan in one wasm32 memory holding every input,
   * constant and plan buffer at once (`memory`, plus the threaded executor's
   * 16 control bytes); a plan that needs more than 4 GiB is refused.
   */
  private checkWasmMemory(): void {
    const { bytes: planBytes, buffers } = this.memory;
    const bytes = planBytes + 16;
    const limit = WASM_MEMORY_BYTES - WASM_SPARE_PAGES * 65536;
    if (bytes > limit) {
      const gib = (b: number): string => `${(b / 2 ** 30).toFixed(2)} GiB`;
      fail(
        'compile',
        `the graph needs ${gib(bytes)} of WebAssembly memory at once (its inputs, constants and ${buffers} intermediate buffers, ` +
          `${formatCount(bytes)} bytes), more than the ${gib(limit)} backend "${this.backend}" can address (a wasm32 memory is 4 GiB, of which gpu.js keeps 1 MiB); ` +
          'use a smaller batch or smaller dimensions, or another backend',
        `a plan of ${formatCount(bytes)} bytes`,
        `at most ${formatCount(limit)} bytes of WebAssembly memory`,
      );
    }
  }

  /** The kernel steps of the plan, in run order (for profiling and inspection). */
  get plan(): readonly PlanStep[] {
    return this.planSteps;
  }

  run$(feeds$: ObservableInput<Feeds>): Observable<RunResult<Float32Array>[]> {
    return run$(this, feeds$);
  }

  run(feeds: Feeds): Promise<RunResult<Float32Array>[]> {
    if (this.disposed) return Promise.reject(disposedError());
    const running = this.runOnce(feeds);
    this.inFlight.add(running);
    const settled = (): void => void this.inFlight.delete(running);
    running.then(settled, settled);
    return running;
  }

  private async runOnce(feeds: Feeds): Promise<RunResult<Float32Array>[]> {
    const fed = validateFeeds(this.inputs, feeds);
    const args = this.argNames.map((name, i) => this.argConstants[i] ?? toFloat32(fed.get(name!)!));
    let results: Float32Array[] = [];
    const stepOutputs = this.outSlots.filter((s) => s.kind === 'step');
    if (stepOutputs.length > 0) {
      const pipeline = (this.pipeline ??= this.buildPipeline());
      const out = (await pipeline(...args)) as unknown[];
      results = out.map((r, j) => flatResult(r, this.kernels.get(this.steps[stepOutputs[j].index].kernelKey)!.size));
      if (!this.checked) {
        expectedExecution(this.backend, pipeline, Math.max(...[...this.kernels.values()].map((v) => v.size)));
        this.checked = true;
      }
    }
    let next = 0;
    return this.outSlots.map((slot, i) => ({
      shape: [...this.outputs[i].shape],
      data: slot.kind === 'step' ? results[next++] : Float32Array.from(args[slot.index]),
    }));
  }

  /**
   * Release the pipeline's device memory and the kernels only this graph
   * used. Runs started before are not cut short: they finish (or fail) as
   * they would have, and the memory is released after them; runs started
   * afterwards reject with a StriateError. The promise settles once the
   * memory is released; disposing again returns the same promise.
   */
  dispose(): Promise<void> {
    this.released ??= (async () => {
      this.disposed = true;
      await Promise.allSettled([...this.inFlight]);
      const pipeline = this.pipeline;
      this.pipeline = null;
      await this.handle.release(pipeline);
    })();
    return this.released;
  }

  private buildPipeline(): GpuPipeline {
    const kernelFns = new Map<string, (...a: unknown[]) => unknown>();
    for (const [key, { source, size, grid }] of this.kernels) {
      kernelFns.set(key, this.handle.kernel(source, grid ?? [1, 1, size], Number(key.split('|')[1])));
    }
    const steps = this.steps;
    const outSlots = this.outSlots;
    // The orchestration runs once, at trace time, with opaque handles for the
    // arguments; each kernel call it makes becomes a step of the plan.
    const orchestrate = function (...args: unknown[]): unknown[] {
      const values: unknown[] = [];
      const read = (s: Slot): unknown => (s.kind === 'arg' ? args[s.index] : values[s.index]);
      for (const step of steps) values.push(kernelFns.get(step.kernelKey)!(...step.args.map(read)));
      return outSlots.filter((s) => s.kind === 'step').map(read);
    };
    Object.defineProperty(orchestrate, 'length', { value: this.argNames.length });
    return this.handle.pipeline(orchestrate);
  }
}

function toFloat32(a: ArrayLike<number>): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

/**
 * A step's result as one Float32Array of `size` values. gpu.js returns a
 * flat output as a Float32Array and a 2-D or 3-D one (a kernel run on its
 * grid) as nested arrays of rows; on the wasm backends those rows are
 * consecutive views of one array, which is then used as is. Anything else
 * (another backend's rows, an array of numbers) is copied in row-major order.
 */
export function flatResult(r: unknown, size: number): Float32Array {
  if (r instanceof Float32Array && r.length === size) return r;
  const rows: ArrayLike<number>[] = [];
  const collect = (v: unknown): void => {
    if (Array.isArray(v) && v.length > 0 && typeof v[0] !== 'number') v.forEach(collect);
    else rows.push(v as ArrayLike<number>);
  };
  collect(r);
  const first = rows[0];
  const last = rows[rows.length - 1];
  if (
    first instanceof Float32Array &&
    last instanceof Float32Array &&
    first.buffer === last.buffer &&
    last.byteOffset + last.byteLength - first.byteOffset === size * 4 &&
    rows.every((row, j) => row instanceof Float32Array && row.buffer === first.buffer && row.byteOffset === first.byteOffset + (j * size * 4) / rows.length)
  ) {
    return new Float32Array(first.buffer, first.byteOffset, size);
  }
  const flat = new Float32Array(size);
  let at = 0;
  for (const row of rows) {
    flat.set(row, at);
    at += row.length;
  }
  if (at !== size) throw new Error(`run: gpu.js returned ${at} values for an output of ${size} (a bug in Striate)`);
  return flat;
}

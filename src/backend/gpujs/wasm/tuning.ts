/**
 * Three adjustments to gpu.js 2.24's WebAssembly backend, applied once, when
 * a compiled graph first asks for `webasm` or `webasm-threads` (acquireGpu in
 * ../gpu.ts), in Node and in browsers alike (both of gpu.js's builds export
 * the classes touched here). They change the gpu.js module itself, so other
 * gpu.js wasm kernels in the same process get them too from then on: the first fixes a
 * bug, the second makes lane-affine reads vector loads, the third chooses
 * per kernel whether its module gets gpu.js's SIMD entry point.
 *
 * 1. Integer locals that stay integers. gpu.js types a local as a wasm i32
 *    only when it is declared with an integer literal and incremented with
 *    `++` somewhere (loop counters, and Striate's `intLet` declarations);
 *    every other local is an f32, and every array index computed from an f32
 *    costs a float add and an `i32.trunc_sat_f32_s` per read. The first
 *    bytecode walk of a kernel gets this right, but it records each literal
 *    it emitted as 'Integer' in a per-function cache, and every later walk
 *    (a fused pipeline always walks again, against its shared memory layout;
 *    the SIMD walk follows the scalar one) then sees the declaration's `0` as
 *    an Integer *value*, which gpu.js decays to an f32 local. So every
 *    counter and index in a pipeline, and every one in a SIMD body, was a
 *    float. Clearing the cache before each walk, scalar and vector, makes
 *    every walk type the function exactly as the first one did.
 *
 * 2. Vector loads for lane-affine reads. gpu.js's SIMD body computes four
 *    adjacent output cells (thread.x = base + 0..3) and reads an array at a
 *    lane-varying index as a gather: the index as an i32x4, clamped, then
 *    four lane extracts, four loads and four lane inserts. When the index is
 *    spelled `<uniform terms> + this.thread.x` (or `this.thread.x * s`), the
 *    four lanes read `base + s * lane`: a `v128.load` for s = 1, two loads
 *    and a shuffle for s = 2, four loads at immediate offsets otherwise,
 *    with the base computed once as a scalar. Outside divergent control
 *    flow every lane is a live thread that the scalar code would read at
 *    that same index unclamped, so the loads need no guard; under a lane
 *    mask, and in a function with a lane-divergent return, the base is
 *    range-checked and out-of-range quads take gpu.js's clamped gather.
 *    The tuned kernels (kernels/) spell their hot reads this way on a thread
 *    grid (`onLaneAxis`, `laneTerm` in lanes.ts).
 *
 * 3. SIMD per kernel. gpu.js decides per module, from
 *    `WebAssemblyKernel.isSIMDSupported`, whether to emit the four-lane
 *    body. With 1 and 2 most of Striate's kernels run faster in it (by how
 *    much: bench/README.md); a kernel whose reads are mostly gathers runs
 *    slower, and its tuned form marks its source with `scalarWasm`
 *    (lanes.ts) to keep a scalar module. The getter
 *    answers for the kernel being assembled: the engine's own answer
 *    (WebAssembly SIMD validates) and no scalar mark in the source.
 *
 * All three are checked by test/backend/gpujs/wasm/tuning.test.ts.
 */

import { SCALAR_WASM_MARK } from './lanes.js';

interface Walker {
  literalTypes: Record<string, string>;
}

interface Ast {
  readonly type: string;
  readonly operator?: string;
  readonly left?: Ast;
  readonly right?: Ast;
  readonly value?: unknown;
  readonly property?: { readonly name?: string };
  readonly name?: string;
}

/** The part of gpu.js's WasmFunctionEmitter the vector loads use. */
interface Emitter {
  addLocal(type: 'i32' | 'v128'): number;
  localGet(index: number): Emitter;
  localSet(index: number): Emitter;
  globalGet(index: number): Emitter;
  i32Const(value: number): Emitter;
  i32Add(): Emitter;
  i32Sub(): Emitter;
  i32Mul(): Emitter;
  i32Shl(): Emitter;
  i32GeS(): Emitter;
  i32LeS(): Emitter;
  i32And(): Emitter;
  f32Load(offset: number, align?: number): Emitter;
  v128Load(offset: number, align?: number): Emitter;
  f32x4Splat(): Emitter;
  f32x4ReplaceLane(lane: number): Emitter;
  if_(type: 'v128'): Emitter;
  else_(): Emitter;
  end(): Emitter;
  _push(bytes: readonly number[]): Emitter;
}

/** The part of gpu.js's WebAssemblyFunctionNode (in its vector walk) the vector loads use. */
interface VectorWalk {
  em: Emitter;
  assembler: {
    layout: Record<string, Record<string, { offset: number; flatLength: number } | undefined> | undefined>;
    globals: { threadX: number };
  };
  vInfo: { exprVarying(ast: Ast): boolean };
  vMaskDepth: number;
  /** The retired-lanes mask local of a function with a lane-divergent return, else -1. */
  vRetMask: number;
  readsThread: boolean;
  locals: Map<string, { kind: string; wtype?: string }>;
  getType(ast: Ast): string;
  getVariableSignature(ast: Ast): string;
  emitIndex(ast: Ast): void;
}

type Gather = (this: VectorWalk, table: string, name: string, x: Ast, y: Ast | null, z: Ast | null, node: Ast) => string;

interface GpuJsWasmClasses {
  WebAssemblyFunctionNode?: {
    prototype: {
      emitFunction(this: Walker, assembler: unknown): unknown;
      emitVectorFunction(this: Walker, assembler: unknown): unknown;
      vGather: Gather;
    };
  };
  WebAssemblyKernel?: {
    prototype: { _assembleModule(this: { source?: unknown }, ...args: unknown[]): unknown };
  };
}

const applied = new WeakSet<object>();

/**
 * What one assembled wasm module came out as, for the tests that hold the
 * tuned kernels to their fast form (test/backend/gpujs/wasm/kernels.test.ts):
 * a template re-spelled so that its reads become gathers still computes the
 * right values, only several times slower.
 */
export interface WasmModuleReport {
  /** The kernel's gpu.js source. */
  readonly source: string;
  /** Whether the module got gpu.js's SIMD body. */
  readonly simd: boolean;
  /** Lane-varying array reads in the SIMD body emitted as vector loads (adjustment 2). */
  readonly vectorReads: number;
  /** Lane-varying array reads in the SIMD body left as four-lane gathers. */
  readonly gathers: number;
}

type MutableReport = { -readonly [K in keyof WasmModuleReport]: WasmModuleReport[K] };

let recorded: MutableReport[] | null = null;
let reporting: MutableReport | null = null;

/** Record every wasm module gpu.js assembles from now until `stop()`, which returns them in order. */
export function recordWasmModules(): { stop(): WasmModuleReport[] } {
  if (recorded) throw new Error('recordWasmModules: a recording is already running');
  const list: MutableReport[] = (recorded = []);
  return {
    stop() {
      if (recorded === list) recorded = null;
      return list;
    },
  };
}

/** Whether tuneGpuJsWasm has adjusted the gpu.js module object `gpujs`. */
export function isGpuJsWasmTuned(gpujs: unknown): boolean {
  const node = (gpujs as GpuJsWasmClasses).WebAssemblyFunctionNode;
  return node !== undefined && applied.has(node);
}

/** Apply the three adjustments to the gpu.js module object `gpujs` (idempotent). */
export function tuneGpuJsWasm(gpujs: unknown): void {
  const lib = gpujs as GpuJsWasmClasses;
  const node = lib.WebAssemblyFunctionNode;
  const kernel = lib.WebAssemblyKernel;
  const engineSimd = kernel && Object.getOwnPropertyDescriptor(kernel, 'isSIMDSupported')?.get;
  if (
    !node ||
    !kernel ||
    !engineSimd ||
    typeof node.prototype.emitFunction !== 'function' ||
    typeof node.prototype.emitVectorFunction !== 'function' ||
    typeof node.prototype.vGather !== 'function' ||
    typeof kernel.prototype._assembleModule !== 'function'
  ) {
    throw new Error('striate: this gpu.js build lacks the WebAssembly backend internals Striate adjusts; Striate needs gpu.js 2.24.1');
  }
  if (applied.has(node)) return;
  applied.add(node);

  // 1. A fresh literal cache for every walk.
  const { emitFunction, emitVectorFunction } = node.prototype;
  node.prototype.emitFunction = function (assembler) {
    this.literalTypes = {};
    return emitFunction.call(this, assembler);
  };
  node.prototype.emitVectorFunction = function (assembler) {
    this.literalTypes = {};
    return emitVectorFunction.call(this, assembler);
  };

  // 2. Vector loads for lane-affine reads.
  node.prototype.vGather = laneAffineGather(node.prototype.vGather);

  // 3. SIMD per kernel: the getter answers for the module being assembled.
  let assembling: { source?: unknown } | null = null;
  const assemble = kernel.prototype._assembleModule;
  kernel.prototype._assembleModule = function (...args) {
    const outer = assembling;
    const outerReport = reporting;
    assembling = this;
    reporting = recorded ? { source: String(this.source), simd: false, vectorReads: 0, gathers: 0 } : null;
    try {
      return assemble.apply(this, args);
    } finally {
      if (reporting) recorded?.push(reporting);
      assembling = outer;
      reporting = outerReport;
    }
  };
  Object.defineProperty(kernel, 'isSIMDSupported', {
    configurable: true,
    get: () => {
      const source = assembling?.source;
      const simd = Boolean(engineSimd.call(kernel)) && !(typeof source === 'string' && source.includes(SCALAR_WASM_MARK));
      if (reporting) reporting.simd = simd;
      return simd;
    },
  });
}

/** An integer-typed expression, or a uniform local that gpu.js keeps as an i32 (which it types 'Number'). */
function integerTerm(walk: VectorWalk, ast: Ast): boolean {
  const type = walk.getType(ast);
  if (type === 'Integer' || type === 'LiteralInteger') return true;
  if (ast.type !== 'Identifier' || ast.name === undefined) return false;
  const local = walk.locals.get(ast.name);
  return local?.kind === 'scalar' && local.wtype === 'i32';
}

const isThreadX = (walk: VectorWalk, ast: Ast): boolean =>
  ast.type === 'MemberExpression' && walk.getVariableSignature(ast) === 'this.thread.value' && ast.property?.name === 'x';

const intLiteral = (ast: Ast | undefined): number | null =>
  ast && ast.type === 'Literal' && typeof ast.value === 'number' && Number.isInteger(ast.value) ? ast.value : null;

/** s for `this.thread.x`, `this.thread.x * s` or `s * this.thread.x` (s a positive integer literal); else null. */
function laneStride(walk: VectorWalk, ast: Ast): number | null {
  if (isThreadX(walk, ast)) return 1;
  if (ast.type === 'BinaryExpression' && ast.operator === '*' && ast.left && ast.right) {
    const s = isThreadX(walk, ast.left) ? intLiteral(ast.right) : isThreadX(walk, ast.right) ? intLiteral(ast.left) : null;
    return s !== null && s > 0 ? s : null;
  }
  return null;
}

/** The terms of a `+`/`-` chain, left to right; `negated` for those subtracted. */
function addends(ast: Ast, negated = false, out: { ast: Ast; negated: boolean }[] = []): { ast: Ast; negated: boolean }[] {
  if (ast.type === 'BinaryExpression' && (ast.operator === '+' || ast.operator === '-') && ast.left && ast.right) {
    addends(ast.left, negated, out);
    addends(ast.right, ast.operator === '-' ? !negated : negated, out);
  } else {
    out.push({ ast, negated });
  }
  return out;
}

// i8x16.shuffle picking lanes 0 and 2 of a and 1 and 3 of b: with a loaded
// at base and b at base + 3, the floats at base, base + 2, base + 4, base + 6.
const EVEN_LANES = [0xfd, 0x0d, 0, 1, 2, 3, 8, 9, 10, 11, 20, 21, 22, 23, 28, 29, 30, 31];

function laneAffineGather(original: Gather): Gather {
  const gather: Gather = function (this: VectorWalk, ...args) {
    if (reporting) reporting.gathers++;
    return original.apply(this, args);
  };
  return function (this: VectorWalk, table, name, x, y, z, node) {
    const layout = this.assembler.layout[table]?.[name];
    if (y || z || !layout) return gather.call(this, table, name, x, y, z, node);
    let stride = 0;
    const uniform: { ast: Ast; negated: boolean }[] = [];
    for (const { ast: term, negated } of addends(x)) {
      if (!this.vInfo.exprVarying(term)) {
        // Integer terms only: each is converted to i32 on its own, which
        // equals converting their sum only when none has a fraction.
        if (!integerTerm(this, term)) return gather.call(this, table, name, x, y, z, node);
        uniform.push({ ast: term, negated });
        continue;
      }
      const s = laneStride(this, term);
      if (s === null || negated || stride !== 0) return gather.call(this, table, name, x, y, z, node);
      stride = s;
    }
    if (stride === 0) return gather.call(this, table, name, x, y, z, node);

    if (reporting) reporting.vectorReads++;
    const em = this.em;
    const base = em.addLocal('i32');
    em.globalGet(this.assembler.globals.threadX);
    if (stride !== 1) em.i32Const(stride).i32Mul();
    for (const term of uniform) {
      this.emitIndex(term.ast);
      if (term.negated) em.i32Sub();
      else em.i32Add();
    }
    em.localSet(base);
    this.readsThread = true;

    const address = () => em.localGet(base).i32Const(2).i32Shl();
    const load = () => {
      if (stride === 1) {
        address().v128Load(layout.offset, 2);
      } else if (stride === 2) {
        address().v128Load(layout.offset, 2);
        address().v128Load(layout.offset + 12, 2);
        em._push(EVEN_LANES);
      } else {
        address().f32Load(layout.offset).f32x4Splat();
        for (let lane = 1; lane < 4; lane++) address().f32Load(layout.offset + 4 * stride * lane).f32x4ReplaceLane(lane);
      }
    };
    if (this.vMaskDepth === 0 && this.vRetMask === -1) {
      load();
      return 'vf32';
    }
    // Under a lane mask, or anywhere in a function with a lane-divergent
    // return (the retired lanes run the code after it), an inactive lane's
    // index may be wild: vector loads only when all four are inside the
    // array, gpu.js's clamped gather otherwise.
    const last = layout.flatLength - 1;
    em.localGet(base).i32Const(0).i32GeS();
    em.localGet(base).i32Const(last - 3 * stride).i32LeS();
    em.i32And().if_('v128');
    load();
    em.else_();
    original.call(this, table, name, x, y, z, node);
    em.end();
    return 'vf32';
  };
}

/**
 * The kernel-source language: safe construction of generated kernel source.
 * It sits below the ops (every op template is written in it) and above
 * nothing but the graph; the backends that run the kernels sit above the ops.
 *
 * Every kernel is a gpu.js kernel function whose source Striate writes from
 * an op's template. The only values that may be spliced into a template are
 * validated integers (shapes, strides, loop bounds), finite floats wrapped
 * with `float()`, identifiers wrapped with `ident()` (checked against a
 * strict pattern), and other `Src` fragments. A string from a data or model
 * file cannot reach kernel source: the `k` tag throws on it.
 */

const brand = Symbol('striate.src');

export interface Src {
  readonly [brand]: true;
  readonly text: string;
}

function src(text: string): Src {
  return Object.freeze({ [brand]: true as const, text });
}

export function isSrc(v: unknown): v is Src {
  return typeof v === 'object' && v !== null && (v as Src)[brand] === true;
}

class FloatLiteral {
  constructor(readonly value: number) {}
}

/** A finite float, printed with a decimal point so GLSL and WGSL type it as float. */
export function float(v: number): FloatLiteral {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`kernel source: float literal must be finite, got ${v}`);
  return new FloatLiteral(v);
}

const IDENT = /^[a-z][A-Za-z0-9_]{0,31}$/;

/** An identifier written by Striate's own templates. */
export function ident(name: string): Src {
  if (!IDENT.test(name)) throw new Error(`kernel source: ${JSON.stringify(name)} is not a valid identifier`);
  return src(name);
}

function render(v: unknown): string {
  if (isSrc(v)) return v.text;
  if (v instanceof FloatLiteral) {
    const s = String(v.value);
    return /[.e]/.test(s) ? s : `${s}.0`;
  }
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  throw new Error(
    `kernel source: only validated integers, float(), ident() and source fragments may be spliced into a kernel template, got ${typeof v} ${String(v).slice(0, 40)}`,
  );
}

/** Tagged template for kernel source. */
export function k(strings: TemplateStringsArray, ...values: unknown[]): Src {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return src(out);
}

/** Join fragments with a separator (itself static source). */
export function join(parts: readonly Src[], sep: string): Src {
  return src(parts.map((p) => p.text).join(sep));
}

/**
 * Declare the index local `name = value`. With `ints` (the webasm backends)
 * it is a wasm i32: gpu.js types a local as an integer only when it starts at
 * an integer literal and is incremented somewhere, so the declaration is
 * spelled that way, and `value` is converted once, on assignment. Index
 * arithmetic over integer locals, loop counters and integer literals then
 * stays in i32, with no float-to-int conversion per array read. Elsewhere
 * (GLSL, WGSL, gpu.js's cpu backend) it is a plain `const`, as before.
 * Only `+`, `-` and `*` may combine integer locals: gpu.js computes `/` and
 * `%` in floats.
 */
export function intLet(ints: boolean, name: Src, value: Src): Src {
  return ints ? k`let ${name} = 0;
  ${name}++;
  ${name} = ${value};` : k`const ${name} = ${value};`;
}

/**
 * The thread grid [z, y, x] (outermost first) a kernel with integer indexing
 * runs on for an output of `shape`: x = the last axis, y = the one before,
 * z = all leading axes flattened. gpu.js hands each thread its x, y, z as
 * integers (from the flat cell by divisions by constants, which the wasm
 * compiler turns into multiplications), so a kernel on a grid decodes only z.
 * The cell order, x fastest, is the row-major order of `shape`.
 */
export type Grid = readonly [number, number, number];

export function gridOf(shape: readonly number[]): Grid {
  const r = shape.length;
  const x = r >= 1 ? shape[r - 1] : 1;
  const y = r >= 2 ? shape[r - 2] : 1;
  const z = shape.slice(0, Math.max(0, r - 2)).reduce((a, b) => a * b, 1);
  return [z, y, x];
}

/**
 * `floor(value / d)` for an integer `value` in [0, max), as integer source
 * (see intLet): a shift for powers of two, otherwise a multiply and a shift
 * by a "magic" reciprocal where one is exact over the whole range without
 * overflowing an i32, otherwise a guarded float division.
 */
export function divFloor(value: Src, d: number, max: number): Src {
  if (d === 1) return value;
  if ((d & (d - 1)) === 0) return k`(${value} >> ${Math.log2(d)})`;
  // floor(v * m / 2^s) = floor(v / d) for 0 <= v < max when (max - 1) * e < 2^s,
  // e = m * d - 2^s (the rounding error of m); v * m must fit in an i32.
  for (let shift = 0; shift <= 30; shift++) {
    const m = Math.ceil(2 ** shift / d);
    const e = m * d - 2 ** shift;
    if ((max - 1) * e < 2 ** shift && (max - 1) * m < 2 ** 31) return k`((${value} * ${m}) >> ${shift})`;
  }
  return k`Math.floor((${value} + 0.5) / ${d})`;
}

/**
 * Declare `names[d]` as the coordinates of flat index `index` in a row-major
 * tensor of `shape`. Division is guarded with +0.5 so that float division on
 * GL backends cannot round an exact quotient down (exact for indices < 2^22).
 *
 * With `ints` (see intLet) the coordinates are integer locals, divisions are
 * exact integer ones where divFloor finds them, and when `index` is the
 * output index `i` of a kernel running on `grid` and `grid` is gridOf(shape),
 * the last two coordinates are the thread's x and y and only the leading
 * ones are decoded, from its z.
 */
export function decode(index: Src, shape: readonly number[], names: readonly Src[], ints = false, grid: Grid | null = null): Src {
  if (shape.length !== names.length) throw new Error('kernel source: decode needs one name per dimension');
  if (shape.length === 0) return k``;
  if (ints && grid && index.text === 'i' && shape.length >= 2 && sameGrid(gridOf(shape), grid)) {
    const r = shape.length;
    return join(
      [
        decode(k`this.thread.z`, shape.slice(0, r - 2), names.slice(0, r - 2), true),
        intLet(true, names[r - 2], k`this.thread.y`),
        intLet(true, names[r - 1], k`this.thread.x`),
      ].filter((part) => part.text !== ''),
      '\n  ',
    );
  }
  const lines: Src[] = [];
  let rest = index;
  let total = shape.reduce((a, b) => a * b, 1);
  let stride = total;
  for (let d = 0; d < shape.length; d++) {
    stride /= shape[d];
    if (shape[d] === 1) {
      lines.push(intLet(ints, names[d], k`0`));
    } else if (stride === 1) {
      lines.push(intLet(ints, names[d], rest));
    } else {
      lines.push(intLet(ints, names[d], ints ? divFloor(rest, stride, total) : k`Math.floor((${rest} + 0.5) / ${stride})`));
      const r = ident(`${names[d].text}_r`);
      lines.push(intLet(ints, r, k`${rest} - ${names[d]} * ${stride}`));
      rest = r;
      total = stride;
    }
  }
  return join(lines, '\n  ');
}

/** Whether two thread grids are the same. */
export function sameGrid(a: Grid, b: Grid): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}

/** `c0 * s0 + c1 * s1 + ...` for row-major strides of `shape`; broadcast (size-1) axes contribute nothing. */
export function offset(shape: readonly number[], coords: readonly Src[]): Src {
  const terms: Src[] = [];
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1) terms.unshift(stride === 1 ? coords[d] : k`${coords[d]} * ${stride}`);
    stride *= shape[d];
  }
  return terms.length ? join(terms, ' + ') : k`0`;
}


/** `base + off` or `base - |off|`, off a literal. */
export function plus(base: Src, off: number): Src {
  return off === 0 ? base : off > 0 ? k`${base} + ${off}` : k`${base} - ${-off}`;
}

/**
 * Kernel source of the test `lo <= v < hi` for a tap index v whose range over
 * the whole kernel is [min, max]: only the halves that can fail are emitted,
 * so a convolution without padding has no branch in its inner loop (which
 * matters most on the SIMD wasm backend, where branches become lane masks).
 */
export function rangeTest(v: Src, min: number, max: number, size: number): Src | null {
  const parts: Src[] = [];
  if (min < 0) parts.push(k`${v} >= 0`);
  if (max >= size) parts.push(k`${v} < ${size}`);
  return parts.length ? join(parts, ' && ') : null;
}

/**
 * Kernel source of the test that `v * s + c` lies in [0, n), written on v
 * itself (an integer in [0, vSize), s >= 1) against literal bounds, and only
 * the halves that can fail for these sizes; null when neither can.
 */
export function stepRangeTest(v: Src, s: number, c: number, n: number, vSize: number): Src | null {
  const lo = Math.ceil(-c / s); // v*s + c >= 0
  const hi = Math.ceil((n - c) / s); // v*s + c < n
  const parts: Src[] = [];
  if (lo > 0) parts.push(k`${v} >= ${lo}`);
  if (hi < vSize) parts.push(k`${v} < ${hi}`);
  return parts.length ? join(parts, ' && ') : null;
}

/** `if (test) { body }`, or just the body when there is nothing to test. */
export function guarded(test: Src | null, body: Src): Src {
  return test === null ? body : k`if (${test}) {
    ${body}
  }`;
}

/**
 * Safe construction of generated kernel source.
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
 * Declare `names[d]` as the coordinates of flat index `index` in a row-major
 * tensor of `shape`. Division is guarded with +0.5 so that float division on
 * GL backends cannot round an exact quotient down (exact for indices < 2^22).
 */
export function decode(index: Src, shape: readonly number[], names: readonly Src[]): Src {
  if (shape.length !== names.length) throw new Error('kernel source: decode needs one name per dimension');
  if (shape.length === 0) return k``;
  const lines: Src[] = [];
  let rest = index;
  let stride = shape.reduce((a, b) => a * b, 1);
  for (let d = 0; d < shape.length; d++) {
    stride /= shape[d];
    if (shape[d] === 1) {
      lines.push(k`const ${names[d]} = 0;`);
    } else if (stride === 1) {
      lines.push(k`const ${names[d]} = ${rest};`);
    } else {
      lines.push(k`const ${names[d]} = Math.floor((${rest} + 0.5) / ${stride});`);
      const r = ident(`${names[d].text}_r`);
      lines.push(k`const ${r} = ${rest} - ${names[d]} * ${stride};`);
      rest = r;
    }
  }
  return join(lines, '\n  ');
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

/**
 * The one error Striate throws for a user's mistake: a bad shape, attribute,
 * feed, file, option or call. Its message reads as before (`op: what went
 * wrong`), and its fields let a program act on it without parsing the text.
 *
 * ```ts
 * try {
 *   conv2d(input('x', [1, 3, 8, 8]), input('w', [4, 2, 3, 3]));
 * } catch (e) {
 *   if (e instanceof StriateError) {
 *     e.op;        // 'conv2d'
 *     e.got;       // 'filters [4,2,3,3] (2 input channels)'
 *     e.expected;  // '3 input channels, those of x [1,3,8,8]'
 *   }
 * }
 * ```
 *
 * Anything else that escapes Striate (a `TypeError`, a gpu.js error) is a bug
 * in Striate, or a failure of the machine (out of memory, a lost device) that
 * Striate passes on with its cause.
 */
export class StriateError extends Error {
  /** Always `'StriateError'`, as `Error`'s `name` is for the built-in errors. */
  override readonly name = 'StriateError';
  /** What refused the input: an op (`'conv2d'`), a stage (`'compile'`, `'run'`) or a function (`'train'`, `'loadCheckpoint'`). */
  readonly op: string;
  /** What it was given, described in words and numbers (a shape, a value, a file's size). */
  readonly got: string;
  /** What it accepts instead. */
  readonly expected: string;

  constructor(
    op: string,
    message: string,
    detail: { readonly got: string; readonly expected: string },
    options?: { readonly cause?: unknown },
  ) {
    super(`${op}: ${message}`, options);
    this.op = op;
    this.got = detail.got;
    this.expected = detail.expected;
  }
}

/**
 * An error as plain fields, the form in which it crosses between threads (a
 * worker's message port copies data, not classes): `op` is null for an error
 * that was not a StriateError.
 */
export interface ErrorFields {
  readonly message: string;
  readonly op: string | null;
  readonly got: string;
  readonly expected: string;
}

/** The fields of `e` for another thread to throw again with {@link errorFromFields}. */
export function errorFields(e: unknown): ErrorFields {
  const s = e instanceof StriateError ? e : null;
  return { message: (e as Error)?.message ?? String(e), op: s?.op ?? null, got: s?.got ?? '', expected: s?.expected ?? '' };
}

/**
 * The error that {@link errorFields} described, thrown again on this thread:
 * a StriateError stays one, with its message, `got` and `expected`; any other
 * error becomes `otherwise(message)`, which says where it came from.
 */
export function errorFromFields(e: ErrorFields, otherwise: (message: string) => Error): Error {
  if (e.op === null) return otherwise(e.message);
  const prefix = `${e.op}: `;
  return new StriateError(e.op, e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message, { got: e.got, expected: e.expected });
}

/**
 * Throw a {@link StriateError} in the house style: the message is
 * `op: message`; `got` and `expected` are the fields a program reads.
 */
export function fail(op: string, message: string, got: string, expected: string, cause?: unknown): never {
  throw new StriateError(op, message, { got, expected }, cause === undefined ? undefined : { cause });
}

/**
 * A short description of any value for an error's `got` or message:
 * `Float64Array(288)`, `an array of 8`, `undefined`, `string "x"`,
 * `an object with keys shape, data`.
 */
export function describeValue(v: unknown): string {
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<number>).length})`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'object') {
    const name = Object.getPrototypeOf(v)?.constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : `an object with keys ${Object.keys(v).join(', ') || '(none)'}`;
  }
  return `${typeof v} ${String(v)}`;
}

/**
 * `options` itself, once it is shown to be a plain object whose keys are all
 * `known` (or undefined: no options given). An unknown key is refused rather
 * than ignored, so a misspelt option (`strides`, `momentm`) cannot silently
 * leave its default in place; so is anything but a plain object (null, a
 * number, a string, an array, a Tensor passed where the options go).
 * `example`, when given, shows what the options look like (`{ axes: 1 }`).
 */
export function checkOptions<T>(who: string, options: T, known: readonly string[], example?: string): T {
  if (options === undefined) return options;
  const proto = typeof options === 'object' && options !== null ? Object.getPrototypeOf(options) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    const like = example === undefined ? '' : ` such as ${example}`;
    fail(who, `options must be an object${like}, got ${describeValue(options)}`, describeValue(options), `an object of options${like}`);
  }
  const list = known.map((k) => `"${k}"`).join(', ');
  for (const key of Object.keys(options as object)) {
    if (!known.includes(key)) {
      fail(who, `unknown option "${key}"; the options are ${list}`, `option "${key}"`, `one of ${list}`);
    }
  }
  return options;
}

/** `v` as JSON where JSON shows it faithfully (`3`, `[2,2]`, `"3"`), else described (`number NaN`, `undefined`, `a function`). */
export function showValue(v: unknown): string {
  if (typeof v === 'number' && !Number.isFinite(v)) return describeValue(v);
  if (typeof v === 'function' || typeof v === 'bigint') return describeValue(v);
  try {
    return JSON.stringify(v) ?? describeValue(v);
  } catch {
    return describeValue(v);
  }
}

/**
 * The geometry of the pooling family (maxPool2d, maxPool2dBackward,
 * maxPool2dSelect, avgPool2d, avgPool2dBackward), and the kernel templates
 * they share: validated window, stride, dilation and padding, ceil rounding
 * of the output size, the windows that cover a cell, and the tie rule of max
 * pooling.
 *
 * The pooling transpose rules. With P(x) the 0/1 matrix that picks the
 * first maximum of each window and A the matrix that averages each window:
 *
 *   op                   computes       VJP wrt dy (or x)         wrt x
 *   maxPool2d(x)         P(x) x         maxPool2dBackward(x, g)
 *   maxPool2dBackward    P(x)^T dy      maxPool2dSelect(x, g)     0 (P is constant between ties)
 *   maxPool2dSelect      P(x) dx        maxPool2dBackward(x, g)   0
 *   avgPool2d(x)         A x            avgPool2dBackward(g)
 *   avgPool2dBackward    A^T dy         avgPool2d(g)
 *
 * Every rule passes the node's pooling attributes on whole (dilation and
 * ceilPads included), so P and A are the same matrices on both sides.
 *
 * Ties: the FIRST maximum of each window in row-major window order is the one
 * P picks (as PyTorch does); `firstArgmax` and its kernel twin `argmaxSource`
 * are the one place the rule lives. NaN (reduce.ts): a NaN is larger than
 * every number and the first NaN wins, so a window holding a NaN pools to
 * NaN and routes its gradient to its first NaN.
 *
 * Dilation and ceil rounding. Along rows (columns alike), window oy starts at
 * a = oy*sh - top and has taps a + ky*dh, ky < kh, so it spans
 * span = dh*(kh - 1) + 1 rows. Ho = floor((H + top + bottom - span) / sh) + 1,
 * or with ceil rounding PyTorch's ceil_mode rule (window.ts, ceilExtra): the
 * windows may run up to sh - 1 rows past the padding, and the attributes hold
 * those rows as `ceilPads` (a window's cells there are padding for the
 * maximum and are never counted in a mean, even with countIncludePad).
 *
 * Why every window holds an input cell (no maximum and no mean exists
 * otherwise), given top, bottom < span (checkPadsBelowWindow):
 * 1. Every window's last tap a + span - 1 >= -top + span - 1 >= 0.
 * 2. Every window starts at or before row H - 1: with floor rounding the last
 *    starts at (Ho-1)*sh - top <= H + bottom - span <= H - 1; with ceil
 *    rounding the rule drops a last window that would start at H or later,
 *    and the shape rule checks that ceilPads is exactly what the rule adds.
 * 3. So the span meets the input. If a >= 0, tap a is an input row. If not,
 *    the first tap at or after row 0 exists (by 1) and lies in [0, dh - 1],
 *    the tap before it being negative: an input row whenever H >= dh, so
 *    always without dilation.
 * 4. When H < dh the taps can step over the whole input (H = 2, size 2,
 *    dilation 4, padding 2: taps at rows -2 and 2 only). There the shape rule
 *    checks every window and refuses the geometry (checkWindowsHoldInput).
 *
 * 'same' padding resolves with the dilated span (TensorFlow's rule, as
 * conv2d), and ceil rounding changes nothing there: when 'same' pads, the
 * padded input is exactly (out - 1)*s + span, so floor and ceil agree; when
 * it adds no padding, floor already gives ceil(in / s) windows and the one
 * more ceil would add starts at ceil(in / s)*s >= in, which the rule drops.
 */
import { type Shape, Tensor } from '../graph/tensor.js';
import type { Pads2d, Pair, Pool2dAttrs } from './attrs.js';
import { checkBoolean, checkTensor, opError, type NDArray, requiredOptions } from './op.js';
import { ceilExtra, checkPads, checkPair, checkRank4, effectiveSize, type Padding, resolvePads, toPair, windowOutput2d } from './window.js';
import { decode, type Grid, intLet, k, type Src } from '../kernel/source.js';
import { takesFirstMax, takesFirstMaxSource } from './reduce.js';

/** Options of `maxPool2d` and `avgPool2d`. */
export interface Pool2dOptions {
  /** Window height and width (one number for a square window), in taps. */
  size: number | readonly [number, number];
  /** Step between windows, rows and columns; defaults to `size` (non-overlapping windows). */
  stride?: number | readonly [number, number];
  /**
   * 'valid' (the default): no padding; 'same': pad so that out = ceil(in / stride),
   * the extra row/column at the end (TensorFlow's rule, with the dilated
   * window); a number or `[ph, pw]`: that many rows (columns) on each side;
   * `[top, bottom, left, right]`: exactly these. Every padding must be smaller
   * than the (dilated) window on its axis.
   */
  padding?: Padding;
  /**
   * Spacing between the window's taps, rows and columns (default 1: adjacent
   * cells), as PyTorch's MaxPool2d(dilation): tap (ky, kx) of window (oy, ox)
   * reads input cell (oy*sh - top + ky*dh, ox*sw - left + kx*dw), so a window
   * spans dh*(kh - 1) + 1 rows. A geometry where some window's taps would all
   * fall in the padding (possible only when the input is smaller than the
   * dilation) is refused. For mean pooling the mean is over the taps.
   */
  dilation?: number | readonly [number, number];
  /**
   * Round the output size up instead of down (default false), as PyTorch's
   * ceil_mode: Ho = ceil((H + top + bottom - span) / sh) + 1, less one when
   * that last window would start past the input (at row H or later). The
   * last windows may then reach up to sh - 1 rows (columns) past the padding;
   * those cells are never the maximum and never counted in a mean, even with
   * countIncludePad. With padding 'same' it changes nothing (it already
   * rounds up: out = ceil(in / stride)).
   */
  ceil?: boolean;
}

/** The options `pool2dAttrs` reads (mean pooling adds countIncludePad). */
export const POOL2D_OPTION_KEYS: readonly string[] = ['size', 'stride', 'padding', 'dilation', 'ceil'];

/** The keys of {@link Pool2dAttrs}, for the builders of the backward ops. */
export const POOL2D_ATTR_KEYS: readonly string[] = ['size', 'stride', 'pads', 'dilation', 'ceilPads'];

const isUnit = (p: Pair): boolean => p[0] === 1 && p[1] === 1;
const isZero = (p: Pair): boolean => p[0] === 0 && p[1] === 0;

/**
 * Turn user options into validated attributes (integers only; see attrs.ts).
 * `keys` are the options the op takes (mean pooling adds countIncludePad).
 * Dilation 1 and no ceil rows are left out of the attributes (their defaults).
 */
export function pool2dAttrs(op: string, x: Tensor, options: Pool2dOptions, keys: readonly string[] = POOL2D_OPTION_KEYS): Pool2dAttrs {
  checkTensor(op, 'the input', x);
  checkRank4(op, 'input', x.shape);
  requiredOptions(op, options, keys, '{ size: 2 }');
  const size = toPair(op, 'size', options.size, 1);
  const stride = options.stride === undefined ? size : toPair(op, 'stride', options.stride, 1);
  const dilation = options.dilation === undefined ? ([1, 1] as const) : toPair(op, 'dilation', options.dilation, 1);
  const ceil = checkBoolean(op, 'ceil', options.ceil ?? false);
  const [H, W] = [x.shape[2], x.shape[3]];
  const span: Pair = [effectiveSize(size[0], dilation[0]), effectiveSize(size[1], dilation[1])];
  const pads = resolvePads(op, options.padding ?? 'valid', [H, W], span, stride);
  const ceilPads: Pair = ceil ? [ceilExtra(H, pads[0], pads[1], span[0], stride[0]), ceilExtra(W, pads[2], pads[3], span[1], stride[1])] : [0, 0];
  return { size, stride, pads, ...(isUnit(dilation) ? {} : { dilation }), ...(isZero(ceilPads) ? {} : { ceilPads }) };
}

/**
 * The pooling attributes of `attrs` alone (a mean pooling's, say), for the
 * node of another op of the family; dilation and ceilPads go along where set.
 */
export function poolAttrsOf(attrs: Pool2dAttrs): Pool2dAttrs {
  const { size, stride, pads, dilation, ceilPads } = attrs;
  return { size, stride, pads, ...(dilation === undefined ? {} : { dilation }), ...(ceilPads === undefined ? {} : { ceilPads }) };
}

/** How an error names the window: `the 2x2 pooling window`, or `the 2x2 pooling window (dilated to 3x3)`. */
function windowName([kh, kw]: Pair, [dh, dw]: Pair): string {
  return dh === 1 && dw === 1 ? `the ${kh}x${kw} pooling window` : `the ${kh}x${kw} pooling window (dilated to ${effectiveSize(kh, dh)}x${effectiveSize(kw, dw)})`;
}

/**
 * The shape rule of pooling: `[N, C, Ho, Wo]` from `x` `[N, C, H, W]`. Checks
 * the attributes again (they reach kernel source), that each padding is
 * smaller than the dilated window, that the window fits the padded input,
 * that ceilPads is what ceil rounding gives (or 0), and that every window
 * holds an input cell (see the header).
 */
export function pool2dShape(op: string, x: Shape, attrs: Pool2dAttrs): Shape {
  checkRank4(op, 'input', x);
  const size = checkPair(op, 'size', attrs.size, 1);
  const stride = checkPair(op, 'stride', attrs.stride, 1);
  const dilation = checkPair(op, 'dilation', attrs.dilation ?? [1, 1], 1);
  const pads = checkPads(op, attrs.pads);
  const ceilPads = checkPair(op, 'ceilPads', attrs.ceilPads ?? [0, 0], 0);
  const span: Pair = [effectiveSize(size[0], dilation[0]), effectiveSize(size[1], dilation[1])];
  checkPadsBelowWindow(op, pads, size, span);
  windowOutput2d(op, windowName(size, dilation), [x[2], x[3]], pads, span, stride);
  checkCeilPads(op, x, pads, span, stride, ceilPads);
  const g = poolGeometry(x, attrs);
  checkWindowsHoldInput(op, g, size, dilation);
  return [x[0], x[1], g.ho, g.wo];
}

/**
 * A padding as wide as the (dilated) window would let the first or last
 * window lie wholly in it: no maximum, no mean. With padding < span every
 * window's span meets the input (the header, points 1 and 2); with dilation 1
 * that is enough, and checkWindowsHoldInput covers the rest.
 */
function checkPadsBelowWindow(op: string, pads: Pads2d, [kh, kw]: Pair, [eh, ew]: Pair): void {
  const [top, bottom, left, right] = pads;
  if (top >= eh || bottom >= eh || left >= ew || right >= ew) {
    const window = eh === kh && ew === kw ? `${kh}x${kw} window` : `${kh}x${kw} window (dilated to ${eh}x${ew})`;
    opError(
      op,
      `padding [top ${top}, bottom ${bottom}, left ${left}, right ${right}] must be smaller than the ${window} ` +
        `on each side (at most ${eh - 1} rows and ${ew - 1} columns), or a window could lie wholly in the padding`,
      `pads [${pads.join(',')}] for a ${window}`,
      `at most ${eh - 1} rows and ${ew - 1} columns of padding on each side`,
    );
  }
}

/** ceilPads on each axis: 0 (floor rounding) or exactly the cells ceil rounding adds to this input. */
function checkCeilPads(op: string, x: Shape, pads: Pads2d, span: Pair, stride: Pair, ceilPads: Pair): void {
  const want: Pair = [ceilExtra(x[2], pads[0], pads[1], span[0], stride[0]), ceilExtra(x[3], pads[2], pads[3], span[1], stride[1])];
  if ((ceilPads[0] !== 0 && ceilPads[0] !== want[0]) || (ceilPads[1] !== 0 && ceilPads[1] !== want[1])) {
    const expected = `[${want[0] === 0 ? '0' : `0 or ${want[0]}`}, ${want[1] === 0 ? '0' : `0 or ${want[1]}`}]`;
    opError(
      op,
      `ceilPads must hold 0 (floor rounding) or the rows and columns ceil rounding adds for an input ${x[2]}x${x[3]} ` +
        `(pads [${pads.join(',')}]): here ${expected}, got [${ceilPads.join(',')}]`,
      `ceilPads [${ceilPads.join(',')}]`,
      `ceilPads ${expected}`,
    );
  }
}

/**
 * The header's point 4: where the input is smaller than the dilation along
 * an axis, look at every window along it and refuse one whose taps all miss
 * the input. Elsewhere points 1-3 prove that none does.
 */
function checkWindowsHoldInput(op: string, g: PoolGeometry, size: Pair, dilation: Pair): void {
  const axis = (what: 'row' | 'column', inSize: number, outSize: number, kk: number, s: number, d: number, before: number): void => {
    if (inSize >= d) return;
    for (let o = 0; o < outSize; o++) {
      const a = o * s - before;
      const j = a >= 0 ? 0 : Math.ceil(-a / d); // the first tap at or after cell 0
      if (j < kk && a + j * d < inSize) continue;
      const last = a + (kk - 1) * d;
      opError(
        op,
        `${windowName(size, dilation)} at output ${what} ${o} reads only padding: its taps, input ${what}s ${a} to ${last} every ${d}, ` +
          `step over all ${inSize} input ${what}s; use a smaller dilation or less padding`,
        `a window with taps at ${what}s ${a} to ${last} every ${d} over ${inSize} input ${what}s`,
        `every window reading at least one input ${what}`,
      );
    }
  };
  axis('row', g.h, g.ho, size[0], g.sh, dilation[0], g.pt);
  axis('column', g.w, g.wo, size[1], g.sw, dilation[1], g.pl);
}

/** Sizes and steps of one pooling, from the input shape and the attributes. */
export interface PoolGeometry {
  /** N * C: the number of independent planes. */
  readonly planes: number;
  readonly h: number;
  readonly w: number;
  readonly ho: number;
  readonly wo: number;
  /** Taps per window, rows and columns. */
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  /** Spacing between taps, rows and columns (1: adjacent). */
  readonly dh: number;
  readonly dw: number;
  /** Rows and columns a window spans: d*(k - 1) + 1. */
  readonly eh: number;
  readonly ew: number;
  /** Padding at the top and the left: window (oy, ox) starts at input cell (oy*sh - padTop, ox*sw - padLeft). */
  readonly pt: number;
  readonly pl: number;
  /** The user's padding at the bottom and the right (counted in a mean with countIncludePad). */
  readonly pb: number;
  readonly pr: number;
  /** The rows (columns) ceil rounding adds past the bottom (right) padding; never counted. */
  readonly cb: number;
  readonly cr: number;
}

/** The sizes and steps of pooling `xShape` with `attrs` (validated by pool2dShape), dilation and ceil rows resolved to their defaults where absent. */
export function poolGeometry(xShape: Shape, attrs: Pool2dAttrs): PoolGeometry {
  const [n, c, h, w] = xShape;
  const [kh, kw] = attrs.size;
  const [sh, sw] = attrs.stride;
  const [dh, dw] = attrs.dilation ?? [1, 1];
  const [pt, pb, pl, pr] = attrs.pads;
  const [cb, cr] = attrs.ceilPads ?? [0, 0];
  const eh = effectiveSize(kh, dh);
  const ew = effectiveSize(kw, dw);
  return {
    planes: n * c,
    h,
    w,
    ho: Math.floor((h + pt + pb + cb - eh) / sh) + 1,
    wo: Math.floor((w + pl + pr + cr - ew) / sw) + 1,
    kh,
    kw,
    sh,
    sw,
    dh,
    dw,
    eh,
    ew,
    pt,
    pl,
    pb,
    pr,
    cb,
    cr,
  };
}

/** Per output row (column) of a pooling, the taps of its window, as {@link windowSpans} gives them. */
export interface WindowSpans {
  /** The first tap inside the input, rows; the taps inside are r0, r0 + dh, ... below r1. */
  readonly r0: Int32Array;
  /** One past the last tap inside the input, rows. */
  readonly r1: Int32Array;
  /** The first tap inside the input, columns; the taps inside are c0, c0 + dw, ... below c1. */
  readonly c0: Int32Array;
  /** One past the last tap inside the input, columns. */
  readonly c1: Int32Array;
  /** How many taps lie inside the input, rows. */
  readonly rowsIn: Int32Array;
  /** How many taps lie inside the input, columns. */
  readonly colsIn: Int32Array;
  /** How many taps lie inside the input or the user's padding (not the ceil rows), rows. */
  readonly rowsPadded: Int32Array;
  /** The same, columns. */
  readonly colsPadded: Int32Array;
}

/**
 * For every output row (column), its window's taps clipped to the input
 * (first, one past the last, and how many), and how many lie inside the input
 * or the user's padding. Written once per pooling so the inner loops allocate
 * nothing. Every window holds an input tap (the shape rule checked).
 */
export function windowSpans(g: PoolGeometry): WindowSpans {
  const span = (outSize: number, inSize: number, size: number, s: number, d: number, before: number, after: number) => {
    const lo = new Int32Array(outSize);
    const hi = new Int32Array(outSize);
    const inside = new Int32Array(outSize);
    const padded = new Int32Array(outSize);
    for (let o = 0; o < outSize; o++) {
      const start = o * s - before;
      const first = start >= 0 ? 0 : Math.ceil(-start / d);
      const last = Math.min(size - 1, Math.floor((inSize - 1 - start) / d));
      lo[o] = start + first * d;
      hi[o] = start + last * d + 1;
      inside[o] = last - first + 1;
      // the taps below in + after (a window never starts before -before)
      padded[o] = Math.min(size - 1, Math.floor((inSize + after - 1 - start) / d)) + 1;
    }
    return [lo, hi, inside, padded] as const;
  };
  const [r0, r1, rowsIn, rowsPadded] = span(g.ho, g.h, g.kh, g.sh, g.dh, g.pt, g.pb);
  const [c0, c1, colsIn, colsPadded] = span(g.wo, g.w, g.kw, g.sw, g.dw, g.pl, g.pr);
  return { r0, r1, c0, c1, rowsIn, colsIn, rowsPadded, colsPadded };
}

/**
 * The reverse map, for gathers: input row i lies in the span of the windows
 * of output rows oy in [lo[i], hi[i]) (possibly several when windows overlap,
 * possibly none when the stride skips it); likewise for columns. With
 * dilation a window whose span holds i reads it only when i sits on a tap:
 * (i + top - oy*sh) divisible by dh (gatherCovering tests it).
 */
export function coveringWindows(g: PoolGeometry): { oy0: Int32Array; oy1: Int32Array; ox0: Int32Array; ox1: Int32Array } {
  const cover = (inSize: number, outSize: number, span: number, s: number, pad: number) => {
    const lo = new Int32Array(inSize);
    const hi = new Int32Array(inSize);
    for (let i = 0; i < inSize; i++) {
      // window o's span holds i when o*s - pad <= i <= o*s - pad + span - 1
      const first = i + pad - span + 1;
      lo[i] = first <= 0 ? 0 : Math.ceil(first / s);
      hi[i] = Math.min(Math.floor((i + pad) / s) + 1, outSize);
    }
    return [lo, hi] as const;
  };
  const [oy0, oy1] = cover(g.h, g.ho, g.eh, g.sh, g.pt);
  const [ox0, ox1] = cover(g.w, g.wo, g.ew, g.sw, g.pl);
  return { oy0, oy1, ox0, ox1 };
}

/**
 * A pooling gradient as a reference gathers it (as a device kernel would):
 * each input cell `at` (a flat index into x) sums term(at, w, cell) over the windows that
 * read it, w the window's flat index in the pooled tensor and cell its
 * index within the plane (oy * wo + ox).
 */
export function gatherCovering(g: PoolGeometry, term: (at: number, w: number, cell: number) => number): Float64Array {
  const { oy0, oy1, ox0, ox1 } = coveringWindows(g);
  const dx = new Float64Array(g.planes * g.h * g.w);
  const outPlane = g.ho * g.wo;
  let at = 0;
  for (let p = 0; p < g.planes; p++) {
    const outBase = p * outPlane;
    for (let i = 0; i < g.h; i++) {
      for (let j = 0; j < g.w; j++, at++) {
        let s = 0;
        for (let oy = oy0[i]; oy < oy1[i]; oy++) {
          if ((i + g.pt - oy * g.sh) % g.dh !== 0) continue; // i falls between this window's taps
          const row = oy * g.wo;
          for (let ox = ox0[j]; ox < ox1[j]; ox++) {
            if ((j + g.pl - ox * g.sw) % g.dw === 0) s += term(at, outBase + row + ox, row + ox);
          }
        }
        dx[at] = s;
      }
    }
  }
  return dx;
}

/**
 * For every window (row-major over [N, C, Ho, Wo]), the flat index into x of
 * its first maximum in row-major window order. Padded cells (the ceil rows
 * included) are skipped (they are -infinity); every window holds an input
 * cell (the header's proof, and the shape rule's checks).
 * The one place the tie rule lives: a later cell wins only when strictly
 * larger, or when it is the window's first NaN (takesFirstMax, reduce.ts).
 */
export function firstArgmax(x: NDArray, attrs: Pool2dAttrs): Int32Array {
  const g = poolGeometry(x.shape, attrs);
  const { r0, r1, c0, c1 } = windowSpans(g);
  const xd = x.data;
  const arg = new Int32Array(g.planes * g.ho * g.wo);
  const plane = g.h * g.w;
  let o = 0;
  for (let p = 0; p < g.planes; p++) {
    const base = p * plane;
    for (let oy = 0; oy < g.ho; oy++) {
      for (let ox = 0; ox < g.wo; ox++) {
        let best = base + r0[oy] * g.w + c0[ox];
        let bestValue = xd[best];
        for (let i = r0[oy]; i < r1[oy]; i += g.dh) {
          const row = base + i * g.w;
          for (let j = c0[ox]; j < c1[ox]; j += g.dw) {
            const v = xd[row + j];
            if (takesFirstMax(v, bestValue)) {
              bestValue = v;
              best = row + j;
            }
          }
        }
        arg[o++] = best;
      }
    }
  }
  return arg;
}

// ---------------------------------------------------------------------------
// Kernel templates shared by the pooling ops (one output element per thread;
// gathers only, since gpu.js kernels cannot scatter). Without dilation and
// ceil rows they write the source they always wrote.

/** `tap * d` as source: the tap's offset in cells (just `tap` without dilation). */
function dilated(tap: Src, d: number): Src {
  return d === 1 ? tap : k`${tap} * ${d}`;
}

/**
 * Source that leaves in `bestAt` the flat index into x of the first maximum of
 * window (oy, ox) of plane `p`, in row-major window order (its first NaN
 * where it holds one), and in `best` its value; padded cells are skipped.
 * The kernel twin of `firstArgmax`. Its locals have names of their
 * own (wy, wx): gpu.js's wasm compiler mishandles a block-scoped name that
 * shadows an outer one.
 */
export function argmaxSource(g: PoolGeometry, p: Src, oy: Src, ox: Src, ints: boolean): Src {
  return k`let best = -3.0e38;
  let bestAt = 0.0;
  for (let ky = 0; ky < ${g.kh}; ky++) {
    ${intLet(ints, k`wy`, k`${oy} * ${g.sh} - ${g.pt} + ${dilated(k`ky`, g.dh)}`)}
    for (let kx = 0; kx < ${g.kw}; kx++) {
      ${intLet(ints, k`wx`, k`${ox} * ${g.sw} - ${g.pl} + ${dilated(k`kx`, g.dw)}`)}
      if (wy >= 0 && wy < ${g.h} && wx >= 0 && wx < ${g.w}) {
        const v = x0[${p} * ${g.h * g.w} + wy * ${g.w} + wx];
        if (${takesFirstMaxSource(k`v`, k`best`)}) {
          best = v;
          bestAt = ${p} * ${g.h * g.w} + wy * ${g.w} + wx;
        }
      }
    }
  }`;
}

/**
 * Source of a gather over the windows that read input cell (iy, ix): for
 * each such window (oy, ox) it runs `body`. A cell lies in the spans of at
 * most ceil(eh / sh) x ceil(ew / sw) windows; they are counted down from the
 * last window starting at or before the cell, with literal loop bounds. With
 * dilation a window reads the cell only when it sits on a tap,
 * (iy + top - oy*sh) divisible by dh: tapY is that quotient rounded down
 * (the +0.5 keeps a float division from rounding an exact one down), and the
 * test checks it is exact.
 */
export function coveringSource(g: PoolGeometry, iy: Src, ix: Src, body: Src, ints: boolean): Src {
  const ny = Math.ceil(g.eh / g.sh);
  const nx = Math.ceil(g.ew / g.sw);
  const onTap = (c: Src, o: Src, s: number, pad: number, d: number, tap: Src): [Src, Src] =>
    d === 1
      ? [k``, k``]
      : [k`
    const ${tap} = Math.floor((${c} + ${pad} - ${o} * ${s} + 0.5) / ${d});`, k` && Math.abs(${c} + ${pad} - ${o} * ${s} - ${tap} * ${d}) < 0.5`];
  const [tapY, onY] = onTap(iy, k`oy`, g.sh, g.pt, g.dh, k`tapY`);
  const [tapX, onX] = onTap(ix, k`ox`, g.sw, g.pl, g.dw, k`tapX`);
  return k`${intLet(ints, k`lastY`, k`Math.floor((${iy} + ${g.pt} + 0.5) / ${g.sh})`)}
  ${intLet(ints, k`lastX`, k`Math.floor((${ix} + ${g.pl} + 0.5) / ${g.sw})`)}
  for (let a = 0; a < ${ny}; a++) {
    ${intLet(ints, k`oy`, k`lastY - a`)}${tapY}
    if (oy >= 0 && oy < ${g.ho} && oy * ${g.sh} - ${g.pt} + ${g.eh} > ${iy}${onY}) {
      for (let b = 0; b < ${nx}; b++) {
        ${intLet(ints, k`ox`, k`lastX - b`)}${tapX}
        if (ox >= 0 && ox < ${g.wo} && ox * ${g.sw} - ${g.pl} + ${g.ew} > ${ix}${onX}) {
          ${body}
        }
      }
    }
  }`;
}

/** Decode the flat output index `i` of a pooled tensor into plane p and window (oy, ox). */
export function decodeWindow(g: PoolGeometry, ints: boolean, grid: Grid | null): Src {
  return decode(k`i`, [g.planes, g.ho, g.wo], [k`p`, k`oy`, k`ox`], ints, grid);
}

/** Decode the flat index `i` of an input-shaped tensor into plane p and cell (iy, ix). */
export function decodeCell(g: PoolGeometry, ints: boolean, grid: Grid | null): Src {
  return decode(k`i`, [g.planes, g.h, g.w], [k`p`, k`iy`, k`ix`], ints, grid);
}

/**
 * Source of how many taps of a window starting at `start` (source), `size`
 * taps `d` apart, lie in [lo, hi): the first is ceil((lo - start) / d) (at
 * least 0), the last floor((hi - 1 - start) / d) (at most size - 1), each a
 * quotient of integers floored with +0.5 so float division cannot round it
 * the wrong way. `lo` null: no lower clip (a window never starts before the
 * top padding, so counting up to the user's bottom padding needs none).
 */
function tapsWithin(start: Src, size: number, d: number, lo: number | null, hi: number): Src {
  const last = k`Math.min(${size - 1}.0, Math.floor((${hi - 1} - (${start}) + 0.5) / ${d}))`;
  if (lo === null) return k`(${last} + 1.0)`;
  return k`(${last} - Math.max(0.0, -Math.floor((${start} - ${lo} + 0.5) / ${d})) + 1.0)`;
}

/**
 * Source of the divisor of window (oy, ox) of mean pooling (see avgPool2d.ts
 * for the rule): its taps inside the input, or with countIncludePad its taps
 * inside the input or the user's padding, never the ceil rows.
 */
export function windowCountSource(g: PoolGeometry, countIncludePad: boolean, oy: Src, ox: Src): Src {
  const rowStart = k`${oy} * ${g.sh} - ${g.pt}`;
  const colStart = k`${ox} * ${g.sw} - ${g.pl}`;
  if (countIncludePad) {
    // Without ceil rows every tap lies inside the input or the padding.
    if (g.cb === 0 && g.cr === 0) return k`${g.kh * g.kw}.0`;
    return k`(${tapsWithin(rowStart, g.kh, g.dh, null, g.h + g.pb)} * ${tapsWithin(colStart, g.kw, g.dw, null, g.w + g.pr)})`;
  }
  if (g.dh === 1 && g.dw === 1) {
    return k`((Math.min(${oy} * ${g.sh} - ${g.pt} + ${g.kh}, ${g.h}) - Math.max(${oy} * ${g.sh} - ${g.pt}, 0)) * (Math.min(${ox} * ${g.sw} - ${g.pl} + ${g.kw}, ${g.w}) - Math.max(${ox} * ${g.sw} - ${g.pl}, 0)))`;
  }
  return k`(${tapsWithin(rowStart, g.kh, g.dh, 0, g.h)} * ${tapsWithin(colStart, g.kw, g.dw, 0, g.w)})`;
}

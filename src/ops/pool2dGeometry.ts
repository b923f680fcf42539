/**
 * The geometry of the pooling family (maxPool2d, maxPool2dBackward,
 * maxPool2dSelect, avgPool2d, avgPool2dBackward), and the kernel templates
 * they share: validated window, stride and padding, the windows that cover
 * a cell, and the tie rule of max pooling.
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
 * Ties: the FIRST maximum of each window in row-major window order is the one
 * P picks (as PyTorch does); `firstArgmax` and its kernel twin `argmaxSource`
 * are the one place the rule lives. NaN (reduce.ts): a NaN is larger than
 * every number and the first NaN wins, so a window holding a NaN pools to
 * NaN and routes its gradient to its first NaN.
 */
import { type Shape, Tensor } from '../graph/tensor.js';
import type { Pads2d, Pool2dAttrs } from './attrs.js';
import { checkTensor, opError, type NDArray, requiredOptions } from './op.js';
import { checkPads, checkPair, checkRank4, type Padding, resolvePads, toPair, windowOutput2d } from './window.js';
import { decode, type Grid, intLet, k, type Src } from '../kernel/source.js';
import { takesFirstMax, takesFirstMaxSource } from './reduce.js';

/** Options of `maxPool2d` and `avgPool2d`. */
export interface Pool2dOptions {
  /** Window height and width (one number for a square window). */
  size: number | readonly [number, number];
  /** Step between windows, rows and columns; defaults to `size` (non-overlapping windows). */
  stride?: number | readonly [number, number];
  /**
   * 'valid' (the default): no padding; 'same': pad so that out = ceil(in / stride),
   * the extra row/column at the end (TensorFlow's rule); a number or [ph, pw]:
   * that many rows (columns) on each side; [top, bottom, left, right]: exactly
   * these. Every padding must be smaller than the window on its axis.
   */
  padding?: Padding;
}

/**
 * Turn user options into validated attributes (integers only; see attrs.ts).
 * `keys` are the options the op takes (mean pooling adds countIncludePad).
 */
export function pool2dAttrs(op: string, x: Tensor, options: Pool2dOptions, keys: readonly string[] = ['size', 'stride', 'padding']): Pool2dAttrs {
  checkTensor(op, 'the input', x);
  checkRank4(op, 'input', x.shape);
  requiredOptions(op, options, keys, '{ size: 2 }');
  const size = toPair(op, 'size', options.size, 1);
  const stride = options.stride === undefined ? size : toPair(op, 'stride', options.stride, 1);
  const pads = resolvePads(op, options.padding ?? 'valid', [x.shape[2], x.shape[3]], size, stride);
  return { size, stride, pads };
}

/**
 * The shape rule of pooling: `[N, C, Ho, Wo]` from `x` `[N, C, H, W]`. Checks
 * the attributes again (they reach kernel source), that each padding is
 * smaller than the window, and that the window fits the padded input.
 */
export function pool2dShape(op: string, x: Shape, attrs: Pool2dAttrs): Shape {
  checkRank4(op, 'input', x);
  const [kh, kw] = checkPair(op, 'size', attrs.size, 1);
  const [sh, sw] = checkPair(op, 'stride', attrs.stride, 1);
  const pads = checkPads(op, attrs.pads);
  checkPadsBelowWindow(op, pads, [kh, kw]);
  const [ho, wo] = windowOutput2d(op, `the ${kh}x${kw} pooling window`, [x[2], x[3]], pads, [kh, kw], [sh, sw]);
  return [x[0], x[1], ho, wo];
}

/**
 * A window lying wholly in the padding would have no input cell: no maximum,
 * no mean. padding < size rules it out: along rows, the first window starts at
 * -top > -kh, so it reaches row 0; the last starts at -top + (Ho-1)*sh
 * <= H + bottom - kh <= H - 1, so it reaches row H - 1 at the latest; every
 * window in between starts at or after -top and at or before H - 1. Likewise for columns.
 */
function checkPadsBelowWindow(op: string, pads: Pads2d, [kh, kw]: readonly [number, number]): void {
  const [top, bottom, left, right] = pads;
  if (top >= kh || bottom >= kh || left >= kw || right >= kw) {
    opError(
      op,
      `padding [top ${top}, bottom ${bottom}, left ${left}, right ${right}] must be smaller than the ${kh}x${kw} window ` +
        `on each side (at most ${kh - 1} rows and ${kw - 1} columns), or a window could lie wholly in the padding`,
      `pads [${pads.join(',')}] for a ${kh}x${kw} window`,
      `at most ${kh - 1} rows and ${kw - 1} columns of padding on each side`,
    );
  }
}

/** Sizes and steps of one pooling, from the input shape and the attributes. */
export interface PoolGeometry {
  /** N * C: the number of independent planes. */
  readonly planes: number;
  readonly h: number;
  readonly w: number;
  readonly ho: number;
  readonly wo: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  /** Padding at the top and the left: window (oy, ox) starts at input cell (oy*sh - padTop, ox*sw - padLeft). */
  readonly pt: number;
  readonly pl: number;
}

export function poolGeometry(xShape: Shape, { size, stride, pads }: Pool2dAttrs): PoolGeometry {
  const [n, c, h, w] = xShape;
  const [kh, kw] = size;
  const [sh, sw] = stride;
  const [pt, pb, pl, pr] = pads;
  return {
    planes: n * c,
    h,
    w,
    ho: Math.floor((h + pt + pb - kh) / sh) + 1,
    wo: Math.floor((w + pl + pr - kw) / sw) + 1,
    kh,
    kw,
    sh,
    sw,
    pt,
    pl,
  };
}

/**
 * For every output row (column), the first and one-past-last input row
 * (column) its window covers inside the input: the window clipped to [0, size).
 * Written once per pooling so the inner loops allocate nothing.
 */
export function windowSpans(g: PoolGeometry): { r0: Int32Array; r1: Int32Array; c0: Int32Array; c1: Int32Array } {
  const span = (outSize: number, inSize: number, size: number, s: number, pad: number) => {
    const lo = new Int32Array(outSize);
    const hi = new Int32Array(outSize);
    for (let o = 0; o < outSize; o++) {
      const start = o * s - pad;
      lo[o] = Math.max(start, 0);
      hi[o] = Math.min(start + size, inSize);
    }
    return [lo, hi] as const;
  };
  const [r0, r1] = span(g.ho, g.h, g.kh, g.sh, g.pt);
  const [c0, c1] = span(g.wo, g.w, g.kw, g.sw, g.pl);
  return { r0, r1, c0, c1 };
}

/**
 * The reverse map, for gathers: input row i lies in the windows of output rows
 * oy in [lo[i], hi[i]) (possibly several when windows overlap, possibly none
 * when the stride skips it); likewise for columns.
 */
export function coveringWindows(g: PoolGeometry): { oy0: Int32Array; oy1: Int32Array; ox0: Int32Array; ox1: Int32Array } {
  const cover = (inSize: number, outSize: number, size: number, s: number, pad: number) => {
    const lo = new Int32Array(inSize);
    const hi = new Int32Array(inSize);
    for (let i = 0; i < inSize; i++) {
      // window o covers i when o*s - pad <= i <= o*s - pad + size - 1
      const first = i + pad - size + 1;
      lo[i] = first <= 0 ? 0 : Math.ceil(first / s);
      hi[i] = Math.min(Math.floor((i + pad) / s) + 1, outSize);
    }
    return [lo, hi] as const;
  };
  const [oy0, oy1] = cover(g.h, g.ho, g.kh, g.sh, g.pt);
  const [ox0, ox1] = cover(g.w, g.wo, g.kw, g.sw, g.pl);
  return { oy0, oy1, ox0, ox1 };
}

/**
 * A pooling gradient as a reference gathers it (as a device kernel would):
 * each input cell `at` (a flat index into x) sums term(at, w, cell) over the windows that
 * cover it, w the window's flat index in the pooled tensor and cell its
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
          const row = oy * g.wo;
          for (let ox = ox0[j]; ox < ox1[j]; ox++) s += term(at, outBase + row + ox, row + ox);
        }
        dx[at] = s;
      }
    }
  }
  return dx;
}

/**
 * For every window (row-major over [N, C, Ho, Wo]), the flat index into x of
 * its first maximum in row-major window order. Padded cells are skipped (they
 * are -infinity); every window holds an input cell because padding < size.
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
        for (let i = r0[oy]; i < r1[oy]; i++) {
          const row = base + i * g.w;
          for (let j = c0[ox]; j < c1[ox]; j++) {
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
// gathers only, since gpu.js kernels cannot scatter).

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
    ${intLet(ints, k`wy`, k`${oy} * ${g.sh} - ${g.pt} + ky`)}
    for (let kx = 0; kx < ${g.kw}; kx++) {
      ${intLet(ints, k`wx`, k`${ox} * ${g.sw} - ${g.pl} + kx`)}
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
 * Source of a gather over the windows that cover input cell (iy, ix): for
 * each covering window (oy, ox) it runs `body`. A cell lies in at most
 * ceil(kh / sh) x ceil(kw / sw) windows; they are counted down from the last
 * window starting at or before the cell, with literal loop bounds.
 */
export function coveringSource(g: PoolGeometry, iy: Src, ix: Src, body: Src, ints: boolean): Src {
  const ny = Math.ceil(g.kh / g.sh);
  const nx = Math.ceil(g.kw / g.sw);
  return k`${intLet(ints, k`lastY`, k`Math.floor((${iy} + ${g.pt} + 0.5) / ${g.sh})`)}
  ${intLet(ints, k`lastX`, k`Math.floor((${ix} + ${g.pl} + 0.5) / ${g.sw})`)}
  for (let a = 0; a < ${ny}; a++) {
    ${intLet(ints, k`oy`, k`lastY - a`)}
    if (oy >= 0 && oy < ${g.ho} && oy * ${g.sh} - ${g.pt} + ${g.kh} > ${iy}) {
      for (let b = 0; b < ${nx}; b++) {
        ${intLet(ints, k`ox`, k`lastX - b`)}
        if (ox >= 0 && ox < ${g.wo} && ox * ${g.sw} - ${g.pl} + ${g.kw} > ${ix}) {
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

/** Source of the divisor of window (oy, ox) of mean pooling (see avgPool2d.ts for the rule). */
export function windowCountSource(g: PoolGeometry, countIncludePad: boolean, oy: Src, ox: Src): Src {
  if (countIncludePad) return k`${g.kh * g.kw}.0`;
  return k`((Math.min(${oy} * ${g.sh} - ${g.pt} + ${g.kh}, ${g.h}) - Math.max(${oy} * ${g.sh} - ${g.pt}, 0)) * (Math.min(${ox} * ${g.sw} - ${g.pl} + ${g.kw}, ${g.w}) - Math.max(${ox} * ${g.sw} - ${g.pl}, 0)))`;
}

/**
 * The wasm backends' forms of the max-pooling kernels, where every window
 * lies inside the input (no padding, as in LeNet-5 and most conv nets): a
 * window's cells are literal offsets from its first cell, with no bounds
 * tests, and with tiling windows (stride = size) each input cell finds its
 * one window by dividing. The tie rule is the portable templates' (the first
 * cell, then strictly greater ones, a NaN counting as greater than every
 * number and the first NaN winning; src/ops/pool2dGeometry.ts, reduce.ts).
 * Dilated windows are spelled the same way, their taps d cells apart; the
 * division to the one window applies only to undilated tiles. Ceil rounding
 * makes the last windows reach past the input (their extra rows are in
 * ceilPads, counted in ho and wo), so windowsInside declines it and the
 * portable templates, which test every tap, run. The gradient of windows
 * that do not tile the input, padded and ceil-rounded ones included, finds
 * every window's winner once before it gathers (winnersFirst).
 * Each entry returns null where its form does not apply.
 */
import type { KernelContext, KernelStages } from '../../../../ops/op.js';
import { argmaxSource, coveringSource, decodeCell, decodeWindow, type PoolGeometry, poolGeometry } from '../../../../ops/pool2dGeometry.js';
import { divFloor, type Grid, gridOf, guarded, intLet, join, k, type Src } from '../../../../kernel/source.js';

/**
 * No padding at the top and the left, and the last window's span (dilation
 * applied) ends inside the input, so every window's taps do. Ceil rows
 * (g.cb, g.cr > 0) make the last window end past the padded input, hence past
 * the input: declined.
 */
export function windowsInside(g: PoolGeometry): boolean {
  return g.pt === 0 && g.pl === 0 && (g.ho - 1) * g.sh + g.eh <= g.h && (g.wo - 1) * g.sw + g.ew <= g.w;
}

/**
 * argmaxSource (pool2dGeometry.ts) for windows inside the input: leaves in
 * `best` the first maximum of window (oy, ox) of plane `p` and in `bestAt`
 * its flat index, each cell read at a literal offset from the window's first
 * (tap (ty, tx) at ty*dh rows and tx*dw columns from it).
 */
function argmaxInside(g: PoolGeometry, p: Src, oy: Src, ox: Src): Src {
  const taps: Src[] = [];
  for (let ty = 0; ty < g.kh; ty++) {
    for (let tx = 0; tx < g.kw; tx++) {
      if (ty === 0 && tx === 0) continue;
      const off = ty * g.dh * g.w + tx * g.dw;
      // wasm compares exactly (IEEE, no fast-math), so the rule costs one
      // compare more than `v > best`: !(v <= best) is v > best or v NaN,
      // and best == best keeps a NaN once it has won.
      taps.push(k`v = x0[wBase + ${off}];
  if (!(v <= best) && best == best) {
    best = v;
    bestAt = wBase + ${off};
  }`);
    }
  }
  return k`${intLet(true, k`wBase`, k`${p} * ${g.h * g.w} + ${oy} * ${g.sh * g.w} + ${ox} * ${g.sw}`)}
  let best = x0[wBase];
  let bestAt = wBase + 0.0;
  let v = 0.0;
  ${join(taps, '\n  ')}`;
}

export function maxPool2dWasm({ inputs: [x], attrs, grid }: KernelContext<'maxPool2d'>): Src | null {
  const g = poolGeometry(x, attrs);
  if (!windowsInside(g)) return null;
  return k`${decodeWindow(g, true, grid)}
  ${argmaxInside(g, k`p`, k`oy`, k`ox`)}
  return best;`;
}

export function maxPool2dSelectWasm({ inputs: [x], attrs, grid }: KernelContext<'maxPool2dSelect'>): Src | null {
  const g = poolGeometry(x, attrs);
  if (!windowsInside(g)) return null;
  return k`${decodeWindow(g, true, grid)}
  ${argmaxInside(g, k`p`, k`oy`, k`ox`)}
  return x1[bestAt];`;
}

/**
 * maxPool2dBackward: with tiling windows (undilated) each cell lies in at
 * most one window, found by dividing; with overlapping or dilated ones inside
 * the input, the portable gather over the covering windows with argmaxInside.
 */
export function maxPool2dBackwardWasm({ inputs: [x], attrs, grid }: KernelContext<'maxPool2dBackward'>): Src | KernelStages | null {
  const g = poolGeometry(x, attrs);
  const inside = windowsInside(g);
  if (inside && g.dh === 1 && g.dw === 1 && g.sh === g.kh && g.sw === g.kw) return tiledBackward(g, grid);
  if (g.planes * g.h * g.w <= EXACT_INDEX) return winnersFirst(g, grid, inside);
  if (!inside) return null;
  return k`${decodeCell(g, true, grid)}
  let s = 0.0;
  ${coveringSource(g, k`iy`, k`ix`, k`${argmaxInside(g, k`p`, k`oy`, k`ox`)}
          if (Math.abs(bestAt - i) < 0.5) {
            s += x1[p * ${g.ho * g.wo} + oy * ${g.wo} + ox];
          }`, true)}
  return s;`;
}

/** Flat indices up to 2^24 are exact in a float32, the type a stage's output is stored in. */
const EXACT_INDEX = 2 ** 24;

/**
 * Windows that do not tile the input (overlapping, dilated, padded or
 * ceil-rounded), in two stages: stage 1 finds each window's first maximum
 * once (its flat index in x, left in bestAt by argmaxInside where every
 * window lies inside the input, else by the portable argmaxSource, which
 * skips padded taps); stage 2 gives each input cell the sum of dy over the
 * covering windows whose winner it is. The one-stage gather recomputes every
 * covering window's argmax from x for each of its cells (with AlexNet's 3×3
 * windows every 2 cells, four windows of nine taps for most cells); here
 * each cell reads one index and one dy per covering window.
 */
function winnersFirst(g: PoolGeometry, grid: Grid | null, inside: boolean): KernelStages {
  const windows = g.planes * g.ho * g.wo;
  const windowGrid = gridOf([g.planes, g.ho, g.wo]);
  const at = k`p * ${g.ho * g.wo} + oy * ${g.wo} + ox`;
  return {
    stages: [
      {
        size: windows,
        grid: windowGrid,
        body: k`${decodeWindow(g, true, windowGrid)}
  ${inside ? argmaxInside(g, k`p`, k`oy`, k`ox`) : argmaxSource(g, k`p`, k`oy`, k`ox`, true)}
  return bestAt;`,
      },
      {
        size: g.planes * g.h * g.w,
        body: k`${decodeCell(g, true, grid)}
  let s = 0.0;
  ${coveringSource(g, k`iy`, k`ix`, k`if (Math.abs(x2[${at}] - i) < 0.5) {
            s += x1[${at}];
          }`, true)}
  return s;`,
      },
    ],
  };
}

/**
 * Windows that tile the input (stride = size, every window inside it;
 * leftover rows and columns, which no window covers, get 0): each cell wins
 * when it is its one window's first maximum.
 */
function tiledBackward(g: PoolGeometry, grid: Grid | null): Src {
  const covered = g.ho * g.kh < g.h || g.wo * g.kw < g.w ? k`oy < ${g.ho} && ox < ${g.wo}` : null;
  return k`${decodeCell(g, true, grid)}
  ${intLet(true, k`oy`, divFloor(k`iy`, g.kh, g.h))}
  ${intLet(true, k`ox`, divFloor(k`ix`, g.kw, g.w))}
  let s = 0.0;
  ${guarded(
    covered,
    k`${argmaxInside(g, k`p`, k`oy`, k`ox`)}
    if (Math.abs(bestAt - i) < 0.5) {
      s = x1[p * ${g.ho * g.wo} + oy * ${g.wo} + ox];
    }`,
  )}
  return s;`;
}

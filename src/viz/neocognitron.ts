/**
 * Pictures of a Neocognitron as Vega-Lite specs (render them with
 * `writeChart` from 'striate/node'):
 *
 * - `neocognitronPlanesSpec`: the learned feature of every S-plane of every
 *   stage, one row of tiles per stage, each drawn in the image's pixels.
 *   Stage 1's tile is the plane's preferred input a(ν)/c(ν) (the learning
 *   rule makes a = q·c·u, so a/c is the mean of the windows it learned from).
 *   A higher plane prefers a/c over the C-planes below; each C-cell's value
 *   is spread evenly over its pooling window of S-cells, and each S-cell
 *   there contributes its own plane's picture at its offset, so a tile is
 *   the linear back-projection of the plane's weights through every stage
 *   below, as wide as its receptive field. Each tile is scaled to its own
 *   largest value (ink = strong).
 * - `neocognitronWinnersSpec`: for one input, the image and, per stage, the
 *   S-layer coloured by the plane of the strongest cell of each column
 *   (white where every cell is silent), with the cells that won the
 *   competition (`selectWinners`) outlined.
 */
import { describeValue, fail } from '../graph/error.js';
import { inhibitoryWeights, neocognitronShapes, type NeocognitronState } from '../nn/neocognitron.js';
import { checkOptions } from '../nn/spec.js';
import { type ChartSpec, VEGA_LITE_SCHEMA, chartConfig, checkInteger, checkTitle, hexByte, LABEL_HEIGHT, pixelAxis, pixelRect } from './spec.js';

const TILE_GAP = 6;
const ROW_GAP = 10;

/**
 * Each plane's back-projected feature for every stage (file comment):
 * per stage, `planes` pictures of side `side`, row-major [planes, side, side].
 */
export function planePictures(state: NeocognitronState): {
  /** Side of each plane's square picture, in input pixels. */
  side: number;
  /** The pictures, plane after plane, each side × side, row-major. */
  data: Float64Array;
  /** How many planes the stage has. */
  planes: number;
}[] {
  const { model } = state;
  const out: { side: number; data: Float64Array; planes: number }[] = [];
  state.stages.forEach((st, l) => {
    const stage = model.stages[l];
    const w = stage.window;
    const [K, kIn] = [st.planes, st.a.shape[1]];
    const c = inhibitoryWeights(kIn, w);
    if (l === 0) {
      // The image's channels are summed into one grey picture.
      const data = new Float64Array(K * w * w);
      for (let k = 0; k < K; k++) {
        for (let i = 0; i < kIn; i++) for (let p = 0; p < w * w; p++) data[k * w * w + p] += st.a.data[(k * kIn + i) * w * w + p] / c[i * w * w + p];
      }
      out.push({ side: w, data, planes: K });
      return;
    }
    const prev = out[l - 1];
    const below = model.stages[l - 1];
    const span = (w - 1) * below.poolStride + below.poolSize;
    const side = span + prev.side - 1;
    const data = new Float64Array(K * side * side);
    const spread = 1 / (below.poolSize * below.poolSize);
    for (let k = 0; k < K; k++) {
      const pic = data.subarray(k * side * side, (k + 1) * side * side);
      for (let i = 0; i < kIn; i++) {
        const sub = prev.data.subarray(i * prev.side * prev.side, (i + 1) * prev.side * prev.side);
        for (let dy = 0; dy < w; dy++) {
          for (let dx = 0; dx < w; dx++) {
            const at = (i * w + dy) * w + dx;
            const v = (st.a.data[k * kIn * w * w + at] / c[at]) * spread;
            if (v === 0) continue;
            for (let py = 0; py < below.poolSize; py++) {
              for (let px = 0; px < below.poolSize; px++) {
                const oy = dy * below.poolStride + py;
                const ox = dx * below.poolStride + px;
                for (let y = 0; y < prev.side; y++) for (let x = 0; x < prev.side; x++) pic[(oy + y) * side + ox + x] += v * sub[y * prev.side + x];
              }
            }
          }
        }
      }
    }
    out.push({ side, data, planes: K });
  });
  return out;
}

/** Layout of `neocognitronPlanesSpec`. */
export interface NeocognitronPlanesOptions {
  /** Width of a stage's row before it wraps, in pixels (default 900). */
  width?: number;
  /** Chart title (default "Neocognitron: the learned S-planes"). */
  title?: string;
}

function checkState(who: string, state: unknown): asserts state is NeocognitronState {
  const s = state as Partial<NeocognitronState> | null;
  if (!s || typeof s !== 'object' || !s.model || !Array.isArray(s.stages) || s.stages.length === 0) {
    fail(who, `state must be a NeocognitronState with at least one trained stage (a 'stage' or 'done' event's), got ${describeValue(state)}`, describeValue(state), 'a trained NeocognitronState');
  }
}

const labelLayer = (labels: { x: number; y: number; text: string }[], width: number, height: number, align = 'left'): Record<string, unknown> => {
  return {
    data: { values: labels },
    mark: { type: 'text', baseline: 'alphabetic', align, fontSize: 11, color: '#333' },
    encoding: { x: pixelAxis('x', width), y: pixelAxis('y', height), text: { field: 'text' } },
  };
};

/**
 * The learned feature of every S-plane of every stage (file comment): one
 * row per stage, each tile a plane's back-projected preferred input.
 *
 * ```ts
 * await writeChart('out/neocognitron-planes.png', neocognitronPlanesSpec(done.state));
 * ```
 */
export function neocognitronPlanesSpec(state: NeocognitronState, options: NeocognitronPlanesOptions = {}): ChartSpec {
  const who = 'neocognitronPlanesSpec';
  checkState(who, state);
  checkOptions(who, options, ['width', 'title']);
  checkTitle(who, options.title);
  const maxWidth = options.width ?? 900;
  checkInteger(who, 'width', maxWidth, 100);
  const pictures = planePictures(state);
  // Stage 1's tiles about 40 pixels, the others at least 2 pixels a pixel.
  const cellOf = pictures.map((p, l) => Math.max(l === 0 ? 8 : 2, Math.round(48 / p.side)));
  const cells: { x0: number; x1: number; y0: number; y1: number; ink: string; stage: number; plane: number }[] = [];
  const labels: { x: number; y: number; text: string }[] = [];
  let y = 0;
  let width = 0;
  pictures.forEach((p, l) => {
    const cell = cellOf[l];
    const tile = p.side * cell;
    const perRow = Math.max(1, Math.floor((maxWidth + TILE_GAP) / (tile + TILE_GAP)));
    const st = state.model.stages[l];
    labels.push({ x: 0, y: y + LABEL_HEIGHT - 4, text: `stage ${l + 1}: ${p.planes} S-planes, ${st.window}×${st.window} window over ${l === 0 ? 'the image' : `C${l}`}, r ${st.r} (receptive field ${p.side}×${p.side} pixels)` });
    y += LABEL_HEIGHT;
    for (let k = 0; k < p.planes; k++) {
      const tx = (k % perRow) * (tile + TILE_GAP);
      const ty = y + Math.floor(k / perRow) * (tile + TILE_GAP);
      width = Math.max(width, tx + tile);
      const pic = p.data.subarray(k * p.side * p.side, (k + 1) * p.side * p.side);
      let m = 0;
      for (const v of pic) m = Math.max(m, v);
      for (let py = 0; py < p.side; py++) {
        for (let px = 0; px < p.side; px++) {
          const v = m > 0 ? Math.max(0, pic[py * p.side + px]) / m : 0;
          const g = hexByte(1 - v);
          cells.push({ x0: tx + px * cell, x1: tx + (px + 1) * cell, y0: ty + py * cell, y1: ty + (py + 1) * cell, ink: `#${g}${g}${g}`, stage: l + 1, plane: k });
        }
      }
    }
    y += Math.ceil(p.planes / perRow) * (tile + TILE_GAP) - TILE_GAP + ROW_GAP;
  });
  const height = y - ROW_GAP;
  width = Math.max(width, 400);
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: {
      text: options.title ?? 'Neocognitron: the learned S-planes',
      subtitle: ["each plane's preferred input a/c, projected to pixels through the stages below; each tile scaled to its own maximum"],
    },
    config: chartConfig(),
    width,
    height,
    layer: [
      {
        data: { values: cells },
        mark: { type: 'rect' },
        encoding: { ...pixelRect(width, height), fill: { field: 'ink', type: 'nominal', scale: null, legend: null }, tooltip: [{ field: 'stage' }, { field: 'plane' }] },
      },
      labelLayer(labels, width, height),
    ],
  };
}

/** One input's S-layers, as `neocognitronResponses` gives them: per stage u_S [K, H, W] row-major. */
export interface NeocognitronResponses {
  /** The image, [C, H, W] row-major. */
  readonly image: ArrayLike<number>;
  /** Per stage: u_S and its shape [K, H, W], and the winners of its competition. */
  readonly stages: readonly {
    /** u_S, row-major [K, H, W]. */
    readonly s: ArrayLike<number>;
    /** [K, H, W]. */
    readonly shape: readonly [number, number, number];
    /** The cells that won (each plane's representative), as `selectWinners` gives them. */
    readonly winners: readonly {
      /** The winning cell's plane. */
      readonly plane: number;
      /** Its row. */
      readonly y: number;
      /** Its column. */
      readonly x: number;
    }[];
  }[];
}

/** Options of `neocognitronWinnersSpec`. */
export interface NeocognitronWinnersOptions {
  /** Chart title (default "Neocognitron: which S-cells win where"). */
  title?: string;
  /** The input's label, shown under the image. */
  label?: string;
}

/** A distinct colour for plane k of K: hues around the wheel, alternately light and dark. */
function planeColour(k: number, count: number): string {
  const h = (k / Math.max(1, count)) * 360;
  const l = k % 2 === 0 ? 0.45 : 0.65;
  const s = 0.75;
  const f = (n: number): string => {
    const kk = (n + h / 30) % 12;
    const a = s * Math.min(l, 1 - l);
    return hexByte(l - a * Math.max(-1, Math.min(kk - 3, 9 - kk, 1)));
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}

/**
 * For one input: the image, then per stage its S-layer coloured by the plane
 * whose cell is strongest in each column (white where all are silent), the
 * winners of the competition outlined in black.
 *
 * ```ts
 * const r = await neocognitronResponses(done.state, mnist.test.images.subarray(0, 784));
 * await writeChart('out/neocognitron-winners.png', neocognitronWinnersSpec(done.state, r));
 * ```
 */
export function neocognitronWinnersSpec(state: NeocognitronState, responses: NeocognitronResponses, options: NeocognitronWinnersOptions = {}): ChartSpec {
  const who = 'neocognitronWinnersSpec';
  checkState(who, state);
  checkOptions(who, options, ['title', 'label']);
  checkTitle(who, options.title);
  if (!responses || !Array.isArray(responses.stages) || responses.stages.length !== state.stages.length) {
    fail(who, `responses must hold one entry per trained stage (${state.stages.length}), from neocognitronResponses`, describeValue(responses), `${state.stages.length} stages`);
  }
  const [ch, ih, iw] = state.model.inputShape;
  const shapes = neocognitronShapes(state.model, state.stages.map((s) => s.planes));
  const side = 168;
  const cells: { x0: number; x1: number; y0: number; y1: number; fill: string; what: string; plane: number | null; value: number }[] = [];
  const frames: { x0: number; x1: number; y0: number; y1: number }[] = [];
  const labels: { x: number; y: number; text: string }[] = [];
  const top = LABEL_HEIGHT;
  // The image, channels averaged.
  const cell0 = side / Math.max(ih, iw);
  let mImg = 0;
  for (let i = 0; i < responses.image.length; i++) mImg = Math.max(mImg, responses.image[i]);
  for (let y = 0; y < ih; y++) {
    for (let x = 0; x < iw; x++) {
      let v = 0;
      for (let c = 0; c < ch; c++) v += responses.image[(c * ih + y) * iw + x] / ch;
      const g = hexByte(1 - (mImg > 0 ? v / mImg : 0));
      cells.push({ x0: x * cell0, x1: (x + 1) * cell0, y0: top + y * cell0, y1: top + (y + 1) * cell0, fill: `#${g}${g}${g}`, what: 'input', plane: null, value: v });
    }
  }
  labels.push({ x: 0, y: top - 4, text: options.label === undefined ? 'input' : `input (${options.label})` });
  let x0 = side + 24;
  responses.stages.forEach((r, l) => {
    const [K, H, W] = r.shape;
    const want = shapes[l].s;
    if (K !== want[0] || H !== want[1] || W !== want[2] || r.s.length !== K * H * W) {
      fail(who, `responses.stages[${l}] must be u_S of shape [${want.join(', ')}], got [${r.shape.join(', ')}] with ${r.s.length} values`, `[${r.shape.join(', ')}]`, `[${want.join(', ')}]`);
    }
    const cell = side / Math.max(H, W);
    let fired = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let best = -1;
        let bv = 0;
        for (let k = 0; k < K; k++) {
          const v = r.s[(k * H + y) * W + x];
          if (v > bv) {
            bv = v;
            best = k;
          }
        }
        if (best >= 0) fired++;
        cells.push({
          x0: x0 + x * cell,
          x1: x0 + (x + 1) * cell,
          y0: top + y * cell,
          y1: top + (y + 1) * cell,
          fill: best < 0 ? '#ffffff' : planeColour(best, K),
          what: `S${l + 1}`,
          plane: best < 0 ? null : best,
          value: bv,
        });
      }
    }
    for (const w of r.winners) frames.push({ x0: x0 + w.x * cell, x1: x0 + (w.x + 1) * cell, y0: top + w.y * cell, y1: top + (w.y + 1) * cell });
    labels.push({ x: x0, y: top - 4, text: `S${l + 1}: ${K} planes, ${fired} of ${H * W} columns fire, ${r.winners.length} winners` });
    x0 += side + 24;
  });
  const width = x0 - 24;
  const height = top + side;
  const pos = pixelRect(width, height);
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: {
      text: options.title ?? 'Neocognitron: which S-cells win where',
      subtitle: ['colour: the plane of the strongest S-cell in each column (white: all silent); outlined: the cells that won the competition and learn'],
    },
    config: chartConfig(),
    width,
    height,
    layer: [
      {
        data: { values: cells },
        mark: { type: 'rect' },
        encoding: { ...pos, fill: { field: 'fill', type: 'nominal', scale: null, legend: null }, tooltip: [{ field: 'what' }, { field: 'plane' }, { field: 'value', format: '.3g' }] },
      },
      { data: { values: frames }, mark: { type: 'rect', fill: null, stroke: '#000', strokeWidth: 2 }, encoding: pos },
      labelLayer(labels, width, height),
    ],
  };
}

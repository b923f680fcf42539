/**
 * Convolution filters as a Vega-Lite spec: one block per filter, one tile
 * per input channel, every weight a square on one diverging colour scale
 * (red negative, white zero, blue positive) that is symmetric about zero and
 * shared by all filters, so signs and relative sizes can be compared across
 * the whole layer; a colour bar gives the scale. Filters with three input
 * channels also get a tile that shows them as one RGB colour.
 *
 * The layout is computed here in pixels and drawn with rect marks on
 * identity scales, so the picture does not depend on facet sizing rules.
 *
 * For a model, `convLayerFilters` finds the filters of every convolution
 * layer by name, and `layerFilterGridSpec` draws one of them:
 *
 * ```ts
 * for (const f of convLayerFilters(model, params)) await writeChart(`filters-${f.layer}.png`, layerFilterGridSpec(model, params, f.layer));
 * ```
 */
import { describeValue, fail } from '../graph/error.js';
import type { Tensor } from '../graph/tensor.js';
import { buildModel, checkModel, type Model } from '../nn/model.js';
import type { Params, TensorValue } from '../nn/params.js';
import { checkParams } from '../nn/predict.js';
import { checkOptions, showValue } from '../nn/spec.js';
import { type ChartSpec, VEGA_LITE_SCHEMA, chartConfig, checkInteger, checkTitle, hexByte, LABEL_HEIGHT, NON_FINITE, pixelAxis, pixelRect } from './spec.js';

/** Weights of a convolution, shaped [outChannels, inChannels, kH, kW] (a parameter value from `train`). */
export interface FilterWeights {
  /** The weights, row-major in `shape`'s order. */
  readonly data: ArrayLike<number>;
  /** [outChannels, inChannels, kH, kW]. */
  readonly shape: readonly number[];
}

/** Layout and title of the grid `filterGridSpec` makes. */
export interface FilterGridOptions {
  /** Side of one weight's square in pixels (default: a tile about 60 pixels wide, at least 4 per weight). */
  cellSize?: number;
  /** Filters per row (default: as many as fit in about 900 pixels). */
  columns?: number;
  /** Chart title (default "Filters"). */
  title?: string;
  /**
   * Draw an RGB tile per filter from its three input channels (default: when
   * there are exactly three). `layerFilterGridSpec` asks for it only for a
   * convolution that reads a 3-channel input image.
   */
  rgb?: boolean;
}

const TILE_GAP = 4;
const BLOCK_GAP = 14;

interface Cell {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  /** The weight, or null where it is not finite. */
  w: number | null;
  filter: number;
  channel: string;
}

/**
 * The spec of a grid of convolution filters, e.g. `filterGridSpec(params['conv1.w'])`.
 *
 * Every input channel is drawn, each on the shared diverging scale
 * [−m, m] with m the largest |weight| of the layer. With three input
 * channels a first tile per filter shows them as RGB: each channel at
 * 0.5 + w / (2m), so zero is mid-grey and the same m applies throughout.
 */
export function filterGridSpec(weights: FilterWeights, options: FilterGridOptions = {}): ChartSpec {
  const who = 'filterGridSpec';
  if (weights === null || typeof weights !== 'object') {
    fail(who, `weights must be a { data, shape } value (e.g. params['conv1.w']), got ${describeValue(weights)}`, describeValue(weights), 'a { data, shape } value');
  }
  checkOptions(who, options, ['cellSize', 'columns', 'title', 'rgb']);
  checkTitle(who, options.title);
  if (options.rgb !== undefined && typeof options.rgb !== 'boolean') fail(who, `rgb must be true or false, got ${showValue(options.rgb)}`, `rgb ${showValue(options.rgb)}`, 'true or false');
  const { data, shape } = weights;
  const layout = '[outChannels, inChannels, kH, kW]';
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    const got = Array.isArray(shape) ? `[${shape.join(', ')}]` : describeValue(shape);
    fail(who, `weights must be shaped ${layout} with positive integers, got ${got}`, `shape ${got}`, `a shape ${layout} of positive integers`);
  }
  if (!Array.isArray(data) && !(ArrayBuffer.isView(data) && !(data instanceof DataView))) {
    fail(who, `weights' data must be an array or typed array of numbers, got ${describeValue(data)}`, `data ${describeValue(data)}`, 'an array or typed array of numbers');
  }
  const [O, I, kH, kW] = shape;
  if (data.length !== O * I * kH * kW) {
    fail(who, `shape [${shape.join(', ')}] needs ${O * I * kH * kW} weights but got ${data.length}`, `${data.length} weights`, `${O * I * kH * kW} weights`);
  }
  const cell = options.cellSize ?? Math.max(4, Math.round(60 / Math.max(kH, kW)));
  checkInteger(who, 'cellSize', cell, 1);
  if (options.rgb === true && I !== 3) {
    fail(who, `rgb needs filters with 3 input channels, these have ${I} (shape [${shape.join(', ')}])`, `${I} input channels`, '3 input channels');
  }
  const rgb = options.rgb ?? I === 3;
  const slots = (rgb ? 1 : 0) + I;
  const tileW = kW * cell;
  const tileH = kH * cell;
  const blockW = slots * tileW + (slots - 1) * TILE_GAP;
  const blockH = LABEL_HEIGHT + tileH + (I > 1 ? LABEL_HEIGHT : 0);
  const columns = options.columns ?? Math.max(1, Math.min(O, Math.floor((900 + BLOCK_GAP) / (blockW + BLOCK_GAP))));
  checkInteger(who, 'columns', columns, 1);
  const rows = Math.ceil(O / columns);
  const width = columns * blockW + (columns - 1) * BLOCK_GAP;
  const height = rows * blockH + (rows - 1) * BLOCK_GAP;

  let m = 0;
  let nonFinite = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== 'number') fail(who, `weight ${i} is ${showValue(v)}, not a number`, `weight ${i}: ${showValue(v)}`, 'numbers');
    if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
    else nonFinite++;
  }
  const range = m > 0 ? m : 1; // an all-zero layer still needs a scale

  const cells: Cell[] = [];
  const composite: (Omit<Cell, 'w' | 'channel'> & { rgb: string })[] = [];
  const labels: { x: number; y: number; text: string }[] = [];
  const channelNames = rgb ? ['R', 'G', 'B'] : Array.from({ length: I }, (_, i) => `in ${i}`);
  const plane = kH * kW;
  for (let o = 0; o < O; o++) {
    const bx = (o % columns) * (blockW + BLOCK_GAP);
    const by = Math.floor(o / columns) * (blockH + BLOCK_GAP);
    const ty = by + LABEL_HEIGHT;
    labels.push({ x: bx + blockW / 2, y: by + LABEL_HEIGHT - 4, text: `filter ${o}` });
    const tileX = (slot: number): number => bx + slot * (tileW + TILE_GAP);
    for (let i = 0; i < I; i++) {
      const sx = tileX((rgb ? 1 : 0) + i);
      for (let y = 0; y < kH; y++) {
        for (let x = 0; x < kW; x++) {
          const v = data[(o * I + i) * plane + y * kW + x];
          const at = { x0: sx + x * cell, x1: sx + (x + 1) * cell, y0: ty + y * cell, y1: ty + (y + 1) * cell };
          cells.push({ ...at, w: Number.isFinite(v) ? v : null, filter: o, channel: channelNames[i] });
        }
      }
      if (I > 1) labels.push({ x: sx + tileW / 2, y: ty + tileH + LABEL_HEIGHT - 4, text: channelNames[i] });
    }
    if (rgb) {
      const sx = tileX(0);
      labels.push({ x: sx + tileW / 2, y: ty + tileH + LABEL_HEIGHT - 4, text: 'RGB' });
      for (let y = 0; y < kH; y++) {
        for (let x = 0; x < kW; x++) {
          const at = { x0: sx + x * cell, x1: sx + (x + 1) * cell, y0: ty + y * cell, y1: ty + (y + 1) * cell, filter: o };
          const vs = [0, 1, 2].map((c) => data[(o * 3 + c) * plane + y * kW + x]);
          const color = vs.every(Number.isFinite) ? `#${vs.map((v) => hexByte(0.5 + v / (2 * range))).join('')}` : NON_FINITE;
          composite.push({ ...at, rgb: color });
        }
      }
    }
  }

  const position = pixelRect(width, height);
  const layer: Record<string, unknown>[] = [
    {
      data: { values: cells.filter((c) => c.w !== null) },
      mark: { type: 'rect' },
      encoding: {
        ...position,
        color: {
          field: 'w',
          type: 'quantitative',
          title: 'weight',
          scale: { scheme: 'redblue', domain: [-range, range], domainMid: 0 },
          legend: { orient: 'right', gradientLength: Math.max(60, Math.min(height, 240)), format: '~g' },
        },
        tooltip: [{ field: 'filter' }, { field: 'channel' }, { field: 'w', format: '.4g' }],
      },
    },
    {
      data: { values: labels },
      mark: { type: 'text', baseline: 'alphabetic', align: 'center', fontSize: 11, color: '#333' },
      encoding: { x: pixelAxis('x', width), y: pixelAxis('y', height), text: { field: 'text' } },
    },
  ];
  if (composite.length > 0) {
    layer.push({
      data: { values: composite },
      mark: { type: 'rect' },
      encoding: { ...position, fill: { field: 'rgb', type: 'nominal', scale: null, legend: null } },
    });
  }
  if (nonFinite > 0) {
    layer.push({
      data: { values: cells.filter((c) => c.w === null) },
      mark: { type: 'rect', color: NON_FINITE },
      encoding: position,
    });
  }

  const notes = [`shape [${shape.join(', ')}]`, `one colour scale for all filters, symmetric about 0 (max |w| = ${m.toPrecision(3)})`];
  if (rgb) notes.push('RGB tile: each channel 0.5 + w/(2·max|w|)');
  if (nonFinite > 0) notes.push(`${nonFinite} non-finite weight(s) in magenta`);
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: { text: options.title ?? 'Filters', subtitle: notes },
    config: chartConfig(),
    width,
    height,
    layer,
  };
}

/** The filters of one convolution layer of a model, as `convLayerFilters` finds them. */
export interface ConvLayerFilters {
  /** The layer's full name, as the summary lists it (`conv1`, `block1.conv1`). */
  readonly layer: string;
  /** The parameter holding its filters, `<layer>.w`. */
  readonly param: string;
  /** The filters, `[outChannels, inChannels, kH, kW]`. */
  readonly weights: TensorValue;
  /** Whether the convolution reads the model's input image directly (its filters are drawn as RGB when that has 3 channels). */
  readonly readsInput: boolean;
}

/** Options of `layerFilterGridSpec`: those of `filterGridSpec`, and how many filters and channels to draw. */
export interface LayerFilterGridOptions extends Omit<FilterGridOptions, 'rgb'> {
  /** Draw the first this many filters (default all). */
  maxFilters?: number;
  /** Draw the first this many input channels of each filter (default all). */
  maxChannels?: number;
}

/** The tensors of the graph below `output`, each once. */
function graphNodes(output: Tensor): Tensor[] {
  const seen = new Set<number>();
  const out: Tensor[] = [];
  const stack: Tensor[] = [output];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    out.push(t);
    stack.push(...t.inputs);
  }
  return out;
}

function filtersOf(who: string, model: Model, params: Params): ConvLayerFilters[] {
  checkModel(who, model);
  const built = buildModel(model);
  checkParams(who, model, built, params);
  const nodes = graphNodes(built.output);
  const found: ConvLayerFilters[] = [];
  for (const l of built.layers) {
    if (l.kind !== 'conv2d' || found.some((f) => f.layer === l.name)) continue;
    // A convolution layer's filters are the parameter it created named `<layer>.w`.
    const param = l.params.find((p) => p === `${l.name}.w`);
    if (param === undefined || !Object.hasOwn(params, param) || params[param].shape.length !== 4) continue;
    // The op that reads the filters, and whether it also reads the image input.
    const reader = nodes.find((t) => t.inputs.some((i) => i.op === 'input' && (i as Tensor<'input'>).attrs.name === param));
    const readsInput = reader !== undefined && reader.inputs.some((i) => i.id === built.input.id);
    found.push(Object.freeze({ layer: l.name, param, weights: params[param], readsInput }));
  }
  return found;
}

/**
 * The filters of every convolution layer of `model`, in build order, found
 * by name: each `conv2d` layer of the summary and the parameter
 * `<layer>.w` it created (a layer applied several times, with shared
 * weights, is listed once). `params` must hold the model's parameters.
 */
export function convLayerFilters(model: Model, params: Params): ConvLayerFilters[] {
  return filtersOf('convLayerFilters', model, params);
}

/**
 * The filter grid (`filterGridSpec`) of the convolution layer named `layer`
 * of `model`: every filter and input channel (or the first `maxFilters` and
 * `maxChannels`), drawn as RGB as well where the layer reads a 3-channel
 * input image. Refuses a name that is not one of the model's convolution
 * layers, naming those it has.
 */
export function layerFilterGridSpec(model: Model, params: Params, layer: string, options: LayerFilterGridOptions = {}): ChartSpec {
  const who = 'layerFilterGridSpec';
  checkOptions(who, options, ['cellSize', 'columns', 'title', 'maxFilters', 'maxChannels']);
  const all = filtersOf(who, model, params);
  const names = all.map((f) => f.layer);
  const f = all.find((c) => c.layer === layer);
  if (f === undefined) {
    const list = names.length ? `its convolution layers are ${names.join(', ')}` : 'it has no convolution layer';
    fail(who, `model "${model.name}" has no convolution layer named ${showValue(layer)}; ${list}`, `layer ${showValue(layer)}`, names.length ? `one of ${names.join(', ')}` : 'a model with a convolution');
  }
  const [O, I, kH, kW] = f.weights.shape;
  const maxFilters = options.maxFilters ?? O;
  const maxChannels = options.maxChannels ?? I;
  checkInteger(who, 'maxFilters', maxFilters, 1);
  checkInteger(who, 'maxChannels', maxChannels, 1);
  const o = Math.min(O, maxFilters);
  const i = Math.min(I, maxChannels);
  let data: Float32Array = f.weights.data;
  if (o < O || i < I) {
    const plane = kH * kW;
    data = new Float32Array(o * i * plane);
    for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) data.set(f.weights.data.subarray((a * I + b) * plane, (a * I + b + 1) * plane), (a * i + b) * plane);
  }
  const part = o < O || i < I ? ` (the first ${o} of ${O} filters, ${i} of ${I} input channels)` : '';
  const { maxFilters: _f, maxChannels: _c, ...rest } = options;
  return filterGridSpec(
    { data, shape: [o, i, kH, kW] },
    { ...rest, title: options.title ?? `${layer} filters${part}`, rgb: f.readsInput && i === 3 && I === 3 && model.inputShape[0] === 3 },
  );
}

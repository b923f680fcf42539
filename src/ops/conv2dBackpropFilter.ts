/**
 * The gradient of conv2d with respect to its filter: given the input x
 * [N,C,H,W] and the output gradient dy [N,O,oH,oW], the adjoint of
 * w -> conv2d(x, w) applied to dy,
 *
 *   dw[o,c,p,q] = sum_{n,i,j} dy[n,o,i,j] * x[n, c, i*sh - pt + p*dh, j*sw - pl + q*dw]
 *
 * (x zero outside the input): the correlation of x with dy, summed over the
 * batch. Each dw element gathers its own sum (one output per gpu.js thread).
 *
 * Grouped: dw is [O, C/G, kH, kW] and filter channel c of output channel o
 * correlates dy[n,o] with input channel g*C/G + c of o's group
 * g = floor(o / (O/G)).
 */
import type { Shape, Tensor } from '../graph/tensor.js';
import { shapeToString } from '../graph/tensor.js';
import type { Conv2dBackpropFilterAttrs } from './attrs.js';
import { addAll } from './add.js';
import { conv2dOp } from './conv2d.js';
import { conv2dBackpropInputOp } from './conv2dBackpropInput.js';
import {
  type ConvGeometry,
  channelGroups,
  checkGeometry,
  convOutputHW,
  describeGeometry,
  expectShape,
  geometryOf,
  need4,
  outputRanges,
  resolveGeometry,
} from './convGeometry.js';
import { checkInputCount, type KernelContext, type KernelStages, type NDArray, makeNode, opError, type OpDef, requiredOptions } from './op.js';
import { decode, type Grid, gridOf, guarded, intLet, join, k, rangeTest, type Src } from '../kernel/source.js';
import { checkRank4, type Padding } from './window.js';

const OP = 'conv2dBackpropFilter';

export function conv2dBackpropFilterShape(inputs: readonly Shape[], attrs: Conv2dBackpropFilterAttrs): Shape {
  checkInputCount(OP, inputs, 2, 'x, dy');
  const [x, dy] = inputs;
  const ws = attrs.filterShape;
  checkRank4(OP, 'input', x, '[N,C,H,W]');
  checkRank4(OP, 'dy', dy, '[N,O,oH,oW]');
  checkRank4(OP, 'filterShape', ws, '[O,C,kH,kW]');
  checkGeometry(OP, attrs);
  const [oH, oW] = convOutputHW(OP, x, ws, attrs);
  const expected = [x[0], ws[0], oH, oW];
  if (dy.some((d, i) => d !== expected[i])) {
    opError(
      OP,
      `dy has shape ${shapeToString(dy)} but conv2d of the input ${shapeToString(x)} with a filter ${shapeToString(ws)} ` +
        `(${describeGeometry(attrs)}) gives ${shapeToString(expected)}`,
      `dy ${shapeToString(dy)}`,
      `dy ${shapeToString(expected)}`,
    );
  }
  return ws;
}

// dw = BF(x, dy) is bilinear, BF(x, .) being the adjoint of conv(x, .). For a cotangent gw:
//   <gw, BF(d x, dy)> = <conv(d x, gw), dy> = <BI(dy, gw), d x>  =>  d x  = conv2dBackpropInput(dy, gw)
//   <gw, BF(x, d dy)> = <conv(x, gw), d dy>                      =>  d dy = conv2d(x, gw)
// with the same stride, dilation, explicit pads and groups.
function conv2dBackpropFilterVjp(gw: Tensor, node: Tensor<'conv2dBackpropFilter'>): readonly (Tensor | null)[] {
  const [x, dy] = node.inputs;
  const geometry = geometryOf(node.attrs);
  const dx = makeNode(conv2dBackpropInputOp, [dy, gw], { ...geometry, inputShape: x.shape });
  const ddy = makeNode(conv2dOp, [x, gw], { ...geometry, hasBias: false, relu: false });
  expectShape(OP, 'd x', dx, x.shape);
  expectShape(OP, 'd dy', ddy, dy.shape);
  return [dx, ddy];
}

// Forwards: bilinear in (x, dy), so d = conv2dBackpropFilter(dx, dy) + conv2dBackpropFilter(x, d dy).
function conv2dBackpropFilterJvp([tx, tdy]: readonly (Tensor | null)[], node: Tensor<'conv2dBackpropFilter'>): Tensor | null {
  const [x, dy] = node.inputs;
  return addAll([tx && makeNode(conv2dBackpropFilterOp, [tx, dy], node.attrs), tdy && makeNode(conv2dBackpropFilterOp, [x, tdy], node.attrs)]);
}

function conv2dBackpropFilterReference(inputs: readonly NDArray[], attrs: Conv2dBackpropFilterAttrs, outShape: Shape): Float64Array {
  const [x, dy] = inputs;
  const [N, C, H, W] = x.shape;
  const [, O, oH, oW] = dy.shape;
  const [, Cg, kH, kW] = outShape;
  const { outPer } = channelGroups(C, O, attrs.groups);
  const [sh, sw] = attrs.stride;
  const [dh, dw] = attrs.dilation;
  const [pt, , pl] = attrs.pads;
  const [iLo, iHi] = outputRanges(kH, sh, pt, dh, H, oH);
  const [jLo, jHi] = outputRanges(kW, sw, pl, dw, W, oW);
  const xd = x.data;
  const dyd = dy.data;
  const out = new Float64Array(O * Cg * kH * kW);
  const HW = H * W;
  const oHW = oH * oW;
  let at = 0;
  for (let o = 0; o < O; o++) {
    // the first input channel of o's group
    const c0 = Math.floor(o / outPer) * Cg;
    for (let c = 0; c < Cg; c++) {
      for (let p = 0; p < kH; p++) {
        const i0 = iLo[p];
        const i1 = iHi[p];
        const rowShift = p * dh - pt;
        for (let q = 0; q < kW; q++) {
          const j0 = jLo[q];
          const j1 = jHi[q];
          const colShift = q * dw - pl;
          let acc = 0;
          for (let n = 0; n < N; n++) {
            const dyBase = (n * O + o) * oHW;
            const xBase = (n * C + c0 + c) * HW + colShift;
            for (let i = i0; i < i1; i++) {
              const dyRow = dyBase + i * oW;
              const xRow = xBase + (i * sh + rowShift) * W;
              for (let j = j0; j < j1; j++) acc += dyd[dyRow + j] * xd[xRow + j * sw];
            }
          }
          out[at++] = acc;
        }
      }
    }
  }
  return out;
}

/**
 * Partial sums per part of the batch: with a few hundred filter taps and tens
 * of thousands of products each, one thread per tap leaves all but one core
 * (or all but a handful of GPU threads) idle. Stage 1 gives each (part, tap)
 * its own thread, summing over the part's images; stage 2 adds the parts.
 * Parts are sized so that stage 1 has about this many threads.
 */
const PARTIAL_THREADS = 16384;

/** The parts of a batch of `N` for `taps` filter taps (see PARTIAL_THREADS), and the images in each part. */
export function batchParts(N: number, taps: number): { readonly parts: number; readonly perPart: number } {
  const parts = Math.min(N, Math.max(1, Math.ceil(PARTIAL_THREADS / taps)));
  return { parts, perPart: Math.ceil(N / parts) };
}

/** Rows of up to this many output columns are unrolled (one statement per column). */
export const UNROLL = 32;

// Kernel: each filter tap (o, c, ky, kx) gathers x[n, c, iy, ix] * dy[n, o, oy, ox]
// over every image and output position, where (iy, ix) is the input cell the
// tap read for output (oy, ox) (and x's channel is g * Cg + c when grouped).
function conv2dBackpropFilterKernel(ctx: KernelContext<'conv2dBackpropFilter'>): Src | KernelStages {
  return conv2dBackpropFilterSource(ctx, () => null);
}

/**
 * The kernel with the filter column's term in the x reads as a parameter:
 * `kxTerm(shape, grid)` for a body decoding its taps over `shape` on `grid`
 * gives the source of `kx * dw` to spell inline in each read (a backend's own
 * spelling, e.g. in terms of the thread's x), or null to read through kx's
 * local, as the portable kernel does.
 */
export function conv2dBackpropFilterSource(
  { inputs: [x, dy], attrs, out, ints, grid }: KernelContext<'conv2dBackpropFilter'>,
  kxTerm: (shape: Shape, grid: Grid | null) => Src | null,
): Src | KernelStages {
  const [N, C, H, W] = x;
  const [, O, oH, oW] = dy;
  const [, Cg, kH, kW] = out;
  const [sh, sw] = attrs.stride;
  const [dh, dw] = attrs.dilation;
  const [pt, , pl] = attrs.pads;
  const G = attrs.groups;
  const Og = O / G;
  const taps = O * Cg * kH * kW;
  const { parts, perPart } = batchParts(N, taps);
  // The tap's coordinates: o, c, ky, kx (with groups o is decoded as g, og,
  // and x's channel is g * Cg + c), after `lead` (the part of the batch).
  const tapShape = G === 1 ? [O, Cg, kH, kW] : [G, Og, Cg, kH, kW];
  const tapNames = G === 1 ? [k`o`, k`c`, k`ky`, k`kx`] : [k`g`, k`og`, k`c`, k`ky`, k`kx`];
  const decodeTap = (lead: readonly number[], leadNames: readonly Src[], g: Grid | null): Src =>
    G === 1
      ? decode(k`i`, [...lead, ...tapShape], [...leadNames, ...tapNames], ints, g)
      : k`${decode(k`i`, [...lead, ...tapShape], [...leadNames, ...tapNames], ints, g)}
  ${intLet(ints, k`o`, k`g * ${Og} + og`)}`;
  const xChannel = G === 1 ? k`c` : k`g * ${Cg} + c`;
  const rowTest = rangeTest(k`iy`, -pt, (oH - 1) * sh - pt + (kH - 1) * dh, H);
  const colTest = rangeTest(k`ix`, -pl, (oW - 1) * sw - pl + (kW - 1) * dw, W);
  // The sum over images n of one tap's products, for n = first + t, t < count;
  // `inline` is kx's term when it is spelled in each read rather than in xPlane.
  const sumOverImages = (first: Src, count: number, inline: Src | null): Src => {
    const kxRead = inline ? k`${inline} + ` : k``;
    return k`let acc = 0.0;
  for (let t = 0; t < ${count}; t++) {
    ${intLet(ints, k`n`, k`${first} + t`)}
    ${guarded(
      parts * perPart > N ? k`n < ${N}` : null,
      k`${intLet(ints, k`xPlane`, inline ? k`(n * ${C} + ${xChannel}) * ${H * W} - ${pl}` : k`(n * ${C} + ${xChannel}) * ${H * W} + kx * ${dw} - ${pl}`)}
    ${intLet(ints, k`dyPlane`, k`(n * ${O} + o) * ${oH * oW}`)}
    for (let oy = 0; oy < ${oH}; oy++) {
      ${intLet(ints, k`iy`, k`oy * ${sh} - ${pt} + ky * ${dh}`)}
      ${intLet(ints, k`xRow`, k`xPlane + iy * ${W}`)}
      ${intLet(ints, k`dyRow`, k`dyPlane + oy * ${oW}`)}
      ${guarded(
        rowTest,
        colTest === null && oW <= UNROLL
          ? join(
              Array.from({ length: oW }, (_, ox) => k`acc += x0[xRow + ${kxRead}${ox * sw}] * x1[dyRow + ${ox}];`),
              '\n      ',
            )
          : k`for (let ox = 0; ox < ${oW}; ox++) {
        ${intLet(ints, k`ix`, k`ox * ${sw} - ${pl} + kx * ${dw}`)}
        ${guarded(colTest, k`acc += x0[xRow + ${kxRead}ox * ${sw}] * x1[dyRow + ox];`)}
      }`,
      )}
    }`,
    )}
  }`;
  };
  if (parts === 1) {
    return k`${decodeTap([], [], grid)}
  ${sumOverImages(k`0`, N, kxTerm(out, grid))}
  return acc;`;
  }
  const partialShape = [parts, O, Cg, kH, kW];
  const partialGrid = ints ? gridOf(partialShape) : null;
  return {
    stages: [
      {
        size: parts * taps,
        grid: partialGrid,
        body: k`${decodeTap([parts], [k`part`], partialGrid)}
  ${sumOverImages(k`part * ${perPart}`, perPart, kxTerm(partialShape, partialGrid))}
  return acc;`,
      },
      {
        size: taps,
        body: k`let acc = 0.0;
  for (let part = 0; part < ${parts}; part++) {
    acc += x2[part * ${taps} + i];
  }
  return acc;`,
      },
    ],
  };
}

export const conv2dBackpropFilterOp: OpDef<'conv2dBackpropFilter'> = {
  name: OP,
  shape: conv2dBackpropFilterShape,
  vjp: conv2dBackpropFilterVjp,
  jvp: conv2dBackpropFilterJvp,
  reference: conv2dBackpropFilterReference,
  kernel: conv2dBackpropFilterKernel,
};

/**
 * Options of {@link conv2dBackpropFilter}: the shape it cannot infer from its inputs, and
 * the forward convolution's geometry exactly as given to {@link conv2d}.
 */
export interface Conv2dBackpropFilterOptions {
  /** The shape [O,C/groups,kH,kW] of the filter. */
  readonly filterShape: Shape;
  /** The forward convolution's stride (default 1). */
  readonly stride?: number | readonly [number, number];
  /** The forward convolution's padding; 'same' is resolved against x's size. */
  readonly padding?: Padding;
  /** The forward convolution's dilation (default 1). */
  readonly dilation?: number | readonly [number, number];
  /** The forward convolution's groups (default 1). */
  readonly groups?: number;
}

/**
 * The gradient of `conv2d(x, w, options)` with respect to `w`, given the
 * output gradient `dy`: a tensor of shape `options.filterShape`.
 */
export function conv2dBackpropFilter(x: Tensor, dy: Tensor, options: Conv2dBackpropFilterOptions): Tensor<'conv2dBackpropFilter'> {
  need4(OP, 'input', x, '[N,C,H,W]');
  need4(OP, 'dy', dy, '[N,O,oH,oW]');
  const { filterShape, ...window } = requiredOptions(OP, options, ['filterShape', 'stride', 'padding', 'dilation', 'groups'], '{ filterShape: [4, 3, 3, 3] }');
  checkRank4(OP, 'filterShape', filterShape, '[O,C,kH,kW]');
  const geometry: ConvGeometry = resolveGeometry(OP, window, [x.shape[2], x.shape[3]], [filterShape[2], filterShape[3]]);
  return makeNode(conv2dBackpropFilterOp, [x, dy], { ...geometry, filterShape: [...filterShape] });
}

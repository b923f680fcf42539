/**
 * `nn.concatBranches`: parallel branches joined along the channels, the
 * shape of an inception module (zoo.ts builds GoogLeNet's from it).
 */
import { checkOptions, describeValue, fail } from '../graph/error.js';
import { type Tensor, shapeToString } from '../graph/tensor.js';
import { concat } from '../ops/concat.js';
import { checkLayerName, type Layer, type LayerContext } from './context.js';
import type { NamedOptions } from './layers.js';
import { describeLayer } from './spec.js';

/**
 * Parallel branches joined along the channels (an inception module): every
 * branch reads the same input, and their outputs, which must agree in every
 * dimension but the channels (`[N, C_i, H, W]`), are concatenated into
 * `[N, ΣC_i, H, W]`. The join is one summary row of kind `concat`, named
 * `concat1`, ... unless given a name; the branches' own rows come before it,
 * branch by branch.
 *
 * ```ts
 * nn.scope('mixed', concatBranches([
 *   nn.conv2d('b1x1', { filters: 8, size: 1 }),
 *   nn.sequential(nn.conv2d('b3x3_reduce', { filters: 4, size: 1 }), nn.relu(), nn.conv2d('b3x3', { filters: 8, size: 3, padding: 1 })),
 * ]))
 * ```
 *
 * Described as JSON (`modelToJson`) as kind `concatBranches`, its branches
 * the children.
 */
export function concatBranches(branches: readonly Layer[], options?: NamedOptions): Layer {
  const who = 'nn.concatBranches';
  checkOptions(who, options, ['name']);
  if (options?.name !== undefined) checkLayerName(who, options.name);
  if (!Array.isArray(branches) || branches.length === 0) {
    fail(who, `give a non-empty array of branch layers, got ${describeValue(branches)}`, describeValue(branches), 'a non-empty array of layers');
  }
  branches.forEach((b, i) => {
    if (typeof b !== 'function') fail(who, `branch ${i} is ${describeValue(b)}, expected a layer (a function)`, `branch ${i}: ${describeValue(b)}`, 'a layer (a function)');
  });
  const list = [...branches];
  const layer = (x: Tensor, ctx: LayerContext): Tensor => {
    const ys = list.map((branch) => branch(x, ctx));
    const name = options?.name !== undefined ? ctx.qualify(options.name) : ctx.autoName('concat');
    const first = ys[0];
    ys.forEach((y, i) => {
      if (y.rank < 2 || y.rank !== first.rank || y.shape.some((d: number, a: number) => a !== 1 && d !== first.shape[a])) {
        const shapes = ys.map((t) => shapeToString(t.shape)).join(', ');
        fail(
          who,
          `"${name}": branch ${i} gives ${shapeToString(y.shape)} but branch 0 gives ${shapeToString(first.shape)}; ` +
            `the branches must agree in every dimension but the channels (axis 1): pad their convolutions ('same') and pool with stride 1`,
          `branch outputs ${shapes}`,
          `outputs [N, C_i, ${first.shape.slice(2).join(', ')}]`,
        );
      }
    });
    const y = ys.length === 1 ? ys[0] : concat(ys, 1);
    ctx.record(name, 'concat', y);
    return y;
  };
  return describeLayer(layer, { kind: 'concatBranches', ...(options?.name !== undefined ? { name: options.name } : {}), children: list });
}

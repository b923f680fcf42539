import { type Shape, type Tensor, shapeToString } from '../graph/tensor.js';
import { broadcastAxes, broadcastsTo, sameShape } from '../graph/shape.js';
import { reshape } from './reshape.js';
import { sum } from './sum.js';

/**
 * Sum a cotangent back to the shape of the input it flows to: the transpose of
 * broadcasting. This is the only place in Striate where gradients are summed
 * over broadcast axes; VJP rules may return broadcast-shaped cotangents.
 */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  if (!broadcastsTo(shape, g.shape)) {
    throw new Error(`grad: a cotangent of shape ${shapeToString(g.shape)} cannot be summed to ${shapeToString(shape)}; a VJP rule returned the wrong shape`);
  }
  const axes = broadcastAxes(shape, g.shape);
  const s = axes.length > 0 ? sum(g, { axes, keepDims: true }) : g;
  return sameShape(s.shape, shape) ? s : reshape(s, shape);
}

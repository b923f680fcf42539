/** The part of ConvNetJS 0.3 (CommonJS, no types of its own) that the bench uses. */
declare module 'convnetjs' {
  export class Vol {
    constructor(sx: number, sy: number, depth: number, c?: number);
    w: Float64Array;
    dw: Float64Array;
  }
  export interface LayerDef {
    type: string;
    [key: string]: unknown;
  }
  export interface Layer {
    layer_type: string;
    filters?: Vol[];
    biases?: Vol;
  }
  export class Net {
    layers: Layer[];
    makeLayers(defs: LayerDef[]): void;
    forward(v: Vol, isTraining?: boolean): Vol;
    backward(y: number): number;
  }
  export class Trainer {
    constructor(net: Net, options: Record<string, unknown>);
    train(x: Vol, y: number): { loss: number; cost_loss: number };
  }
  const convnetjs: { Vol: typeof Vol; Net: typeof Net; Trainer: typeof Trainer };
  export default convnetjs;
}

/**
 * The order a compiled plan runs its nodes in, chosen for memory. A plain
 * depth-first order from the outputs computes each output's whole cone
 * before the next output's: in a training graph the filter gradient of a
 * layer, which reads the layer's activation, waits until the output that
 * wants it comes up, and the activation stays in memory all that time (with
 * checkpointed blocks it undoes the point of recomputing them). So the plan
 * is scheduled as a list: among the nodes whose inputs are all computed, run
 * the one that frees the most memory net of what it allocates (a value is
 * freed once its last reader has run), ties going to the depth-first order.
 * Aliases (reshape, after, checkpoint, customVjp) share their input's buffer
 * and run as soon as they can.
 */
import { type Tensor, sizeOf, topologicalOrder } from '../graph/tensor.js';
import { opDef } from '../ops/index.js';

/** Every node reachable from `outputs`, each after its inputs, in an order that keeps few values alive at once. */
export function memoryOrder(outputs: readonly Tensor[]): Tensor[] {
  const dfs = topologicalOrder(outputs);
  const position = new Map(dfs.map((n, i) => [n.id, i]));
  const kind = (n: Tensor): 'alias' | 'upload' | 'kernel' => {
    const k = opDef(n.op).kernel;
    return k === 'alias' ? 'alias' : k === 'upload' ? 'upload' : 'kernel';
  };
  // The node whose buffer a node's value lives in (itself, or through aliases an earlier one).
  const root = new Map<number, Tensor>();
  for (const n of dfs) root.set(n.id, kind(n) === 'alias' ? root.get(n.inputs[0].id)! : n);
  // Reads of each buffer still to come: by kernels (aliases read nothing), and once for a graph output.
  const pending = new Map<number, number>();
  const addRead = (t: Tensor): void => {
    const r = root.get(t.id)!;
    pending.set(r.id, (pending.get(r.id) ?? 0) + 1);
  };
  for (const n of dfs) if (kind(n) === 'kernel') n.inputs.forEach(addRead);
  outputs.forEach(addRead);

  const readers = new Map<number, Tensor[]>();
  const waiting = new Map<number, number>(); // inputs not yet computed, per node
  for (const n of dfs) {
    const distinct = new Set(n.inputs.map((i) => i.id));
    waiting.set(n.id, distinct.size);
    for (const id of distinct) {
      const list = readers.get(id);
      if (list) list.push(n);
      else readers.set(id, [n]);
    }
  }
  const ready: Tensor[] = dfs.filter((n) => waiting.get(n.id) === 0);
  const score = (n: Tensor): number => {
    const k = kind(n);
    if (k !== 'kernel') return Infinity;
    let freed = 0;
    const reads = new Map<number, number>();
    for (const i of n.inputs) {
      const r = root.get(i.id)!;
      reads.set(r.id, (reads.get(r.id) ?? 0) + 1);
    }
    for (const [id, count] of reads) {
      const r = dfs[position.get(id)!];
      if (kind(r) === 'kernel' && pending.get(id) === count) freed += sizeOf(r.shape);
    }
    return freed - sizeOf(n.shape);
  };

  const order: Tensor[] = [];
  while (ready.length > 0) {
    let best = 0;
    let bestScore = -Infinity;
    for (let j = 0; j < ready.length; j++) {
      const s = score(ready[j]);
      const better = s > bestScore || (s === bestScore && position.get(ready[j].id)! < position.get(ready[best].id)!);
      if (better) {
        best = j;
        bestScore = s;
      }
      if (s === Infinity) break;
    }
    const [n] = ready.splice(best, 1);
    order.push(n);
    if (kind(n) === 'kernel') {
      for (const i of n.inputs) {
        const r = root.get(i.id)!;
        pending.set(r.id, pending.get(r.id)! - 1);
      }
    }
    for (const reader of readers.get(n.id) ?? []) {
      const left = waiting.get(reader.id)! - 1;
      waiting.set(reader.id, left);
      if (left === 0) ready.push(reader);
    }
  }
  if (order.length !== dfs.length) throw new Error(`schedule: placed ${order.length} of ${dfs.length} nodes (a bug in Striate)`);
  return order;
}

/**
 * The conformance table (test/backend/cases.ts) is keyed by op name, so an op
 * without an entry does not compile; this checks that each entry is honest:
 * every case filed under an op builds a node of that op, in its forward graph
 * or, failing that, in the gradient graph the conformance check builds. An op
 * may have no cases only where `allowedEmpty` says why.
 */
import { describe, expect, it } from 'vitest';
import type { OpName } from '../../src/ops/attrs.js';
import { ops } from '../../src/ops/index.js';
import { input } from '../../src/ops/input.js';
import { type Tensor, topologicalOrder } from '../../src/graph/tensor.js';
import { buildCase, casesByOp, type OpCase, opCases } from './cases.js';

/** Ops whose entry in `casesByOp` is empty, each with the reason. */
const allowedEmpty: Partial<Record<OpName, string>> = {
  input: 'every case reads inputs (and its gradient the cotangent input); no graph is about input alone',
};

const opNames = Object.keys(ops) as OpName[];
const opsIn = (outputs: readonly Tensor[]) => new Set(topologicalOrder(outputs).map((t) => t.op));

/** Where op `o` occurs in case `c`: its forward graph, else the gradient graph, else nowhere. */
function whereOpIs(o: OpName, c: OpCase): 'forward' | 'gradient' | null {
  const xs = c.inputs.map((spec, i) => input(`x${i}`, spec.shape));
  if (opsIn([c.fn(...xs)]).has(o)) return 'forward';
  if (opsIn(buildCase(c).outputs).has(o)) return 'gradient';
  return null;
}

describe('the conformance table, keyed by op name', () => {
  it('has an entry for exactly the registered ops', () => {
    expect(Object.keys(casesByOp).sort()).toEqual([...opNames].sort());
  });

  it('has unique case names, and opCases lists every case once', () => {
    const names = opCases.map((c) => c.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    expect(opCases.length).toBe(Object.values(casesByOp).reduce((n, cs) => n + cs.length, 0));
  });

  it.each(opNames)('%s has cases, or is allowed to have none with a reason', (o) => {
    const reason = allowedEmpty[o];
    if (reason === undefined) expect(casesByOp[o].length, `no case exercises op "${o}"`).toBeGreaterThan(0);
    else expect(casesByOp[o], `"${o}" is allowed to be empty (${reason}) but has cases: drop it from allowedEmpty`).toEqual([]);
  });

  it.each(opNames.filter((o) => casesByOp[o].length > 0))('every case under %s builds a node of that op', (o) => {
    const misfiled = casesByOp[o].filter((c) => whereOpIs(o, c) === null).map((c) => c.name);
    expect(misfiled, `cases filed under "${o}" whose graphs (forward and gradient) have no ${o} node`).toEqual([]);
  });
});

/**
 * Errors a program can act on: every mistake throws a StriateError whose
 * fields say who refused what (README, Errors).
 *
 *   npx tsx examples/guide/errors.ts
 */
import { compile, conv2d, input, oneHot, StriateError, sum } from 'striate';

/** Print what refused the call and why, from the error's fields. */
function show(e: unknown): void {
  if (e instanceof StriateError) console.log(e.op, '|', e.got, '|', e.expected);
  else throw e;
}

// A shape mistake, found when the graph is built.
try {
  conv2d(input('x', [1, 3, 8, 8]), input('w', [4, 2, 3, 3]));
} catch (e) {
  if (e instanceof StriateError) console.log(e.op, '|', e.got, '|', e.expected);
}

// A misspelt option is refused, not ignored.
try {
  conv2d(input('x', [1, 3, 8, 8]), input('w', [4, 3, 3, 3]), { strides: 2 } as never);
} catch (e) {
  show(e);
}

// A label outside the classes, found on the host before any kernel runs, on every backend.
const labels = input('labels', [3]);
const f = compile(sum(oneHot(labels, 3)), { backend: 'cpu' });
try {
  await f.run({ labels: [0, 3, 1] });
} catch (e) {
  show(e);
} finally {
  await f.dispose();
}

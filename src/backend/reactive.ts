/**
 * Driving a compiled graph with an observable of feeds.
 *
 * ```ts
 * const f = compile([logits], { backend });
 * run$(f, batches$).subscribe(([logits]) => ...);
 * ```
 */
import { concatMap, defer, from, type Observable, type ObservableInput } from 'rxjs';
import { describeValue, fail } from '../graph/error.js';
import type { Feeds } from './feeds.js';

/** Anything with `run(feeds)`, e.g. what `compile` returns. */
export interface Runnable<R> {
  /** One run with these feeds, resolving to its result. */
  run(feeds: Feeds): Promise<R>;
}

/**
 * Map each feeds value to the result of `f.run(feeds)`, one run at a time
 * and in order: a run starts only after the previous one has resolved
 * (`concatMap`), so a device never holds two runs' intermediates at once and
 * results cannot overtake each other. A rejected run ends the stream with its
 * error; unsubscribing starts no further runs.
 */
export function run$<R>(f: Runnable<R>, feeds$: ObservableInput<Feeds>): Observable<R> {
  if (!f || typeof f.run !== 'function') {
    fail('run$', 'the first argument must have a run(feeds) method, e.g. what compile() returns', describeValue(f), 'an object with a run(feeds) method');
  }
  return from(feeds$).pipe(concatMap((feeds) => defer(() => f.run(feeds))));
}

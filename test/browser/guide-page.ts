/**
 * The README's browser example in a page: trains with `trainInPage` into
 * `#log`, as the README's snippet does, and leaves the outcome in
 * `window.striateGuide` (a promise) for guide.browser.ts to read.
 */
import { trainInPage } from '../../examples/guide/train-in-browser.js';

export type GuideOutcome =
  | { readonly error: null; readonly top1Error: number; readonly top5Error: number; readonly count: number }
  | { readonly error: string };

declare global {
  interface Window {
    striateGuide: Promise<GuideOutcome>;
  }
}

window.striateGuide = trainInPage(document.querySelector<HTMLElement>('#log')!).then(
  (r): GuideOutcome => ({ error: null, top1Error: r.error, top5Error: r.top5Error, count: r.count }),
  (e: unknown): GuideOutcome => ({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
);

/**
 * The page's drawing while it trains, in one frame at most every FRAME_MS
 * (SOFTWARE_FRAME_MS where the page is composited on the CPU).
 *
 * Every frame the page presents is composited by the browser's GPU process,
 * and on a machine without a GPU (SwiftShader) that costs tens of
 * milliseconds of CPU a frame, on the cores that train: with the charts,
 * the numbers and the filters each redrawn as their values arrived (about 35
 * frames a second), Chromium's GPU process took a whole core of this 2-core
 * machine and the training worker's step slowed from 22 to 29 ms. So the
 * panels that follow training queue their drawing here, the latest drawing
 * per key wins, and all of it runs in one animation frame.
 */

/** At most one frame of queued drawing this often (ms), where a GPU composites the page. */
export const FRAME_MS = 250;
/**
 * The same where the page is composited on the CPU (a software renderer such
 * as SwiftShader): there a frame of this page cost Chromium's GPU process
 * about 190 ms of CPU on this project's 2-core machine, and at FRAME_MS the
 * worker trained LeNet-5 at 2,213 images/s against 2,509 at this interval.
 */
export const SOFTWARE_FRAME_MS = 1000;

let interval = FRAME_MS;

/** Draw the queued frames at most every `ms` milliseconds from now on. */
export function setFrameInterval(ms: number): void {
  if (!(ms > 0)) throw new Error(`setFrameInterval: expected a positive number of milliseconds, got ${ms}`);
  interval = ms;
}

/** The interval in use (ms). */
export const frameInterval = (): number => interval;

const queued = new Map<string, () => void>();
let scheduled = false;
let last = -Infinity;

/** Run `draw` in the next shared frame; a later call with the same `key` before then replaces it. */
export function paint(key: string, draw: () => void): void {
  queued.set(key, draw);
  if (scheduled) return;
  scheduled = true;
  const wait = Math.max(0, last + interval - performance.now());
  setTimeout(() => {
    requestAnimationFrame(() => {
      scheduled = false;
      last = performance.now();
      const draws = [...queued.values()];
      queued.clear();
      for (const d of draws) {
        try {
          d();
        } catch (e) {
          // Reported as the page's error, after the rest of the frame is drawn.
          queueMicrotask(() => {
            throw e;
          });
        }
      }
    });
  }, wait);
}

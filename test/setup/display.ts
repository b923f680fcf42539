/**
 * headless-gl needs an X display. When the tests run without one and Xvfb is
 * installed, start a private virtual display for the run (so plain `npm test`
 * covers the headlessgl backend) and stop it afterwards. Without Xvfb the
 * headlessgl tests skip with the reason, or fail when the backend is required.
 *
 * Xvfb chooses the display number itself (`-displayfd`) and reports it once
 * it is listening. Picking a free-looking number here instead raced with
 * other X servers starting at the same time (another test run's `xvfb-run -a`):
 * when the other server took the number first, its socket appeared, this run
 * took it for its own, and lost the display when that server went away.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';

let xvfb: ChildProcess | null = null;

export async function setup(): Promise<void> {
  if (process.env.DISPLAY || process.platform !== 'linux' || !existsSync('/usr/bin/Xvfb')) return;
  const proc = spawn('/usr/bin/Xvfb', ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  const display = await new Promise<string | null>((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(null), 10_000);
    (proc.stdio[3] as Readable).on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = /^(\d+)\n/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
  if (display === null) {
    proc.kill();
    return;
  }
  xvfb = proc;
  process.env.DISPLAY = `:${display}`;
}

export async function teardown(): Promise<void> {
  xvfb?.kill();
  xvfb = null;
}

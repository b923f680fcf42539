/**
 * headless-gl needs an X display. When the tests run without one and Xvfb is
 * installed, start a private virtual display for the run (so plain `npm test`
 * covers the headlessgl backend) and stop it afterwards. Without Xvfb the
 * headlessgl tests skip with the reason, or fail when the backend is required.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

let xvfb: ChildProcess | null = null;

export async function setup(): Promise<void> {
  if (process.env.DISPLAY || process.platform !== 'linux' || !existsSync('/usr/bin/Xvfb')) return;
  for (let n = 90 + (process.pid % 100); n < 300; n++) {
    if (existsSync(`/tmp/.X11-unix/X${n}`) || existsSync(`/tmp/.X${n}-lock`)) continue;
    const proc = spawn('/usr/bin/Xvfb', [`:${n}`, '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
    const up = await new Promise<boolean>((resolve) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (existsSync(`/tmp/.X11-unix/X${n}`)) {
          clearInterval(poll);
          resolve(true);
        } else if (proc.exitCode !== null || Date.now() - started > 5000) {
          clearInterval(poll);
          resolve(false);
        }
      }, 50);
    });
    if (up) {
      xvfb = proc;
      process.env.DISPLAY = `:${n}`;
      return;
    }
    proc.kill();
  }
}

export async function teardown(): Promise<void> {
  xvfb?.kill();
  xvfb = null;
}

/**
 * Running an example script the way a user does (`node --import tsx
 * examples/…`), from the repository root, for the tests of examples/ and
 * the CLI: its exit code and everything it printed.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root, where the scripts run. */
export const root = fileURLToPath(new URL('../..', import.meta.url));

/** How a script run ended: its exit code (-1 when it was killed or did not start) and its output. */
export interface ScriptRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `script` (a path) with `args`, killed after `timeoutMs`. */
export function runScript(script: string, args: readonly string[], timeoutMs = 120_000): Promise<ScriptRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

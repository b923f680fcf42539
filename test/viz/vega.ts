/** Chart-spec checks shared by the viz and explain tests. */
import { compile } from 'vega-lite';
import { expect, vi } from 'vitest';

/** `spec` compiles with Vega-Lite without a warning (an unknown channel, a bad encoding, a mark without data). */
export function compilesCleanly(spec: object): void {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    compile(spec as never);
    expect(warn).not.toHaveBeenCalled();
  } finally {
    warn.mockRestore();
  }
}

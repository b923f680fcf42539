/**
 * examples/hubel-wiesel.ts: complex cells keep responding to a shifted or
 * noisy bar where simple cells do not, in numbers, on the reference backend.
 */
import { describe, expect, it } from 'vitest';
import { hubelWiesel } from '../../examples/hubel-wiesel.js';

describe('examples/hubel-wiesel', () => {
  it('complex cells tolerate shifts within their pool and noise; simple cells do not', async () => {
    const rows = Object.fromEntries((await hubelWiesel('reference')).map((r) => [r.stimulus, r]));
    const centred = rows['shift 0'];
    expect(centred.simple).toBeCloseTo(5, 6);
    expect(centred.complex).toBeCloseTo(5, 6);
    expect(centred.complexHorizontal).toBe(0); // orientation selective
    for (const s of [1, 2]) {
      expect(rows[`shift ${s}`].simple).toBe(0);
      expect(rows[`shift ${s}`].complex).toBeCloseTo(5, 6);
    }
    // Outside the 5×5 pool the complex cell falls silent too.
    expect(rows['shift 3'].complex).toBe(0);
    // Noise: both still fire when centred; shifted and noisy, only the complex cell fires strongly.
    expect(rows['noise 0.3'].complex).toBeGreaterThan(4);
    expect(rows['shift 2 + noise 0.3'].complex).toBeGreaterThan(3);
    expect(rows['shift 2 + noise 0.3'].simple).toBeLessThan(rows['shift 2 + noise 0.3'].complex / 4);
  });
});

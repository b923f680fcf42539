import { fail } from '../graph/error.js';

/**
 * A small seeded PRNG for reproducible shuffling and initialisation.
 *
 * Generator: xoshiro128** 1.0 (Blackman & Vigna, 2018, https://prng.di.unimi.it/).
 * 128 bits of state, period 2^128 - 1, passes BigCrush, and needs only 32-bit
 * integer arithmetic, which JavaScript does exactly via `Math.imul` and `>>> 0`.
 * We prefer it over mulberry32 because mulberry32 has only 2^32 states, so it
 * cannot reach most permutations of even a few dozen items and two seeds that
 * collide stay collided forever.
 *
 * Seeding: the 128-bit state is filled from a SplitMix32-style sequence (a Weyl
 * counter with the golden-ratio increment, finalised with MurmurHash3's fmix32),
 * the seeding scheme the xoshiro authors recommend: nearby seeds (0, 1, 2, ...)
 * give unrelated streams, and an all-zero state (the one fixed point of
 * xoshiro) cannot arise in practice; we guard against it anyway.
 *
 * Not cryptographically secure. Do not use it for anything secret.
 */

export interface Rng {
  /** Uniform float in [0, 1), with 32 random bits. */
  next(): number;
  /** Uniform integer in [0, n) without modulo bias; n must be an integer in [1, 2^32]. */
  int(n: number): number;
  /** Standard normal sample (mean 0, variance 1), Box–Muller. */
  normal(): number;
  /** Uniform unsigned 32-bit integer. */
  uint32(): number;
}

const TWO_POW_32 = 4294967296;
const GOLDEN_GAMMA = 0x9e3779b9;

/** MurmurHash3's 32-bit finaliser: a bijection on uint32 with good avalanche. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function checkSeed(who: string, seed: number): void {
  if (!Number.isSafeInteger(seed)) {
    fail(who, `seed must be a safe integer (for example 42 or Date.now()), got ${String(seed)}`, `seed ${String(seed)}`, 'a safe integer');
  }
}

/** Split a safe integer into its low and high 32-bit words, so seeds above 2^32 (e.g. Date.now()) stay distinct. */
function seedWords(seed: number): [number, number] {
  const lo = seed >>> 0; // two's complement low word, also right for negatives
  const hi = Math.floor(seed / TWO_POW_32) >>> 0;
  return [lo, hi];
}

/**
 * Combine two integers into one 32-bit seed, e.g. a run seed and an epoch
 * number, so every (seed, epoch) gets its own stream without having to replay
 * the earlier epochs' draws (which makes resuming from a checkpoint exact).
 */
export function mixSeed(a: number, b: number): number {
  checkSeed('mixSeed', a);
  checkSeed('mixSeed', b);
  const [alo, ahi] = seedWords(a);
  const [blo, bhi] = seedWords(b);
  let h = fmix32(alo ^ GOLDEN_GAMMA);
  h = fmix32((h + ahi) >>> 0);
  h = fmix32((h ^ Math.imul(blo, 0xcc9e2d51)) >>> 0);
  h = fmix32((h + bhi + GOLDEN_GAMMA) >>> 0);
  return h;
}

/** A seeded xoshiro128** generator. The same seed always gives the same sequence, on every platform. */
export function createRng(seed: number): Rng {
  checkSeed('createRng', seed);
  const [lo, hi] = seedWords(seed);
  // SplitMix32-style seeding: a Weyl sequence started from the seed, each step finalised by fmix32.
  let weyl = fmix32(lo ^ fmix32(hi ^ GOLDEN_GAMMA));
  const nextSeedWord = (): number => {
    weyl = (weyl + GOLDEN_GAMMA) >>> 0;
    return fmix32(weyl);
  };
  let s0 = nextSeedWord();
  let s1 = nextSeedWord();
  let s2 = nextSeedWord();
  let s3 = nextSeedWord();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // xoshiro's only fixed point

  const uint32 = (): number => {
    // result = rotl(s1 * 5, 7) * 9
    const t5 = Math.imul(s1, 5);
    const result = Math.imul((t5 << 7) | (t5 >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  };

  let spare: number | undefined; // Box–Muller yields two samples; keep the second

  return {
    uint32,
    next: () => uint32() / TWO_POW_32,
    int(n: number): number {
      if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
        fail('Rng.int', `n must be an integer between 1 and 2^32, got ${String(n)}`, `n ${String(n)}`, 'an integer in [1, 2^32]');
      }
      // Rejection sampling: discard the top partial block of 2^32 so every residue is equally likely.
      const limit = TWO_POW_32 - (TWO_POW_32 % n);
      let u = uint32();
      while (u >= limit) u = uint32();
      return u % n;
    },
    normal(): number {
      if (spare !== undefined) {
        const s = spare;
        spare = undefined;
        return s;
      }
      // 1 - next() is in (0, 1], so the log is finite.
      const u1 = 1 - uint32() / TWO_POW_32;
      const u2 = uint32() / TWO_POW_32;
      const r = Math.sqrt(-2 * Math.log(u1));
      const theta = 2 * Math.PI * u2;
      spare = r * Math.sin(theta);
      return r * Math.cos(theta);
    },
  };
}

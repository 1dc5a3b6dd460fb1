// Seeded randomness for fuzz and model tests: the seed is printed, and DFS_TEST_SEED replays a run.

export const seed = process.env.DFS_TEST_SEED === undefined ? (Math.random() * 2 ** 32) >>> 0 : Number(process.env.DFS_TEST_SEED) >>> 0;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function prng(start: number): () => number {
  let state = start >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

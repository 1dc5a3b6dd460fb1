// A seeded pseudo-random generator (mulberry32): every choice of a simulation run comes from it, so a seed
// replays the run exactly.

export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(values: readonly T[]): T {
    const value = values[Math.floor(this.next() * values.length)];
    if (value === undefined) throw new Error('prng: pick from an empty list');
    return value;
  }

  /** `bytes` random bytes as lowercase hex. */
  hex(bytes: number): string {
    let text = '';
    for (let index = 0; index < bytes; index++) text += Math.floor(this.next() * 256).toString(16).padStart(2, '0');
    return text;
  }
}

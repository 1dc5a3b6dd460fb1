// Time as the master sees it: the system's in production, a virtual one in the deterministic simulation (which
// fires timers in order, at their virtual time, with no real waiting).

export interface Clock {
  now(): number;
  /** Calls `fire` once after `ms`; returns what cancels it. */
  after(ms: number, fire: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fire) {
    const timer = setTimeout(fire, ms);
    return () => clearTimeout(timer);
  },
};

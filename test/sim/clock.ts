// Virtual time: timers fire in order of their virtual time (ties in the order they were set), each followed by
// everything it set off that needs no time (promise continuations), with no real waiting. A scope's timers can
// all be cancelled at once: a crashed process's timers die with it.

import type { Clock } from '../../src/clock';

interface Timer {
  atMs: number;
  seq: number;
  fire: () => void;
  cancelled: boolean;
}

export class SimClock implements Clock {
  private nowMs = 0;
  private seq = 0;
  /** A binary heap ordered by (atMs, seq). */
  private readonly heap: Timer[] = [];
  fired = 0;

  now(): number {
    return this.nowMs;
  }

  after(ms: number, fire: () => void): () => void {
    const timer: Timer = { atMs: this.nowMs + Math.max(0, ms), seq: this.seq++, fire, cancelled: false };
    this.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** A clock whose timers `cancelAll` cancels together. */
  scope(): Clock & { cancelAll(): void } {
    const cancels = new Set<() => void>();
    return {
      now: () => this.now(),
      after: (ms, fire) => {
        const cancel = this.after(ms, () => {
          cancels.delete(cancel);
          fire();
        });
        cancels.add(cancel);
        return () => {
          cancels.delete(cancel);
          cancel();
        };
      },
      cancelAll: () => {
        for (const cancel of cancels) cancel();
        cancels.clear();
      },
    };
  }

  /** A promise resolved after `ms` of virtual time. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  /** Fires every timer due up to `untilMs`, in order, letting each one's continuations run before the next. */
  async runUntil(untilMs: number): Promise<void> {
    for (;;) {
      const next = this.heap[0];
      if (!next || next.atMs > untilMs) break;
      this.pop();
      if (next.cancelled) continue;
      this.nowMs = next.atMs;
      this.fired++;
      next.fire();
      // Its continuations run now, at this virtual time: Node runs a tick callback only once the promise jobs
      // queued before it have run, so every continuation set off so far runs first; nothing else runs in this
      // process meanwhile (no real I/O, no real timers), so the order is the same on every run. (A tick, not a
      // turn of the event loop: the loop's poll between timers was a quarter of a seed's time.)
      await new Promise<void>((resolve) => process.nextTick(resolve));
    }
    this.nowMs = Math.max(this.nowMs, untilMs);
  }

  private push(timer: Timer): void {
    const heap = this.heap;
    heap.push(timer);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(timer, heap[parent] as Timer)) break;
      heap[index] = heap[parent] as Timer;
      index = parent;
    }
    heap[index] = timer;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (!last || heap.length === 0) return;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right] as Timer, heap[left] as Timer) ? right : left;
      if (!before(heap[child] as Timer, last)) break;
      heap[index] = heap[child] as Timer;
      index = child;
    }
    heap[index] = last;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

// Reloading a view's data without piling requests up: the next load starts a while after the
// previous one has answered (a setTimeout chain, not setInterval, so a slow server gets one
// request at a time), and an answer that comes after its chain was stopped — the range, the
// lines or the picks changed, the view went away — is dropped, never applied over a newer one.
// Pure but for the timer, which tests replace; tested in reloadChain.test.ts.

/** What a load ended with. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** The timer a chain waits with (window's by default; tests hand in fake ones). */
export interface Timer {
  set: (f: () => void, ms: number) => unknown;
  clear: (handle: unknown) => void;
}

const windowTimer: Timer = {
  set: (f, ms) => setTimeout(f, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * Starts loading now and hands each outcome to `apply`. After a success the next load starts
 * `everyMs` later (null: never — a fixed range is loaded once); after a failure it is retried
 * `retryMs` later. Returns `stop`: no outcome is applied and no load starts after it.
 */
export function reloadChain<T>(
  load: () => Promise<T>,
  apply: (o: Outcome<T>) => void,
  everyMs: number | null,
  retryMs: number,
  timer: Timer = windowTimer,
): () => void {
  // Bumped by stop: a request remembers the generation it was sent in, and its answer counts
  // only while that is still the current one.
  let generation = 0;
  let pending: unknown;
  const run = () => {
    const mine = generation;
    pending = undefined;
    const settle = (o: Outcome<T>) => {
      if (mine !== generation) return;
      apply(o);
      const wait = o.ok ? everyMs : retryMs;
      if (wait !== null) pending = timer.set(run, wait);
    };
    load().then((value) => settle({ ok: true, value }), (error: unknown) => settle({ ok: false, error }));
  };
  run();
  return () => {
    generation += 1;
    if (pending !== undefined) timer.clear(pending);
    pending = undefined;
  };
}

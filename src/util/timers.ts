// Timer helpers shared by everything that waits: abortable sleep and full-jitter backoff.

/**
 * Callbacks waiting on each signal, behind one "abort" listener per signal: a long-lived signal (the sender's
 * stop, the router's) is shared by every concurrent wait, and a listener each would pass Node's limit of 10 per
 * EventTarget (MaxListenersExceededWarning, a leak warning) with more than ten sends waiting at once.
 */
const waiting = new WeakMap<AbortSignal, Set<() => void>>();

function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let callbacks = waiting.get(signal);
  if (!callbacks) {
    const set = new Set<() => void>();
    callbacks = set;
    waiting.set(signal, set);
    signal.addEventListener("abort", () => {
      for (const cb of [...set]) cb();
      set.clear();
    }, { once: true });
  }
  const registered = callbacks;
  registered.add(callback);
  return () => registered.delete(callback);
}

/** Resolves after ms, or early (resolving false) when the signal aborts. Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const forget = signal ? onAbort(signal, () => {
      clearTimeout(timer);
      resolve(false);
    }) : undefined;
    const timer = setTimeout(() => {
      forget?.();
      resolve(true);
    }, Math.max(0, ms));
  });
}

/** Full-jitter exponential backoff: random() * min(max, base * 2^attempt). */
export function fullJitterBackoff(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * ceiling);
}

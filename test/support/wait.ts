// Every deadline of the tests goes through here. One knob, TEST_TIME_SCALE (environment, default 1; e.g. 3 on
// a slow or busy machine), multiplies them all: the waits below, the homeserver double's hs.waitFor, the log
// waits, and jest's own test timeout (jest.config.js reads the same variable). A deadline only bounds how long a
// test may wait for something that should come; no test asserts that anything took less than a given time.

/** TEST_TIME_SCALE, checked: a positive number. */
export const TEST_TIME_SCALE = readTimeScale(process.env["TEST_TIME_SCALE"]);

/** The default deadline of a wait, before scaling: generous, since the machines are shared and noisy. */
export const DEFAULT_WAIT_MS = 20_000;

function readTimeScale(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return 1;
  const scale = Number(raw);
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`TEST_TIME_SCALE must be a positive number (e.g. 3), not ${JSON.stringify(raw)}`);
  return scale;
}

/** A deadline in ms, scaled by TEST_TIME_SCALE. */
export function scaled(ms: number): number {
  return Math.ceil(ms * TEST_TIME_SCALE);
}

export interface WaitOptions {
  /** Named in the timeout error: "timed out … waiting for <what>". */
  what?: string;
  /** Deadline before scaling. Default DEFAULT_WAIT_MS. */
  timeoutMs?: number;
  /** Time between two probes. Default 10 ms. */
  intervalMs?: number;
  /** Added to the timeout error (e.g. what was seen instead). */
  describe?: () => string;
}

/** Polls `probe` until it returns something other than undefined or false, and returns that; rejects past the deadline. */
export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, opts: WaitOptions = {}): Promise<T> {
  const timeoutMs = scaled(opts.timeoutMs ?? DEFAULT_WAIT_MS);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= deadline) {
      const seen = opts.describe ? `; ${opts.describe()}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? "a condition"}${seen}`);
    }
    await tick(opts.intervalMs ?? 10);
  }
}

/**
 * Waits until `done()`, for as long as the bot keeps making `progress()` (any change of the value counts): fails
 * only after `stallMs` (scaled) without any. For the long waits of a busy machine (thousands of events routed in order,
 * a thousand rooms served), where a fixed deadline measures the machine's load rather than the bot.
 */
export async function waitWhileProgressing(done: () => boolean, progress: () => unknown | Promise<unknown>,
  opts: { what: string; stallMs: number; intervalMs?: number }): Promise<void> {
  let last = JSON.stringify(await progress());
  let lastChange = Date.now();
  while (!done()) {
    await tick(opts.intervalMs ?? 100);
    const now = JSON.stringify(await progress());
    if (now !== last) {
      last = now;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > scaled(opts.stallMs)) {
      throw new Error(`no progress for ${scaled(opts.stallMs)} ms waiting for ${opts.what} (progress stuck at ${now})`);
    }
  }
}

/** The pause between two probes of a wait (unref'd: a wait never holds the process open). Not for tests to sleep on. */
function tick(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * The short extra window of an "exactly once" check: after the bot reported idle and the check passed, this
 * long more for anything late to show up, then the bot is waited on and the check runs again (see
 * expectSteady in bot-idle.ts). Never followed by an assertion directly.
 */
export const EXTRA_WINDOW_MS = 300;

export function extraWindow(ms = EXTRA_WINDOW_MS): Promise<void> {
  return tick(scaled(ms));
}

/**
 * An "exactly once" (or "never") check: once `settle` says the system is at rest (e.g. the bot reports idle, or
 * the observable state a negative check is about was reached), `check`; after a short extra window and settling
 * again, `check` again. No check ever follows a bare timer.
 */
export async function expectSteady(settle: () => Promise<unknown>, check: () => void | Promise<void>,
  opts: { windowMs?: number } = {}): Promise<void> {
  await settle();
  await check();
  await extraWindow(opts.windowMs);
  await settle();
  await check();
}

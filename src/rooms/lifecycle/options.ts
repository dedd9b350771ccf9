// Bounds, concurrency and retry settings of the room lifecycle. Every one is an option with a production
// default; tests pass smaller ones through LifecycleContext.options.

/**
 * Most `m.space.child` entries followed per space. Children beyond it (in the order the bot learns about them)
 * are ignored and logged once per space: a space listing 10,000 rooms costs at most this many join attempts.
 */
export const MAX_CHILDREN_PER_SPACE = 500;

/**
 * Most rooms followed across the spaces and sub-spaces one user invited the bot to (SPACES_MAX_ROOMS): one invite
 * to a hostile space joins at most this many rooms.
 */
export const MAX_ROOMS_PER_INVITER = 100;

/** Most rooms `/new` creates for one user (NEW_ROOMS_MAX_PER_USER). */
export const MAX_NEW_ROOMS_PER_USER = 20;

/** How deep nested spaces are followed: the invited space is depth 0; sub-spaces deeper than this are joined, not followed. */
export const MAX_SPACE_DEPTH = 3;

/** Child-room joins running at once (all spaces together); the rest wait in the queue. */
export const CHILD_JOIN_CONCURRENCY = 2;

/** Child-room joins waiting at most (all spaces together); more are skipped (logged) until the next start. */
export const MAX_QUEUED_CHILD_JOINS = 2_000;

export interface LifecycleOptions {
  maxChildrenPerSpace: number;
  maxRoomsPerInviter: number;
  maxNewRoomsPerUser: number;
  maxSpaceDepth: number;
  childJoinConcurrency: number;
  maxQueuedChildJoins: number;
  /** Attempts of one homeserver request that fails transiently (429, 5xx, network). */
  requestAttempts: number;
  /** First backoff after a transient failure (doubled each time, capped at retryMaxMs); a 429's retry_after_ms wins. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Longest `via` list used for one child join (servers beyond are dropped). */
  maxViaServers: number;
}

export const DEFAULT_LIFECYCLE_OPTIONS: LifecycleOptions = {
  maxChildrenPerSpace: MAX_CHILDREN_PER_SPACE,
  maxRoomsPerInviter: MAX_ROOMS_PER_INVITER,
  maxNewRoomsPerUser: MAX_NEW_ROOMS_PER_USER,
  maxSpaceDepth: MAX_SPACE_DEPTH,
  childJoinConcurrency: CHILD_JOIN_CONCURRENCY,
  maxQueuedChildJoins: MAX_QUEUED_CHILD_JOINS,
  requestAttempts: 4,
  retryBaseMs: 500,
  retryMaxMs: 30_000,
  maxViaServers: 5,
};

export function resolveLifecycleOptions(partial: Partial<LifecycleOptions> = {}): LifecycleOptions {
  const merged = { ...DEFAULT_LIFECYCLE_OPTIONS, ...dropUndefined(partial) };
  for (const [key, value] of Object.entries(merged)) {
    if (!Number.isInteger(value) || value < (key === "maxSpaceDepth" ? 0 : 1)) {
      throw new RangeError(`room lifecycle option ${key} must be a positive whole number (got ${String(value)})`);
    }
  }
  return merged;
}

function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

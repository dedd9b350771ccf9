// Where the lease lives: one record per lease name on the shared server, changed only by operations that are atomic
// there (PostgreSQL: one statement on a row of its own table; Redis: one Lua script). keyv has no compare-and-set,
// so the lease does not go through the store's keyv adapter. Expiry is measured on the server's clock, so two bot
// hosts whose clocks differ still agree on it.
import { z } from "zod";

/** The current holder of a lease as the server sees it. */
export interface LeaseRecord {
  holder: string;
  /** The fencing token: bumped by one at every acquisition, never reused. */
  token: number;
  /** Milliseconds until it expires (0: expired, free to take). */
  remainingMs: number;
}

export interface LeaseStore {
  /**
   * Takes the lease for `holder` for `ttlMs` when it is free (expired or never held), or when its token is
   * `steal` (a holder known dead); returns the new fencing token, or undefined when someone else holds it.
   */
  acquire(holder: string, ttlMs: number, steal?: number): Promise<number | undefined>;
  /** Extends the lease by `ttlMs` from now if `holder` still holds it with `token` and it has not expired. */
  renew(holder: string, token: number, ttlMs: number): Promise<boolean>;
  /** Lets the lease go at once (a clean stop), if still held with `token`. The token counter is kept. */
  release(holder: string, token: number): Promise<void>;
  /** The lease as it stands, if it was ever taken. */
  read(): Promise<LeaseRecord | undefined>;
  close(): Promise<void>;
}

/** Who holds the lease: enough for an operator to find the process, and for a restart to recognise its former self. */
export const HolderSchema = z.object({
  /** Unique per process start. */
  id: z.string(),
  host: z.string(),
  pid: z.number().int(),
  /** The instance: its DATA_DIR (a restart on the same host and DATA_DIR is the same instance). */
  instance: z.string(),
});
export type LeaseHolder = z.infer<typeof HolderSchema>;

export function parseHolder(text: string): LeaseHolder | undefined {
  try {
    const parsed = HolderSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export const LEASE_NAME = "bot";

// What GET /readyz reports, and the one rule the `ready` log line follows too (ready-log.ts): the bot is ready
// only when it has started (messages are being received), the homeserver answered recently, the agent link is
// up, the store reads and writes, the homeserver has not rejected the bot's token, and inbound batches have not
// all been refused for HOMESERVER_STALE_MS (one event that cannot be stored is skipped, it refuses nothing).
export type ReadinessCheckName = "homeserver" | "agent" | "store" | "token" | "inbound";

export interface ReadinessCheck {
  readonly ok: boolean;
  /** One line for an operator: what was found, and when not ok, what is wrong. */
  readonly detail: string;
}

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Readonly<Record<ReadinessCheckName, ReadinessCheck>>;
  /** The names of the checks that failed, in a fixed order. */
  readonly notReady: ReadinessCheckName[];
  /** Present (true) while the bot is still starting (not yet receiving messages): not ready whatever the checks say. */
  readonly starting?: boolean;
  /** Present (true) while the process waits as a standby (another one holds the store lease): not ready. */
  readonly standby?: true;
  /** Present (true) once shutdown began: not ready whatever the checks say. */
  readonly stopping?: boolean;
  /** With several agents (AGENTS_FILE): each one's link state by name, the global default first. Only the global
   *  default's decides the `agent` check; the others' are shown (a room whose agent is down is told when it asks). */
  readonly agents?: Readonly<Record<string, string>>;
}

/** The part of AgentLink the tracker watches (AgentLink fits). */
export interface WatchableLink {
  state(): string;
  onStateChange(cb: (state: string) => void): () => void;
}

export interface ReadinessTrackerOptions {
  /** HOMESERVER_STALE_MS: the homeserver counts as gone when it has not answered for this long. */
  homeserverStaleMs: number;
  /** Store read/write probe (Store.healthCheck); rejects when the store does not work. */
  storeHealthCheck: () => Promise<void>;
  /** Results of the store probe are reused this long. Default 5000. */
  storeCheckCacheMs?: number;
  /**
   * Optional: asks the homeserver something cheap (e.g. GET /versions or whoami). Used by report() when
   * the last answer is older than half of homeserverStaleMs, so that an idle appservice (nothing to send,
   * no transactions) still reads as ready. Resolves when the homeserver answered (any HTTP answer counts).
   */
  probeHomeserver?: () => Promise<void>;
  /** Bounds one probe (homeserver or store) so /readyz always answers. Default 5000. */
  probeTimeoutMs?: number;
  now?: () => number;
}

export const READINESS_DEFAULTS = { storeCheckCacheMs: 5000, probeTimeoutMs: 5000 } as const;

const CHECK_ORDER: readonly ReadinessCheckName[] = ["homeserver", "agent", "store", "token", "inbound"];

interface CachedStore {
  at: number;
  check: ReadinessCheck;
}

export class ReadinessTracker {
  private lastHomeserverAnswer: number | undefined;
  private stoppingSince: number | undefined;
  private startingNow = false;
  private standingByNow = false;
  private readonly listeners = new Set<() => void>();
  private agentState = "down";
  /** The global default's name and the other agents' states, when there are several. */
  private defaultAgentName = "default";
  private readonly otherAgents = new Map<string, string>();
  private tokenProblem: string | undefined;
  /** Since when every inbound batch has been refused (undefined: the last one was accepted). */
  private inboundRefusedSince: number | undefined;
  private storeCache: CachedStore | undefined;
  private storeProbe: Promise<ReadinessCheck> | undefined;
  private homeserverProbe: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: ReadinessTrackerOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Call whenever the homeserver answered a request or pushed a transaction. */
  homeserverAnswered(): void {
    this.lastHomeserverAnswer = this.now();
  }

  /** The agent link's state: "up" is ready; anything else ("connecting", "down", "stopped") is not. */
  agentLinkState(state: string): void {
    if (state === this.agentState) return;
    this.agentState = state;
    this.changed();
  }

  /** Follows the (global default) agent's link state changes; returns the unsubscribe function. */
  watchLink(link: WatchableLink, name?: string): () => void {
    if (name !== undefined) this.defaultAgentName = name;
    this.agentLinkState(link.state());
    return link.onStateChange((state) => this.agentLinkState(state));
  }

  /** Follows another named agent's link: shown in the report's `agents`, not a readiness condition. */
  watchOtherLink(name: string, link: WatchableLink): () => void {
    this.otherAgents.set(name, link.state());
    return link.onStateChange((state) => this.otherAgents.set(name, state));
  }

  /** The homeserver rejected the bot's token (M_UNKNOWN_TOKEN). `detail`: what the operator should do. */
  tokenRejected(detail = "the homeserver rejected the bot's access token (M_UNKNOWN_TOKEN)"): void {
    if (this.tokenProblem === detail) return;
    this.tokenProblem = detail;
    this.changed();
  }

  /** The bot is starting: not ready until started(), whatever the checks say. */
  starting(): void {
    this.startingNow = true;
  }

  /** Start-up is over (messages are being received): the checks alone decide from now on. */
  started(): void {
    this.startingNow = false;
    this.changed();
  }

  /** Waiting as a standby (true) or not any more (false). */
  standingBy(waiting: boolean): void {
    if (waiting === this.standingByNow) return;
    this.standingByNow = waiting;
    this.changed();
  }

  /** Shutdown began: from now on the bot reports not ready (load balancers stop sending it work). */
  stopping(): void {
    if (this.stoppingSince !== undefined) return;
    this.stoppingSince = this.now();
    this.changed();
  }

  /** An inbound batch was refused (the homeserver sends it again). */
  inboundRefused(): void {
    this.inboundRefusedSince ??= this.now();
  }

  /** An inbound batch was accepted (made durable and acknowledged). */
  inboundAccepted(): void {
    this.inboundRefusedSince = undefined;
  }

  /** The token works again (e.g. whoami succeeded after a fix). */
  tokenAccepted(): void {
    if (this.tokenProblem === undefined) return;
    this.tokenProblem = undefined;
    this.changed();
  }

  /** Calls `cb` after each change of what the report depends on, other than time (the ready log listens). */
  onChange(cb: () => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private changed(): void {
    for (const cb of this.listeners) cb();
  }

  async report(): Promise<ReadinessReport> {
    const [homeserver, store] = await Promise.all([this.homeserverCheck(), this.storeCheck()]);
    const others = [...this.otherAgents].filter(([, state]) => state !== "up").map(([name, state]) => `${name} is ${state}`);
    const otherDetail = others.length > 0 ? `; of the other agents, ${others.join(", ")}` : "";
    const agent: ReadinessCheck = this.agentState === "up"
      ? { ok: true, detail: `the agent link is up${otherDetail}` }
      : { ok: false, detail: `the agent link is ${this.agentState}${otherDetail}` };
    const token: ReadinessCheck = this.tokenProblem === undefined
      ? { ok: true, detail: "not rejected by the homeserver" }
      : { ok: false, detail: this.tokenProblem };
    const checks = { homeserver, agent, store, token, inbound: this.inboundCheck() };
    const notReady = CHECK_ORDER.filter((name) => !checks[name].ok);
    const stopping = this.stoppingSince !== undefined;
    const starting = this.startingNow && !stopping;
    const agents = this.otherAgents.size > 0 ? { [this.defaultAgentName]: this.agentState, ...Object.fromEntries(this.otherAgents) } : undefined;
    return { ready: notReady.length === 0 && !stopping && !starting, checks, notReady,
      ...(starting ? { starting } : {}), ...(starting && this.standingByNow ? { standby: true as const } : {}), ...(stopping ? { stopping } : {}), ...(agents ? { agents } : {}) };
  }

  private async homeserverCheck(): Promise<ReadinessCheck> {
    const stale = this.opts.homeserverStaleMs;
    if (this.opts.probeHomeserver && !this.answeredWithin(stale / 2)) await this.probeHomeserver();
    const last = this.lastHomeserverAnswer;
    if (last === undefined) return { ok: false, detail: "the homeserver has not answered yet" };
    const age = Math.max(0, this.now() - last);
    if (age > stale) {
      return { ok: false, detail: `the homeserver has not answered for ${Math.round(age / 1000)} s (limit ${stale} ms)` };
    }
    return { ok: true, detail: `the homeserver answered ${Math.round(age / 1000)} s ago` };
  }

  private inboundCheck(): ReadinessCheck {
    const since = this.inboundRefusedSince;
    if (since === undefined) return { ok: true, detail: "inbound events are accepted" };
    const age = Math.max(0, this.now() - since);
    const stale = this.opts.homeserverStaleMs;
    const detail = `every inbound batch has been refused for ${Math.round(age / 1000)} s (limit ${stale} ms)`;
    return age > stale ? { ok: false, detail: `${detail}: nothing new is received; the log says why` } : { ok: true, detail };
  }

  private answeredWithin(ms: number): boolean {
    return this.lastHomeserverAnswer !== undefined && this.now() - this.lastHomeserverAnswer <= ms;
  }

  private probeHomeserver(): Promise<void> {
    const probe = this.opts.probeHomeserver;
    if (!probe) return Promise.resolve();
    this.homeserverProbe ??= withTimeout(Promise.resolve().then(() => probe()), this.probeTimeoutMs())
      .then(() => this.homeserverAnswered(), () => undefined)
      .finally(() => {
        this.homeserverProbe = undefined;
      });
    return this.homeserverProbe;
  }

  private storeCheck(): Promise<ReadinessCheck> {
    const cacheMs = this.opts.storeCheckCacheMs ?? READINESS_DEFAULTS.storeCheckCacheMs;
    const cached = this.storeCache;
    if (cached && this.now() - cached.at < cacheMs) return Promise.resolve(cached.check);
    this.storeProbe ??= withTimeout(Promise.resolve().then(() => this.opts.storeHealthCheck()), this.probeTimeoutMs())
      .then(
        (): ReadinessCheck => ({ ok: true, detail: "the store reads and writes" }),
        (error: unknown): ReadinessCheck => ({ ok: false, detail: `the store does not work: ${describe(error)}` }),
      )
      .then((check) => {
        this.storeCache = { at: this.now(), check };
        return check;
      })
      .finally(() => {
        this.storeProbe = undefined;
      });
    return this.storeProbe;
  }

  private probeTimeoutMs(): number {
    return this.opts.probeTimeoutMs ?? READINESS_DEFAULTS.probeTimeoutMs;
  }
}

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0] ?? "";
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

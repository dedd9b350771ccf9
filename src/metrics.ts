// The bot's Prometheus instruments, in a Registry of their own (never prom-client's global one), behind
// plain methods that the pipeline, the agent link, the outbox and the sender call. Served by GET /metrics.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { CryptoMetrics } from "./crypto-metrics";
import { LeaseMetrics, type LeaseStatusSource } from "./lease-metrics";

export const METRIC_PREFIX = "matrix_agent_bot_";

/** Label value used once a label has seen `maxLabelValues` distinct values (bounds the series count). */
export const OTHER_LABEL = "other";

export interface MetricsOptions {
  /** Node process metrics (CPU, memory, event loop lag, GC, handles) with the same prefix. Default true. */
  processMetrics?: boolean;
  /** Distinct values per label (outcome, command, reason) before new ones are counted as "other". Default 50. */
  maxLabelValues?: number;
  /** Buckets of the turn latency histogram, in seconds. */
  turnLatencyBuckets?: number[];
  /** Buckets of the rate-limit wait histogram, in seconds. */
  rateLimitWaitBuckets?: number[];
}

export const METRICS_DEFAULTS = {
  processMetrics: true,
  maxLabelValues: 50,
  turnLatencyBuckets: [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
  rateLimitWaitBuckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
} as const;

/** What each metric means, for runbook/operations.md (a test keeps the two in step). */

/** Store.writeStats(): what the store counters read. */
type StoreCounts = { writes: number; commits: number; reads: number };
export const METRIC_HELP = {
  turns_total: "Agent turns finished, by outcome (ok, or the failure kind)",
  turn_duration_seconds: "Time from the first message of a turn to its last reply, by outcome",
  agent_link_up: "1 while the WebSocket link to the agent is up, else 0",
  agent_reconnects_total: "Connection attempts to the agent after the first one",
  outbox_pending: "Room messages waiting in the outbox to be sent",
  send_retries_total: "Sends to the homeserver retried, by reason (rate_limited, server, network)",
  dead_letters_total: "Room messages given up on (kept as dead letters)",
  rate_limit_waits_total: "Times the bot waited because the homeserver said M_LIMIT_EXCEEDED",
  rate_limit_wait_seconds: "How long each rate-limit wait lasted",
  commands_total: "Bot commands handled, by command name",
  inbound_events_total: "Room events received from the homeserver (sync or appservice transactions)",
  inbound_poisoned_events_total: "Inbound events skipped because they could not be stored (the rest of their batch went on)",
  inbound_batches_refused_total: "Inbound batches refused for a retry (transaction answered 500, sync token not advanced)",
  store_expired_swept_total: "Expired store entries deleted by the store's sweep",
  store_writes_total: "Store writes (each set or delete of a key) since the start; SQLite store only",
  store_commits_total: "Store commits that carried those writes (one fsync each with synchronous=FULL; writes that arrive during a commit share the next); SQLite store only",
  store_reads_total: "Store reads asked for (each get or getMany) since the start; SQLite store only",
  prompts_total: "The agent's prompts (approvals, choices, questions) settled, by outcome",
  messages_dropped_total: "Messages dropped unanswered, by reason (room_left: they waited behind a prompt in a room the bot is no longer in)",
  idle: "1 when the bot has nothing in hand (work_in_flight is 0 for every kind), else 0; read at scrape time",
  agent_tokens_total: "Tokens the agent reported using (RUN_FINISHED/RUN_ERROR usage), by agent and direction (input, output); per agent only, never per room or user",
  undecryptable_events_total: "Encrypted messages from allowed users the bot could not read when they came, by cause (missing_key, unknown_device, encryption_off, other)",
  late_decryptions_total: "Encrypted messages read after all when their room key came late (then handled once, like a new message)",
  undecryptable_held: "Unreadable encrypted messages kept, waiting for their room key",
  undecryptable_dropped_total: "Unreadable encrypted messages dropped unread, by why: full (UNDECRYPTABLE_KEEP_MAX) or expired (UNDECRYPTABLE_KEEP_MS)",
  key_backup_lag: "Room keys the bot's device holds that are not in the server-side key backup yet, after its last backup pass (0 when backup is off)",
  lease_active: "PostgreSQL or Redis store: 1 while this process holds the store lease (the active one), 0 while it waits as a standby",
  lease_fencing_token: "The fencing token of the store lease this process holds (bumped by one at every takeover); 0 on a standby",
  lease_deadline_seconds: "Seconds until the active's local lease deadline (negative once a renewal is overdue: sends wait); 0 on a standby",
  lease_renewed_seconds_ago: "Seconds since the active's last successful lease renewal (or its acquisition); 0 on a standby",
  lease_renewal_failures_total: "Store lease renewals that failed, by why: error (the store could not be reached; tried again), refused (the lease was lost)",
  lease_takeovers_total: "Times this process took the store lease after waiting as a standby",
  work_in_flight: "Work in hand, by kind: router (room events being routed or waiting for a retry, and the room work they started), turns (agent runs in flight or queued), outbox (messages pending or being sent, fan-out being queued)",
} as const;

/** What the bot has in hand, by kind (the labels of work_in_flight). */
export interface WorkInFlight {
  /** Room events scheduled, being routed or waiting for a routing retry, and background room work they started. */
  router: number;
  /** Agent runs in flight and messages queued for their thread's next run. */
  turns: number;
  /** Outbox entries pending (queued, being sent, being recorded) and agent results being queued for fan-out. */
  outbox: number;
}

export const WORK_KINDS: ReadonlyArray<keyof WorkInFlight> = ["router", "turns", "outbox"];

export function isIdle(work: WorkInFlight): boolean {
  return WORK_KINDS.every((kind) => work[kind] === 0);
}

/**
 * Node's process metrics (CPU, memory, event-loop lag, GC, handles) once per process, however many Metrics exist:
 * prom-client's collector starts an event-loop-delay monitor (a timer every 10 ms) and a GC observer per call and
 * never stops them, so one per bot instance (tests start hundreds) would pile up in the process.
 */
let processRegistry: Registry | undefined;
function processMetricsRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: METRIC_PREFIX });
  }
  return processRegistry;
}

/** Keeps a label's distinct values bounded: past the limit, new values become "other". */
class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}

  value(raw: string): string {
    const text = raw === "" ? "unknown" : raw.slice(0, 64);
    if (this.seen.has(text)) return text;
    if (this.seen.size >= this.max) return OTHER_LABEL;
    this.seen.add(text);
    return text;
  }
}

export class Metrics {
  /** This instance's own metrics (never prom-client's global registry). */
  readonly registry = new Registry();
  /** What /metrics serves: the own metrics, and the process metrics unless turned off. */
  private readonly exposed: Registry;
  private readonly turns: Counter<"outcome">;
  private readonly turnDuration: Histogram<"outcome">;
  private readonly linkUp: Gauge;
  private readonly reconnects: Counter;
  private readonly outbox: Gauge;
  private readonly retries: Counter<"reason">;
  private readonly deadLetters: Counter;
  private readonly rateLimitWaits: Counter;
  private readonly rateLimitWait: Histogram;
  private readonly commands: Counter<"command">;
  private readonly inbound: Counter;
  private readonly poisoned: Counter;
  private readonly refusedBatches: Counter;
  private readonly swept: Counter;
  private readonly agentTokens: Counter<"agent" | "direction">;
  private readonly agentNames: BoundedLabel;
  private readonly prompts: Counter<"outcome">;
  /** Unreadable encrypted messages, late room keys and the key backup (crypto-metrics.ts). */
  readonly crypto: CryptoMetrics;
  private readonly dropped: Counter<"reason">;
  private readonly outcomes: BoundedLabel;
  private readonly commandNames: BoundedLabel;
  private readonly reasons: BoundedLabel;
  /** The store lease's figures, once the process opens its lease (watchLease); none on SQLite. */
  private lease: LeaseMetrics | undefined;
  private readonly named: (key: keyof typeof METRIC_HELP) => { name: string; help: string; registers: Registry[] };
  /** Reads the work in hand; until the bot is wired (watchWork), idle reads 0 and work_in_flight nothing. */
  private workProbe: (() => WorkInFlight) | undefined;
  /** Reads the store's write and commit counts (Store.writeStats). */
  private storeProbe: (() => StoreCounts | undefined) | undefined;

  constructor(options: MetricsOptions = {}) {
    const max = options.maxLabelValues ?? METRICS_DEFAULTS.maxLabelValues;
    this.outcomes = new BoundedLabel(max);
    this.commandNames = new BoundedLabel(max);
    this.reasons = new BoundedLabel(max);
    this.agentNames = new BoundedLabel(max);
    const registers = [this.registry];
    const name = (key: keyof typeof METRIC_HELP): { name: string; help: string; registers: Registry[] } => ({
      name: METRIC_PREFIX + key,
      help: METRIC_HELP[key],
      registers,
    });
    this.named = name;
    this.turns = new Counter({ ...name("turns_total"), labelNames: ["outcome"] });
    this.turnDuration = new Histogram({
      ...name("turn_duration_seconds"),
      labelNames: ["outcome"],
      buckets: [...(options.turnLatencyBuckets ?? METRICS_DEFAULTS.turnLatencyBuckets)],
    });
    this.linkUp = new Gauge(name("agent_link_up"));
    this.reconnects = new Counter(name("agent_reconnects_total"));
    this.outbox = new Gauge(name("outbox_pending"));
    this.retries = new Counter({ ...name("send_retries_total"), labelNames: ["reason"] });
    this.deadLetters = new Counter(name("dead_letters_total"));
    this.rateLimitWaits = new Counter(name("rate_limit_waits_total"));
    this.rateLimitWait = new Histogram({
      ...name("rate_limit_wait_seconds"),
      buckets: [...(options.rateLimitWaitBuckets ?? METRICS_DEFAULTS.rateLimitWaitBuckets)],
    });
    this.commands = new Counter({ ...name("commands_total"), labelNames: ["command"] });
    this.inbound = new Counter(name("inbound_events_total"));
    this.poisoned = new Counter(name("inbound_poisoned_events_total"));
    this.refusedBatches = new Counter(name("inbound_batches_refused_total"));
    this.swept = new Counter(name("store_expired_swept_total"));
    this.agentTokens = new Counter({ ...name("agent_tokens_total"), labelNames: ["agent", "direction"] });
    this.prompts = new Counter({ ...name("prompts_total"), labelNames: ["outcome"] });
    this.crypto = new CryptoMetrics(name);
    this.dropped = new Counter({ ...name("messages_dropped_total"), labelNames: ["reason"] });
    // Read at scrape time (collect); registered in this.registry like the others, so no field is needed.
    const probe = (): WorkInFlight | undefined => this.workProbe?.();
    new Gauge({ ...name("idle"), collect() {
      const work = probe();
      this.set(work !== undefined && isIdle(work) ? 1 : 0);
    } });
    const storeProbe = (): StoreCounts | undefined => this.storeProbe?.();
    const storeCounter = (key: "store_writes_total" | "store_commits_total" | "store_reads_total", field: keyof StoreCounts): Counter =>
      new Counter({ ...name(key), collect() {
        const stats = storeProbe();
        this.reset();
        if (stats) this.inc(stats[field]);
      } });
    storeCounter("store_writes_total", "writes");
    storeCounter("store_commits_total", "commits");
    storeCounter("store_reads_total", "reads");
    new Gauge({ ...name("work_in_flight"), labelNames: ["kind"], collect() {
      const work = probe();
      if (work === undefined) return;
      for (const kind of WORK_KINDS) this.set({ kind }, work[kind]);
    } });
    this.linkUp.set(0);
    this.outbox.set(0);
    this.exposed = options.processMetrics ?? METRICS_DEFAULTS.processMetrics
      ? Registry.merge([this.registry, processMetricsRegistry()]) : this.registry;
  }

  /** A turn ended: `outcome` is "ok" or a failure kind (e.g. "unreachable", "agent_error"); `seconds` its latency. */
  turnFinished(outcome: string, seconds: number): void {
    const label = this.outcomes.value(outcome);
    this.turns.inc({ outcome: label });
    if (Number.isFinite(seconds) && seconds >= 0) this.turnDuration.observe({ outcome: label }, seconds);
  }

  /** The agent link went up (true) or down (false). */
  linkState(up: boolean): void {
    this.linkUp.set(up ? 1 : 0);
  }

  /**
   * Follows an agent link (AgentLink fits): agent_link_up from its state, and one reconnect for every
   * "connecting" after the first. Returns the unsubscribe function.
   */
  watchLink(link: { state(): string; onStateChange(cb: (state: string) => void): () => void }): () => void {
    let attempts = link.state() === "connecting" ? 1 : 0;
    this.linkState(link.state() === "up");
    return link.onStateChange((state) => {
      this.linkState(state === "up");
      if (state === "connecting") {
        attempts += 1;
        if (attempts > 1) this.linkReconnected();
      }
    });
  }

  /** One more connection attempt to the agent after the first. */
  linkReconnected(): void {
    this.reconnects.inc();
  }

  /** Messages pending in the outbox now. */
  outboxDepth(pending: number): void {
    this.outbox.set(Math.max(0, pending));
  }

  /** A send to the homeserver is retried; `reason` e.g. "rate_limited", "server", "network". */
  sendRetried(reason: string): void {
    this.retries.inc({ reason: this.reasons.value(reason) });
  }

  /** A message became a dead letter. */
  deadLettered(): void {
    this.deadLetters.inc();
  }

  /** The bot waited `ms` because of M_LIMIT_EXCEEDED / 429. */
  rateLimitWaited(ms: number): void {
    this.rateLimitWaits.inc();
    if (Number.isFinite(ms) && ms >= 0) this.rateLimitWait.observe(ms / 1000);
  }

  /** A prompt of the agent was settled: approved, denied, chosen, answered, expired or cancelled. */
  promptSettled(outcome: "approved" | "denied" | "chosen" | "answered" | "expired" | "cancelled"): void {
    this.prompts.inc({ outcome });
  }

  /** Messages dropped unanswered (`room_left`: they waited behind a prompt in a room the bot is no longer in). */
  messagesDropped(reason: "room_left", count: number): void {
    this.dropped.inc({ reason }, count);
  }

  /** A command was handled. Pass registered command names only (unknown ones as "unknown"). */
  commandRun(name: string): void {
    this.commands.inc({ command: this.commandNames.value(name) });
  }

  /** The bot's work in hand, read at every scrape (idle, work_in_flight). */
  watchWork(probe: () => WorkInFlight): void {
    this.workProbe = probe;
  }

  /** The store lease (PostgreSQL or Redis), read at every scrape; registers the lease_* metrics the first time. */
  watchLease(source: LeaseStatusSource): LeaseMetrics {
    // Registered after the merge of exposed: into it too, else /metrics would not show them.
    const registers = this.exposed === this.registry ? [this.registry] : [this.registry, this.exposed];
    this.lease ??= new LeaseMetrics((key) => ({ ...this.named(key), registers }), source);
    return this.lease;
  }

  /** The store's writes, commits and reads, read at every scrape (store_writes_total, store_commits_total, store_reads_total). */
  watchStore(probe: () => StoreCounts | undefined): void {
    this.storeProbe = probe;
  }

  /** `count` room events arrived from the homeserver. */
  inboundEvents(count = 1): void {
    if (count > 0) this.inbound.inc(count);
  }

  /** An inbound event was skipped because it could not be stored. */
  inboundPoisoned(): void {
    this.poisoned.inc();
  }

  /** An inbound batch was refused (the homeserver sends it again). */
  inboundBatchRefused(): void {
    this.refusedBatches.inc();
  }

  /** The store's sweep deleted `count` expired entries. */
  storeSwept(count: number): void {
    if (count > 0) this.swept.inc(count);
  }

  /** An agent run reported its token usage (src/usage): counted per agent, nothing about its room or user. */
  agentUsage(agent: string, totals: { inputTokens: number; outputTokens: number }): void {
    const label = this.agentNames.value(agent);
    if (totals.inputTokens > 0) this.agentTokens.inc({ agent: label, direction: "input" }, totals.inputTokens);
    if (totals.outputTokens > 0) this.agentTokens.inc({ agent: label, direction: "output" }, totals.outputTokens);
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.exposed.metrics();
  }

  get contentType(): string {
    return this.exposed.contentType;
  }
}

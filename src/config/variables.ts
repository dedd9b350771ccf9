// The names of every environment variable the bot reads, and the table of timings and limits.
import { MAX_NEW_ROOMS_PER_USER, MAX_ROOMS_PER_INVITER } from "../rooms/lifecycle/options";
import { MAX_TIMER_MS } from "./schema";

export interface TimingVariable {
  readonly name: string;
  readonly key: keyof Timings;
  readonly defaultValue: number;
  /** 1, or 0 where zero means "at once" / "none". */
  readonly min: 0 | 1;
  readonly max: number;
  readonly meaning: string;
}

export interface Timings {
  readonly syncTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly sendMaxAttempts: number;
  readonly roomLookupAttempts: number;
  readonly roomLookupBaseMs: number;
  readonly roomLookupMaxMs: number;
  readonly heartbeatMs: number;
  readonly pongTimeoutMs: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  readonly reconnectResetMs: number;
  readonly maxFrameBytes: number;
  readonly runStartTimeoutMs: number;
  readonly runIdleTimeoutMs: number;
  readonly runDeadlineMs: number;
  readonly typingTimeoutMs: number;
  readonly typingDelayMs: number;
  readonly placeholderDelayMs: number;
  readonly turnQueueLimit: number;
  readonly busyRetries: number;
  readonly busyRetryDelayMs: number;
  readonly sendConcurrency: number;
  readonly fanoutConcurrency: number;
  readonly gapFillMaxEvents: number;
  readonly shutdownGraceMs: number;
  readonly httpBodyLimitBytes: number;
  readonly appserviceBodyLimitBytes: number;
  readonly homeserverStaleMs: number;
  readonly maxConcurrentRuns: number;
  readonly maxRunsPerUser: number;
  readonly spacesMaxRooms: number;
  readonly newRoomsMaxPerUser: number;
  readonly logRepeatWindowMs: number;
  readonly streamEditIntervalMs: number;
  readonly streamSlowEditIntervalMs: number;
  readonly streamMaxEdits: number;
  readonly editReanswerMs: number;
  readonly approvalTimeoutMs: number;
  readonly threadsFollowedMax: number;
  readonly answersRememberedMax: number;
  readonly mediaMaxBytes: number;
  readonly mediaMaxInflightBytes: number;
  readonly mediaInlineMaxBytes: number;
  readonly mediaDownloadTimeoutMs: number;
  readonly mediaUrlTtlMs: number;
  readonly mediaOutMaxBytes: number;
  readonly storeSweepIntervalMs: number;
  readonly storeSweepBatch: number;
  readonly agentHistoryMaxMessages: number;
  readonly leaseMs: number;
  readonly undecryptableKeepMax: number;
  readonly undecryptableKeepMs: number;
}

const COUNT_MAX = Number.MAX_SAFE_INTEGER;

function ms(name: string, key: keyof Timings, defaultValue: number, meaning: string, max = MAX_TIMER_MS, min: 0 | 1 = 1): TimingVariable {
  return { name, key, defaultValue, min, max, meaning };
}
function count(name: string, key: keyof Timings, defaultValue: number, meaning: string): TimingVariable {
  return { name, key, defaultValue, min: 1, max: COUNT_MAX, meaning };
}

/** Every timing and limit: positive integers (TYPING_DELAY_MS may be 0); `*_MS` in milliseconds (at most what Node
 *  timers accept). */
export const TIMING_VARIABLES: readonly TimingVariable[] = [
  ms("MATRIX_SYNC_TIMEOUT_MS", "syncTimeoutMs", 30_000, "long-poll timeout of /sync (client mode)"),
  ms("MATRIX_REQUEST_TIMEOUT_MS", "requestTimeoutMs", 60_000, "timeout of one request to the homeserver"),
  ms("MATRIX_RETRY_BASE_MS", "retryBaseMs", 500, "first retry delay towards the homeserver"),
  ms("MATRIX_RETRY_MAX_MS", "retryMaxMs", 30_000, "largest retry delay towards the homeserver"),
  count("SEND_MAX_ATTEMPTS", "sendMaxAttempts", 8, "attempts to send one message before it is a dead letter"),
  count("ROOM_LOOKUP_RETRY_ATTEMPTS", "roomLookupAttempts", 6, "attempts to look up a room's members while the homeserver fails transiently"),
  ms("ROOM_LOOKUP_RETRY_BASE_MS", "roomLookupBaseMs", 250, "first retry delay of a room member look-up"),
  ms("ROOM_LOOKUP_RETRY_MAX_MS", "roomLookupMaxMs", 5_000, "largest retry delay of a room member look-up"),
  ms("AGENT_HEARTBEAT_MS", "heartbeatMs", 25_000, "ping interval on the agent WebSocket"),
  ms("AGENT_PONG_TIMEOUT_MS", "pongTimeoutMs", 10_000, "how long to wait for a pong before dropping the link"),
  ms("AGENT_RECONNECT_BASE_MS", "reconnectBaseMs", 500, "first reconnect delay to the agent"),
  ms("AGENT_RECONNECT_MAX_MS", "reconnectMaxMs", 30_000, "largest reconnect delay to the agent"),
  ms("AGENT_RECONNECT_RESET_MS", "reconnectResetMs", 10_000, "how long the link must stay up to reset the backoff"),
  count("AGENT_MAX_FRAME_BYTES", "maxFrameBytes", 1_048_576, "largest WebSocket frame accepted from the agent"),
  ms("RUN_START_TIMEOUT_MS", "runStartTimeoutMs", 15_000, "how long the agent has to answer RUN_STARTED"),
  ms("RUN_IDLE_TIMEOUT_MS", "runIdleTimeoutMs", 60_000, "longest silence inside a run"),
  ms("RUN_DEADLINE_MS", "runDeadlineMs", 300_000, "longest a run may take in total"),
  ms("TYPING_TIMEOUT_MS", "typingTimeoutMs", 30_000, "typing notification lifetime (renewed while a run is going)", 30_000),
  ms("TYPING_DELAY_MS", "typingDelayMs", 300, "how long the agent may take before the typing notification goes on and the read receipt is sent (fast answers, and answers already on their way, need neither; 0: at once)",
    MAX_TIMER_MS, 0),
  ms("PLACEHOLDER_DELAY_MS", "placeholderDelayMs", 5_000, "delay before a 'working on it' placeholder is posted"),
  count("TURN_QUEUE_LIMIT", "turnQueueLimit", 20, "messages queued per thread while a run is in flight"),
  count("AGENT_BUSY_RETRIES", "busyRetries", 3, "times a run refused with thread_busy is tried again before the user is told"),
  ms("AGENT_BUSY_RETRY_MS", "busyRetryDelayMs", 1_000, "wait before trying a run refused with thread_busy again"),
  count("SEND_CONCURRENCY", "sendConcurrency", 64, "messages on their way to the homeserver at once (one per room)"),
  count("FANOUT_CONCURRENCY", "fanoutConcurrency", 48, "of those, proactive fan-out messages at most (the rest stay free for replies)"),
  count("GAP_FILL_MAX_EVENTS", "gapFillMaxEvents", 500, "most events fetched to fill a /sync gap"),
  ms("SHUTDOWN_GRACE_MS", "shutdownGraceMs", 10_000, "how long shutdown waits for work in flight"),
  count("HTTP_BODY_LIMIT_BYTES", "httpBodyLimitBytes", 65_536, "largest request body of the HTTP server"),
  count("APPSERVICE_BODY_LIMIT_BYTES", "appserviceBodyLimitBytes", 10_485_760, "largest appservice transaction body"),
  ms("HOMESERVER_STALE_MS", "homeserverStaleMs", 90_000, "/readyz fails when the homeserver has not answered for this long"),
  count("AGENT_MAX_CONCURRENT_RUNS", "maxConcurrentRuns", 8, "agent runs in flight at once, all rooms together (the rest wait their turn)"),
  count("AGENT_MAX_RUNS_PER_USER", "maxRunsPerUser", 2, "of those, runs for one user at once (charged to the sender of a run's last message)"),
  count("SPACES_MAX_ROOMS", "spacesMaxRooms", MAX_ROOMS_PER_INVITER, "rooms followed across the spaces and sub-spaces one user invited the bot to"),
  count("NEW_ROOMS_MAX_PER_USER", "newRoomsMaxPerUser", MAX_NEW_ROOMS_PER_USER, "rooms /new creates for one user"),
  ms("LOG_REPEAT_WINDOW_MS", "logRepeatWindowMs", 60_000,
    "an identical debug, warn or error line is logged at most once in this window, then with the count of those left out (0: every line)",
    MAX_TIMER_MS, 0),
  ms("STREAM_EDIT_INTERVAL_MS", "streamEditIntervalMs", 1_000, "shortest time between two edits of a live answer"),
  ms("STREAM_SLOW_EDIT_INTERVAL_MS", "streamSlowEditIntervalMs", 3_000, "the same once an answer is long (over 4,000 characters)"),
  count("STREAM_MAX_EDITS", "streamMaxEdits", 50, "edits of one live message at most, its final edit included"),
  ms("EDIT_REANSWER_MS", "editReanswerMs", 600_000,
    "an edit of the last question answered in a conversation, this soon after the answer, is answered again by editing the answer (0: never)",
    MAX_TIMER_MS, 0),
  ms("APPROVAL_TIMEOUT_MS", "approvalTimeoutMs", 600_000,
    "a prompt of the agent (an approval, a choice, a question) not answered this long expires, unless the agent set an earlier expiresAt"),
  count("THREADS_FOLLOWED_MAX", "threadsFollowedMax", 200, "Matrix threads per room the bot remembers being asked in (the oldest are forgotten first)"),
  count("ANSWERS_REMEMBERED_MAX", "answersRememberedMax", 100,
    "answers per room the bot remembers, to redact one when its question is redacted (the oldest are forgotten first)"),
  count("MEDIA_MAX_BYTES", "mediaMaxBytes", 20_971_520, "largest attachment (picture, file, voice message) the bot downloads for the agent"),
  count("MEDIA_MAX_INFLIGHT_BYTES", "mediaMaxInflightBytes", 67_108_864, "bytes of attachments held in memory at once (downloads and turns waiting)"),
  count("MEDIA_INLINE_MAX_BYTES", "mediaInlineMaxBytes", 262_144, "largest attachment sent inside the run frame; larger ones go by a one-time URL"),
  ms("MEDIA_DOWNLOAD_TIMEOUT_MS", "mediaDownloadTimeoutMs", 60_000, "longest one attachment download (or upload of an agent's file) may take"),
  ms("MEDIA_URL_TTL_MS", "mediaUrlTtlMs", 300_000, "how long a one-time attachment URL for the agent stays valid"),
  count("MEDIA_OUT_MAX_BYTES", "mediaOutMaxBytes", 20_971_520, "largest file from the agent the bot uploads and posts (AGENT_MAX_FRAME_BYTES bounds it too)"),
  ms("STORE_SWEEP_INTERVAL_MS", "storeSweepIntervalMs", 600_000, "time between sweeps deleting expired store entries"),
  count("STORE_SWEEP_BATCH", "storeSweepBatch", 1_000, "expired store entries deleted per statement of a sweep"),
  count("AGENT_HISTORY_MAX_MESSAGES", "agentHistoryMaxMessages", 50,
    "messages of a conversation the bot keeps and sends to an HTTP agent (stateless AG-UI), the oldest dropped first"),
  ms("LEASE_MS", "leaseMs", 10_000,
    "PostgreSQL or Redis store: length of the lease that makes one of several bot processes active (renewed every third of it; a standby takes over within it)"),
  count("UNDECRYPTABLE_KEEP_MAX", "undecryptableKeepMax", 1_000,
    "encrypted messages the bot could not read that it keeps, to read and answer when their key comes late (the oldest dropped first)"),
  ms("UNDECRYPTABLE_KEEP_MS", "undecryptableKeepMs", 86_400_000, "how long such a message is kept waiting for its key"),
];

/** Every variable the bot reads (the in-process reference agent reads AGENT_ENV_VARIABLES too). */
export const ENV_VARIABLES: readonly string[] = [
  "MATRIX_HOMESERVER_URL",
  "MATRIX_MODE",
  "MATRIX_REGISTRATION",
  "APPSERVICE_BIND",
  "MATRIX_ACCESS_TOKEN",
  "MATRIX_E2EE",
  "CRYPTO_PASSPHRASE",
  "AGENT_URL",
  "AGENT_TOKEN",
  "AGENTS_FILE",
  "DATA_DIR",
  "STORE_URL",
  "HTTP_BIND",
  "PROACTIVE_TOKEN",
  "ALLOWED_USERS",
  "BOT_ADMINS",
  "ADMIN_ROOM",
  "BOT_DISPLAY_NAME",
  "LOG_LEVEL",
  "SPACES_FOLLOW_CHILDREN",
  "PROVISION_SPACE",
  "STREAMING",
  "LLM_API_KEY",
  "MEDIA_PUBLIC_URL",
  "USAGE_LIMIT_TOKENS_PER_USER_DAY",
  "USAGE_LIMIT_TOKENS_PER_ROOM_DAY",
  ...TIMING_VARIABLES.map((t) => t.name),
];

// zod schemas for one environment variable each, for the appservice registration file and for the
// credentials that `npm run login` saves. Each schema takes the (trimmed, non-empty) string from the
// environment; its error messages are predicates ("is not a boolean") that the loader prefixes with the
// offending value, so an operator reads: MATRIX_E2EE: "yes" is not a boolean. Fix: ...
import { z } from "zod";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const MATRIX_MODES = ["appservice", "client"] as const;
export type MatrixMode = (typeof MATRIX_MODES)[number];

export const STORE_SCHEMES = ["sqlite", "postgres", "postgresql", "redis", "rediss"] as const;

/** Largest delay Node's timers accept; anything bigger fires at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Strict booleans: true/false/1/0, any letter case. Never z.coerce.boolean() (it reads "false" as true). */
export const booleanVar = z.stringbool({
  truthy: ["true", "1"],
  falsy: ["false", "0"],
  case: "insensitive",
  error: "is not a boolean (expected true, false, 1 or 0)",
});

export function positiveIntVar(max: number = Number.MAX_SAFE_INTEGER, min: 0 | 1 = 1): z.ZodType<number, string> {
  return z
    .string()
    .regex(/^\d+$/, { error: min === 0 ? "is not a whole number (0 or more)" : "is not a positive whole number" })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(min, { error: "must be greater than 0" })
        .max(max, { error: `must be at most ${max}` }),
    );
}

export function portVar(): z.ZodType<number, string> {
  return z
    .string()
    .regex(/^\d+$/, { error: "is not a port number (0 to 65535)" })
    .transform(Number)
    .pipe(z.number().int().min(0).max(65535, { error: "is not a port number (0 to 65535)" }));
}

function urlWithProtocol(value: string, protocols: readonly string[]): boolean {
  try {
    const url = new URL(value);
    return protocols.includes(url.protocol) && url.host !== "";
  } catch {
    return false;
  }
}

export const httpUrlVar = z
  .string()
  .refine((v) => urlWithProtocol(v, ["http:", "https:"]), { error: "is not an http:// or https:// URL" })
  .transform((v) => v.replace(/\/+$/, ""));

/** AGENT_URL: our WebSocket envelope (ws://, wss://) or plain AG-UI over HTTP + SSE (http://, https://). */
export const agentUrlVar = z
  .string()
  .refine((v) => urlWithProtocol(v, ["ws:", "wss:", "http:", "https:"]), { error: "is not a ws://, wss://, http:// or https:// URL" });

export const modeVar = z
  .string()
  .transform((v) => v.toLowerCase())
  .pipe(z.enum(MATRIX_MODES, { error: 'is neither "appservice" nor "client"' }));

export const STREAMING_MODES = ["edits", "final"] as const;
export type StreamingMode = (typeof STREAMING_MODES)[number];

export const streamingVar = z
  .string()
  .transform((v) => v.toLowerCase())
  .pipe(z.enum(STREAMING_MODES, { error: 'is neither "edits" nor "final"' }));

export const logLevelVar = z
  .string()
  .transform((v) => v.toLowerCase())
  .pipe(z.enum(LOG_LEVELS, { error: `is not a log level (one of ${LOG_LEVELS.join(", ")})` }));

export interface Bind {
  readonly host: string;
  readonly port: number;
}

/** `host:port` or `[ipv6]:port`; port 0 means "any free port" (tests use it). */
export const bindVar: z.ZodType<Bind, string> = z.string().transform((value, ctx) => {
  const match = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(value) ?? /^([^:\s[\]]+):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !match[1] || !(port >= 0 && port <= 65535)) {
    ctx.addIssue({ code: "custom", message: "is not host:port (for example 127.0.0.1:8080)" });
    return z.NEVER;
  }
  return { host: match[1], port };
});

/** The scheme part of a URL-like string, lower-cased, or undefined. */
export function schemeOf(value: string): string | undefined {
  return /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(value)?.[1]?.toLowerCase();
}

export const storeUrlVar = z.string().superRefine((value, ctx) => {
  const scheme = schemeOf(value);
  const accepted = STORE_SCHEMES.map((s) => `${s}://`).join(", ");
  if (scheme === undefined || !(STORE_SCHEMES as readonly string[]).includes(scheme)) {
    // Only the scheme is shown: the rest of a store URL may hold a password.
    const shown = scheme === undefined ? "has no scheme" : `has the scheme ${scheme}://`;
    ctx.addIssue({ code: "custom", message: `${shown}, which is not one of ${accepted}` });
  } else if (value.length <= `${scheme}://`.length) {
    ctx.addIssue({ code: "custom", message: "has nothing after the scheme" });
  }
});

const USER_GLOB = /^@[^\s:,]+:(?:\*|[A-Za-z0-9*.-]+|\[[0-9A-Fa-f:.*]+\])(?::(?:\d{1,5}|\*))?$/;

/** Comma-separated user ids or globs (`*` matches any run of characters): @alice:example.org, @*:example.org. */
export const userGlobListVar: z.ZodType<string[], string> = z.string().transform((value, ctx) => {
  const entries = value
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  const bad = entries.filter((e) => !USER_GLOB.test(e));
  if (bad.length > 0) {
    const list = bad.map((e) => JSON.stringify(e)).join(", ");
    ctx.addIssue({
      code: "custom",
      message: `contains ${list}, which ${bad.length === 1 ? "is" : "are"} not @localpart:server`,
    });
    return z.NEVER;
  }
  return [...new Set(entries)];
});

export const roomRefVar = z
  .string()
  .regex(/^(?:![^\s]+|#[^\s:]+:[^\s]+)$/, { error: "is not a room id (!…) or alias (#name:server)" });

export const textVar = z.string();

// ---------------------------------------------------------------- files

const namespaceEntry = z.object({
  exclusive: z.boolean(),
  regex: z.string().refine(
    (r) => {
      try {
        new RegExp(r);
        return true;
      } catch {
        return false;
      }
    },
    { error: "is not a valid regular expression" },
  ),
});

/** The appservice registration YAML, as given to the homeserver. Unknown keys are kept for the SDK. */
export const registrationSchema = z.looseObject({
  id: z.string().min(1),
  url: z.string().nullable().default(null),
  as_token: z.string().min(1),
  hs_token: z.string().min(1),
  sender_localpart: z.string().min(1),
  namespaces: z.object({
    users: z.array(namespaceEntry).default([]),
    aliases: z.array(namespaceEntry).default([]),
    rooms: z.array(namespaceEntry).default([]),
  }),
  rate_limited: z.boolean().optional(),
});
export type Registration = z.infer<typeof registrationSchema>;

/** `<DATA_DIR>/credentials.json`, written by `npm run login`. */
export const credentialsSchema = z.object({
  homeserverUrl: z.string().min(1),
  userId: z.string().regex(/^@[^:\s]+:\S+$/),
  accessToken: z.string().min(1),
  deviceId: z.string().min(1),
});
export type Credentials = z.infer<typeof credentialsSchema>;

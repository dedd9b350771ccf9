import * as path from "node:path";
import { StoreConfigError } from "./errors";

/** The schemes STORE_URL accepts, in the order we list them to operators. */
export const ACCEPTED_STORE_SCHEMES = ["sqlite", "postgres", "postgresql", "redis", "rediss"] as const;

export type StoreBackend = "sqlite" | "postgres" | "redis";

export type ParsedStoreUrl =
  | { backend: "sqlite"; /** absolute file path, or ":memory:" */ file: string; url: string }
  | { backend: "postgres" | "redis"; url: string };

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

function acceptedList(): string {
  return ACCEPTED_STORE_SCHEMES.map((s) => `${s}://`).join(", ");
}

/**
 * Parse STORE_URL. The error messages never repeat the URL itself (it may hold a password), only
 * its scheme. `sqlite://<path>` takes the rest of the string literally as a file path (no percent
 * decoding, no query string): `sqlite://data/bot.sqlite` is relative to the working directory,
 * `sqlite:///var/lib/bot/bot.sqlite` is absolute, `sqlite://:memory:` is an in-memory database.
 */
export function parseStoreUrl(url: string, cwd: string = process.cwd()): ParsedStoreUrl {
  const match = SCHEME.exec(url);
  if (!match || match[1] === undefined) {
    throw new StoreConfigError(`STORE_URL has no scheme; it must start with one of: ${acceptedList()}`);
  }
  const scheme = match[1].toLowerCase();
  switch (scheme) {
    case "sqlite": {
      const rest = url.slice(match[0].length);
      if (rest === ":memory:") return { backend: "sqlite", file: ":memory:", url: "sqlite://:memory:" };
      if (rest.length === 0 || rest.includes("\0")) {
        throw new StoreConfigError("STORE_URL sqlite:// needs a file path, e.g. sqlite://data/bot.sqlite");
      }
      const file = path.resolve(cwd, rest);
      return { backend: "sqlite", file, url: `sqlite://${file}` };
    }
    case "postgres":
    case "postgresql":
      return { backend: "postgres", url };
    case "redis":
    case "rediss":
      return { backend: "redis", url };
    default:
      throw new StoreConfigError(
        `STORE_URL scheme "${scheme}://" is not supported; use one of: ${acceptedList()}`,
      );
  }
}

/** The URL with any password (and a userinfo-only token) replaced, fit for logs. */
export function redactStoreUrl(url: string): string {
  const match = SCHEME.exec(url);
  if (match && match[1]?.toLowerCase() === "sqlite") return url;
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    else if (parsed.username !== "") parsed.username = "***";
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(key)) parsed.searchParams.set(key, "***");
    }
    return parsed.toString();
  } catch {
    return match ? `${match[0]}<unparseable>` : "<unparseable>";
  }
}

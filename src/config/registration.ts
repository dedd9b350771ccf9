// Reads and validates the appservice registration YAML and the credentials saved by `npm run login` (the token,
// and the homeserver URL the bot uses when MATRIX_HOMESERVER_URL is unset).
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import * as path from "node:path";
import { readVariable, type Env, type ProblemList } from "./problems";
import { credentialsSchema, httpUrlVar, registrationSchema, type Credentials, type Registration } from "./schema";

export interface FileAccess {
  readonly readFile: (path: string) => string;
  readonly fileExists: (path: string) => boolean;
}

const MAX_ISSUES_LISTED = 10;

function fieldPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    text += typeof part === "number" ? `[${part}]` : `${text === "" ? "" : "."}${String(part)}`;
  }
  return text;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = fieldPath(issue.path);
  if (field === "") return "is not a mapping of registration fields";
  if (issue.code === "invalid_type" && issue.input === undefined) return `has no field "${field}"`;
  return `has an invalid field "${field}" (${issue.message})`;
}

function readText(path: string, files: FileAccess): { text: string } | { error: string } {
  if (!files.fileExists(path)) return { error: `names ${path}, which does not exist` };
  try {
    return { text: files.readFile(path) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { error: `names ${path}, which cannot be read${typeof code === "string" ? ` (${code})` : ""}` };
  }
}

function parseYamlText(text: string): { value: unknown } | { error: string } {
  try {
    return { value: parseYaml(text) as unknown };
  } catch (error) {
    const first = (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
    return { error: `is not valid YAML: ${first}` };
  }
}

/** Loads the registration at `path` (absolute), recording problems under MATRIX_REGISTRATION. */
export function loadRegistration(path: string, files: FileAccess, problems: ProblemList): Registration | undefined {
  const variable = "MATRIX_REGISTRATION";
  const fix =
    "point MATRIX_REGISTRATION at the registration YAML you gave your homeserver " +
    "(it needs id, url, as_token, hs_token, sender_localpart and namespaces)";
  const read = readText(path, files);
  if ("error" in read) {
    problems.add(variable, read.error, fix);
    return undefined;
  }
  const parsed = parseYamlText(read.text);
  if ("error" in parsed) {
    problems.add(variable, `names ${path}, which ${parsed.error}`, fix);
    return undefined;
  }
  const result = registrationSchema.safeParse(parsed.value);
  if (result.success) return result.data;
  for (const issue of result.error.issues.slice(0, MAX_ISSUES_LISTED)) {
    problems.add(variable, `names ${path}, which ${describeIssue(issue)}`, fix);
  }
  return undefined;
}

/**
 * Loads `<DATA_DIR>/credentials.json` if it exists. Returns undefined when it is absent; records a
 * problem under MATRIX_ACCESS_TOKEN (or MATRIX_HOMESERVER_URL, when only the URL is read from it) when it
 * exists but cannot be used.
 */
export function loadCredentials(path: string, files: FileAccess, problems: ProblemList, tokenNeeded = true): Credentials | undefined {
  if (!files.fileExists(path)) return undefined;
  const variable = tokenNeeded ? "MATRIX_ACCESS_TOKEN" : "MATRIX_HOMESERVER_URL";
  const fix = `run \`npm run login\` again, or set ${variable}`;
  let value: unknown;
  try {
    value = JSON.parse(files.readFile(path)) as unknown;
  } catch {
    problems.add(variable, `is not set, and ${path} cannot be read as JSON`, fix);
    return undefined;
  }
  const result = credentialsSchema.safeParse(value);
  if (result.success) return result.data;
  const fields = [...new Set(result.error.issues.map((i) => fieldPath(i.path) || "(the whole file)"))];
  problems.add(variable, `is not set, and ${path} has missing or invalid fields: ${fields.join(", ")}`, fix);
  return undefined;
}

export interface ClientCredentials {
  accessToken?: string;
  userId?: string;
  deviceId?: string;
  /** From credentials.json, when MATRIX_HOMESERVER_URL is unset. */
  homeserverUrl?: string;
}

/**
 * Client mode: MATRIX_ACCESS_TOKEN, else `<DATA_DIR>/credentials.json` from `npm run login`. That file also names
 * the homeserver: it is used when MATRIX_HOMESERVER_URL is unset, and must match it when set.
 */
export function resolveClientCredentials(
  env: Env,
  dataDir: string,
  homeserverUrl: string | undefined,
  files: FileAccess,
  problems: ProblemList,
): ClientCredentials {
  const token = readVariable(env, "MATRIX_ACCESS_TOKEN");
  const homeserverSet = readVariable(env, "MATRIX_HOMESERVER_URL") !== undefined;
  if (token !== undefined && homeserverSet) return { accessToken: token };
  const credentialsPath = path.join(dataDir, "credentials.json");
  const before = problems.items.length;
  const saved = loadCredentials(credentialsPath, files, problems, token === undefined);
  if (saved === undefined) {
    if (problems.items.length === before && token === undefined) {
      problems.add(
        "MATRIX_ACCESS_TOKEN",
        `is not set, and there is no ${credentialsPath}; in client mode the bot needs an access token`,
        "set MATRIX_ACCESS_TOKEN or run `npm run login` (it saves the token and the homeserver URL there)",
      );
    }
    return token !== undefined ? { accessToken: token } : {};
  }
  const parsedUrl = httpUrlVar.safeParse(saved.homeserverUrl.trim());
  const savedFor = parsedUrl.success ? parsedUrl.data : undefined;
  if (!homeserverSet && savedFor === undefined) {
    problems.add(
      "MATRIX_HOMESERVER_URL",
      `is not set, and ${credentialsPath} names no http:// or https:// homeserver URL`,
      "run `npm run login` again, or set MATRIX_HOMESERVER_URL",
    );
    return {};
  }
  const fromFile = homeserverSet ? {} : { homeserverUrl: savedFor };
  if (token !== undefined) return { accessToken: token, ...fromFile };
  if (homeserverUrl !== undefined && savedFor !== homeserverUrl) {
    problems.add(
      "MATRIX_ACCESS_TOKEN",
      `is not set, and ${credentialsPath} was saved for ${savedFor ?? JSON.stringify(saved.homeserverUrl)}, not for MATRIX_HOMESERVER_URL ${homeserverUrl}`,
      "run `npm run login` again for this homeserver, set MATRIX_ACCESS_TOKEN, or correct (or unset) MATRIX_HOMESERVER_URL",
    );
    return {};
  }
  return { accessToken: saved.accessToken, userId: saved.userId, deviceId: saved.deviceId, ...fromFile };
}

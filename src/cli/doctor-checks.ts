// The checks of `npm run doctor`, in order: configuration, homeserver, token, agent, store, crypto. Each
// yields one result with, when it fails, the fix. Later checks are skipped when what they need failed.
import pino from "pino";
import { loadConfig, type Config, type Env } from "../config";
import { openStore } from "../store";
import { agentHandshake } from "./agent-handshake";
import { checkAgentUsers } from "./doctor-agent-users";
import { firstLine } from "./cli-support";
import { matrixFetch, UnreachableError } from "./matrix-fetch";
import { missingEncryptionFlags } from "../matrix/appservice-crypto";
import { cryptoStoreDir, inspectCrypto } from "../matrix/crypto/inspect";
import { describeBackup } from "../matrix/crypto/backup-status";

export type CheckStatus = "pass" | "fail" | "skip";

export interface CheckResult {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
  /** What to do, for a failed check. */
  readonly fix?: string;
  /** Extra lines (e.g. every configuration problem). */
  readonly more?: string[];
}

export interface DoctorOptions {
  /** Bounds each network check. */
  timeoutMs: number;
  clientName: string;
}

const pass = (name: string, detail: string): CheckResult => ({ name, status: "pass", detail });
const fail = (name: string, detail: string, fix: string, more?: string[]): CheckResult =>
  ({ name, status: "fail", detail, fix, ...(more ? { more } : {}) });
const skip = (name: string, detail: string): CheckResult => ({ name, status: "skip", detail });

export async function runDoctorChecks(env: Env, options: DoctorOptions, report: (result: CheckResult) => void): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const add = (result: CheckResult): CheckResult => {
    results.push(result);
    report(result);
    return result;
  };
  const loaded = loadConfig(env);
  if (!loaded.ok) {
    add(fail("configuration", `${loaded.problems.length} problem${loaded.problems.length === 1 ? "" : "s"}`,
      "correct each variable as described above, in the environment or in .env (.env.example describes every one)",
      loaded.message.split("\n").slice(1)));
    for (const name of ["homeserver", "token", "agent", "store", "crypto"]) add(skip(name, "needs a valid configuration"));
    return results;
  }
  const config = loaded.config;
  add(pass("configuration", describeConfig(config)));
  const homeserver = add(await checkHomeserver(config, options));
  const token: CheckResult & { userId?: string } = homeserver.status === "pass" ? await checkToken(config, options) : skip("token", "needs the homeserver to answer");
  add(token);
  const users = token.userId !== undefined ? checkAgentUsers(config, token.userId) : undefined;
  if (users) add(users.status === "pass" ? pass("agent users", users.detail) : fail("agent users", users.detail, users.fix ?? ""));
  add(await checkAgent(config, options));
  add(await checkStore(config, options));
  add(await checkCrypto(config));
  return results;
}

function describeConfig(config: Config): string {
  const who = config.mode === "appservice"
    ? `appservice mode, registration ${config.registrationPath ?? "?"}`
    : `client mode, token from ${config.userId !== undefined ? "credentials.json" : "MATRIX_ACCESS_TOKEN"}`;
  return `${who}, homeserver ${config.homeserverUrl}`;
}

async function checkHomeserver(config: Config, options: DoctorOptions): Promise<CheckResult> {
  const name = "homeserver";
  try {
    const answer = await matrixFetch(config.homeserverUrl, "GET", "/_matrix/client/versions", { timeoutMs: options.timeoutMs });
    const versions = (answer.body as { versions?: unknown } | undefined)?.versions;
    if (answer.status !== 200 || !Array.isArray(versions)) {
      return fail(name, `${config.homeserverUrl} answers, but not as a Matrix homeserver (HTTP ${answer.status} for /_matrix/client/versions)`,
        "set MATRIX_HOMESERVER_URL to the client-server API's base URL, e.g. https://matrix.example.org (not a web client's URL)");
    }
    const latest = versions.filter((v): v is string => typeof v === "string").at(-1) ?? "?";
    return pass(name, `${config.homeserverUrl} answers (Matrix ${latest})`);
  } catch (error) {
    if (error instanceof UnreachableError) return fail(name, error.what, `${error.fix}; MATRIX_HOMESERVER_URL is the URL used`);
    return fail(name, `cannot reach ${config.homeserverUrl} (${firstLine(error)})`, "check MATRIX_HOMESERVER_URL and the network");
  }
}

async function checkToken(config: Config, options: DoctorOptions): Promise<CheckResult & { userId?: string }> {
  const name = "token";
  const appservice = config.mode === "appservice";
  const token = appservice ? config.registration?.as_token : config.accessToken;
  const source = appservice ? `the as_token of ${config.registrationPath ?? "the registration"}`
    : config.userId !== undefined ? "the token in credentials.json" : "MATRIX_ACCESS_TOKEN";
  const fix = appservice
    ? "give the homeserver this same registration file (app_service_config_files) and restart it; or run `npm run register` again and give both the new file (runbook/appservice-synapse.md)"
    : "run `npm run login` again (or set MATRIX_ACCESS_TOKEN to a valid token of the bot's account)";
  if (token === undefined) return fail(name, `no token configured (${source})`, fix);
  try {
    const answer = await matrixFetch(config.homeserverUrl, "GET", "/_matrix/client/v3/account/whoami",
      { accessToken: token, timeoutMs: options.timeoutMs });
    if (answer.status === 200) {
      const body = answer.body as { user_id?: unknown; device_id?: unknown } | undefined;
      const userId = typeof body?.user_id === "string" ? body.user_id : "?";
      const device = typeof body?.device_id === "string" ? ` (device ${body.device_id})` : "";
      if (appservice && config.registration && !userId.startsWith(`@${config.registration.sender_localpart}:`)) {
        return fail(name, `${source} signs in as ${userId}, not as the registration's sender_localpart ${config.registration.sender_localpart}`,
          "make the homeserver load the same registration file as the bot");
      }
      return { ...pass(name, `${source} is valid: the bot is ${userId}${device}`), userId };
    }
    const code = answer.errcode ?? `HTTP ${answer.status}`;
    if (answer.status === 401 || answer.errcode === "M_UNKNOWN_TOKEN" || answer.errcode === "M_MISSING_TOKEN") {
      return fail(name, `the homeserver rejected ${source} (${code})`, fix);
    }
    return fail(name, `whoami failed with ${code}${answer.error ? `: ${answer.error}` : ""}`, fix);
  } catch (error) {
    const what = error instanceof UnreachableError ? error.what : firstLine(error);
    return fail(name, `whoami failed: ${what}`, "run the doctor again; if it persists, check the homeserver's health");
  }
}

async function checkAgent(config: Config, options: DoctorOptions): Promise<CheckResult> {
  const name = "agent";
  const url = config.agent.url;
  if (url === undefined) return pass(name, "embedded reference agent (AGENT_URL is unset): it starts with the bot");
  const result = await agentHandshake({
    url,
    ...(config.agent.token !== undefined ? { token: config.agent.token } : {}),
    timeoutMs: options.timeoutMs,
    clientName: `${options.clientName} (doctor)`,
    maxFrameBytes: config.timings.maxFrameBytes,
  });
  if (result.ok) {
    const beat = result.heartbeatMs !== undefined ? `, heartbeat ${result.heartbeatMs} ms` : "";
    return pass(name, `${url} answered hello with ready${beat}`);
  }
  return fail(name, result.what, result.fix);
}

async function checkStore(config: Config, options: DoctorOptions): Promise<CheckResult> {
  const name = "store";
  let location = config.storeUrl.split("://")[0] ?? "store";
  try {
    const store = await openStore(config.storeUrl, { logger: pino({ level: "silent" }), healthCheckTimeoutMs: options.timeoutMs });
    location = store.location;
    try {
      await store.healthCheck();
    } finally {
      await store.close().catch(() => undefined);
    }
    return pass(name, `${location} reads and writes`);
  } catch (error) {
    const userText = firstLine(error);
    const fix = /npm install/.test(userText)
      ? "install the adapter package named above, or use a sqlite:// STORE_URL"
      : config.storeUrl.startsWith("sqlite")
        ? "check that DATA_DIR (or the STORE_URL path) is writable by the bot's user and that the disk is not full"
        : "check that the database server runs, and the host, port, user and password in STORE_URL";
    return fail(name, `${location}: ${userText}`, fix);
  }
}

async function checkCrypto(config: Config): Promise<CheckResult> {
  const name = "crypto";
  if (!config.e2ee) return pass(name, "encryption off (MATRIX_E2EE=false): in encrypted rooms the bot posts one notice and does not answer");
  const result = await inspectCrypto(config.dataDir, config.cryptoPassphrase ?? "");
  if (!result.ok) return fail(name, `MATRIX_E2EE=true, but ${result.detail}`, result.fix);
  const missing = config.mode === "appservice" && config.registration ? missingEncryptionFlags(config.registration) : [];
  if (missing.length > 0) {
    return fail(name, `MATRIX_E2EE=true, but the registration ${config.registrationPath ?? ""} lacks ${missing.map((f) => `${f}: true`).join(", ")}: ` +
      "without them Synapse sends the bot no room keys, so it cannot read encrypted messages",
    "add those lines to the registration file (`npm run register` writes them), give the homeserver the same file and restart it; " +
      "Synapse also needs its experimental_features for appservice encryption (runbook/appservice-synapse.md)");
  }
  return { ...pass(name, `MATRIX_E2EE=true: ${result.detail}${config.mode === "appservice" ? "; the registration asks for to-device messages and key counts" : ""}`),
    more: [await describeBackup(cryptoStoreDir(config.dataDir))] };
}

// `npm run login`: asks for the homeserver URL, the bot account's user name and password (no echo), logs in
// with m.login.password, and saves { homeserverUrl, userId, accessToken, deviceId } to <DATA_DIR>/credentials.json
// (mode 0600, atomic) for client mode. Prints who it logged in as; never the token.
// Non-interactive: --homeserver and --user, and the password on stdin when stdin is not a terminal.
// Exit codes: 0 logged in, 1 refused or unreachable, 2 usage.
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { credentialsSchema, type Credentials } from "../config";
import { readVariable } from "../config/problems";
import { CliFailure, EXIT, firstLine, isUsageError, loadDotEnv, parseCommandLine, processIo, UsageError, writeFileAtomic, type CliIo } from "./cli-support";
import { matrixFetch, UnreachableError, type MatrixAnswer } from "./matrix-fetch";
import { pipedPrompter, PromptCancelled, terminalPrompter, type Prompter } from "./prompt";
import { PRIVATE_UMASK } from "../util/private-files";

export const LOGIN_USAGE = `Usage: npm run login -- [options]

Logs the bot's account in and saves its access token in <DATA_DIR>/credentials.json for client mode.
Asks for whatever the options do not give; the password is never taken as an option.

  --homeserver <url>    the homeserver's client-server URL (default: MATRIX_HOMESERVER_URL)
  --user <user>         the bot account: @bot:example.org or just bot
  --data-dir <dir>      where to save credentials.json (default: DATA_DIR, else ./data)
  --device-name <name>  the new device's display name (default matrix-agent-bot)
  --logout-previous     after logging in, log out the device saved before (its token stops working)
  --timeout-ms <ms>     how long to wait for the homeserver (default 30000)
  --help                show this text`;

export interface LoginEnvironment {
  readonly env: Record<string, string | undefined>;
  readonly cwd: string;
  readonly prompter: Prompter;
}

const loginAnswerSchema = z.object({ user_id: z.string(), access_token: z.string().min(1), device_id: z.string().min(1) });

export async function runLogin(argv: string[], io: CliIo, context: LoginEnvironment): Promise<number> {
  try {
    const values = parseCommandLine(argv, {
      homeserver: { type: "string" },
      user: { type: "string" },
      "data-dir": { type: "string" },
      "device-name": { type: "string", default: "matrix-agent-bot" },
      "logout-previous": { type: "boolean", default: false },
      "timeout-ms": { type: "string", default: "30000" },
    }, LOGIN_USAGE, io);
    if (values === undefined) return EXIT.ok;
    const timeoutMs = Number(values["timeout-ms"]);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError("--timeout-ms must be a positive whole number");
    const { env, prompter } = context;
    // An empty value is unset, as for the bot (an option given as "" too).
    const homeserverUrl = normalizeHomeserverUrl(nonEmpty(values.homeserver)
      ?? (await prompter.ask("Homeserver URL", readVariable(env, "MATRIX_HOMESERVER_URL") ?? "")));
    const user = (values.user ?? (await prompter.ask("Bot account (e.g. @bot:example.org)"))).trim();
    if (user === "") throw new UsageError("no user name given");
    const password = await prompter.askSecret("Password");
    if (password === "") throw new UsageError("no password given");

    const credentials = await logIn(homeserverUrl, user, password, values["device-name"], timeoutMs);
    const dataDir = path.resolve(context.cwd, nonEmpty(values["data-dir"]) ?? readVariable(env, "DATA_DIR") ?? "./data");
    const file = path.join(dataDir, "credentials.json");
    const previous = readPrevious(file);
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileAtomic(file, `${JSON.stringify(credentials, null, 2)}\n`, 0o600);

    io.out(`Logged in as ${credentials.userId} (device ${credentials.deviceId}).`);
    io.out(`Saved the access token in ${file} (readable only by you).`);
    if (previous && previous.accessToken !== credentials.accessToken) {
      await handlePrevious(previous, credentials, values["logout-previous"], timeoutMs, io);
    }
    printNextSteps(credentials, env, io);
    return EXIT.ok;
  } catch (error) {
    return reportLoginFailure(error, io);
  } finally {
    context.prompter.close();
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function normalizeHomeserverUrl(raw: string): string {
  const trimmed = raw.trim();
  if (trimmed === "") throw new UsageError("no homeserver URL given (e.g. https://matrix.example.org)");
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`${JSON.stringify(trimmed)} is not a URL (e.g. https://matrix.example.org)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError("the homeserver URL must start with http:// or https://");
  return withScheme.replace(/\/+$/, "");
}

export async function logIn(homeserverUrl: string, user: string, password: string, deviceName: string,
  timeoutMs: number): Promise<Credentials> {
  const flows = await matrixFetch(homeserverUrl, "GET", "/_matrix/client/v3/login", { timeoutMs });
  if (flows.status === 200 && !offersPasswordLogin(flows.body)) {
    throw new CliFailure("This homeserver does not offer password login (it may use single sign-on). Create an access " +
      "token for the bot's account another way and set MATRIX_ACCESS_TOKEN in .env instead.");
  }
  if (flows.status === 404 || (flows.status !== 200 && flows.errcode === undefined)) {
    throw new CliFailure(`${homeserverUrl} does not answer like a Matrix homeserver (HTTP ${flows.status} for /_matrix/client/v3/login). ` +
      "Give the client-server URL, e.g. https://matrix.example.org.");
  }
  const answer = await matrixFetch(homeserverUrl, "POST", "/_matrix/client/v3/login", {
    timeoutMs,
    body: {
      type: "m.login.password",
      identifier: { type: "m.id.user", user },
      password,
      initial_device_display_name: deviceName,
    },
  });
  if (answer.status !== 200) throw new CliFailure(refusal(answer));
  const parsed = loginAnswerSchema.safeParse(answer.body);
  if (!parsed.success) throw new CliFailure("The homeserver accepted the login but its answer has no user_id, access_token or device_id.");
  return credentialsSchema.parse({
    homeserverUrl,
    userId: parsed.data.user_id,
    accessToken: parsed.data.access_token,
    deviceId: parsed.data.device_id,
  });
}

function offersPasswordLogin(body: unknown): boolean {
  const flows = (body as { flows?: unknown } | undefined)?.flows;
  return Array.isArray(flows) && flows.some((f) => (f as { type?: unknown } | null)?.type === "m.login.password");
}

function refusal(answer: MatrixAnswer): string {
  const code = answer.errcode ?? `HTTP ${answer.status}`;
  switch (answer.errcode) {
    case "M_FORBIDDEN":
      return "The homeserver refused the user name or password (M_FORBIDDEN).";
    case "M_USER_DEACTIVATED":
      return "This account is deactivated (M_USER_DEACTIVATED): use another account for the bot.";
    case "M_LIMIT_EXCEEDED": {
      const retry = (answer.body as { retry_after_ms?: unknown } | undefined)?.retry_after_ms;
      const wait = typeof retry === "number" ? ` in ${Math.ceil(retry / 1000)} s` : " later";
      return `The homeserver is rate-limiting logins (M_LIMIT_EXCEEDED): try again${wait}.`;
    }
    default:
      return `The homeserver refused the login (${code}${answer.error ? `: ${answer.error}` : ""}).`;
  }
}

function readPrevious(file: string): Credentials | undefined {
  try {
    return credentialsSchema.parse(JSON.parse(fs.readFileSync(file, "utf8")));
  } catch {
    return undefined;
  }
}

async function handlePrevious(previous: Credentials, now: Credentials, logout: boolean, timeoutMs: number, io: CliIo): Promise<void> {
  const sameServer = previous.homeserverUrl.replace(/\/+$/, "") === now.homeserverUrl;
  if (!logout || !sameServer) {
    io.out(`It replaces the credentials saved for ${previous.userId} (device ${previous.deviceId}); that device is still ` +
      "logged in: log it out from a Matrix client, or run this again with --logout-previous next time.");
    return;
  }
  try {
    const answer = await matrixFetch(previous.homeserverUrl, "POST", "/_matrix/client/v3/logout",
      { accessToken: previous.accessToken, body: {}, timeoutMs });
    if (answer.status === 200) io.out(`Logged out the previous device ${previous.deviceId}; its token no longer works.`);
    else if (answer.errcode === "M_UNKNOWN_TOKEN") io.out(`The previous device ${previous.deviceId} was already logged out.`);
    else io.out(`Could not log out the previous device ${previous.deviceId} (${answer.errcode ?? `HTTP ${answer.status}`}): log it out from a Matrix client.`);
  } catch (error) {
    io.out(`Could not log out the previous device ${previous.deviceId} (${firstLine(error)}): log it out from a Matrix client.`);
  }
}

function printNextSteps(credentials: Credentials, env: Record<string, string | undefined>, io: CliIo): void {
  const configured = readVariable(env, "MATRIX_HOMESERVER_URL")?.replace(/\/+$/, "");
  if (configured === undefined) {
    io.out(`The bot takes the homeserver (${credentials.homeserverUrl}) from there too: MATRIX_HOMESERVER_URL may stay unset.`);
  } else if (configured !== credentials.homeserverUrl) {
    io.out(`MATRIX_HOMESERVER_URL is ${configured}: set it to ${credentials.homeserverUrl} (or remove it) in .env; ` +
      "the bot uses these credentials only for the homeserver they were saved for.");
  }
  if (readVariable(env, "MATRIX_ACCESS_TOKEN") !== undefined) {
    io.out("MATRIX_ACCESS_TOKEN is set, and it takes precedence over credentials.json: remove it from the environment and .env.");
  }
  if (readVariable(env, "MATRIX_REGISTRATION") !== undefined && readVariable(env, "MATRIX_MODE")?.toLowerCase() !== "client") {
    io.out("MATRIX_REGISTRATION is set, so the bot would start in appservice mode: set MATRIX_MODE=client to use this account.");
  }
  io.out("Next: npm run doctor, then npm start.");
}

function reportLoginFailure(error: unknown, io: CliIo): number {
  if (isUsageError(error)) {
    io.err(`login: ${firstLine(error)}`);
    io.err("");
    io.err(LOGIN_USAGE);
    return EXIT.usage;
  }
  if (error instanceof UnreachableError) {
    io.err(`login: ${error.what}. Fix: ${error.fix}.`);
    return EXIT.failed;
  }
  if (error instanceof PromptCancelled) {
    io.err(`login: ${error.message}`);
    return EXIT.failed;
  }
  io.err(`login: ${error instanceof CliFailure ? error.message : firstLine(error)}`);
  return EXIT.failed;
}

if (require.main === module) {
  process.umask(PRIVATE_UMASK); // files it writes (credentials, registration, store copies) are its user's only
  loadDotEnv(process.cwd(), (file) => process.loadEnvFile(file));
  const prompter = process.stdin.isTTY === true ? terminalPrompter(process.stdin, process.stdout) : pipedPrompter(process.stdin);
  void runLogin(process.argv.slice(2), processIo(process.stdout, process.stderr), { env: process.env, cwd: process.cwd(), prompter })
    .then((code) => {
      process.exitCode = code;
    });
}

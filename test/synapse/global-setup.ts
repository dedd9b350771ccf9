// Once per `npm run test:synapse`: a fresh Synapse on a free port with the bot's appservice registration exactly as
// `npm run register` writes it, and the users the scenarios need (register.sh); alongside, the second start: a
// Synapse with its own rate limits (SYNAPSE_RATE_LIMITS=default) for rate-limits.test.ts. Both start at once (the
// slow part of a start, installing Synapse into its fresh STATE, overlaps). A Synapse that does not come up fails the
// tier here, with its log's tail. Both are stopped by global-teardown.ts, or by the exit hooks (stopOnExit) when the
// run ends early (Ctrl-C, a crash): none stays running.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { ROOT } from "../support/bot-harness";
import { RUN_ENV, type RunUser, type SecondSynapse, type SynapseRun } from "./support/run";
import { registerUsers, startSynapse, stopOnExit, synapseDir, type SynapseServer } from "./support/synapse";

/** `npm run register` as an operator runs it (the built CLI). */
function writeRegistration(out: string, asPort: number, extra: string[] = []): Promise<void> {
  const cli = path.join(ROOT, "dist", "src", "cli", "register.js");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, "--server-name", "localhost", "--url", `http://127.0.0.1:${asPort}`, "--out", out, ...extra],
      { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`npm run register failed (${code}): ${stderr}`))));
  });
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const seconds = (since: number): string => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** Starts Synapse and makes the users (password → register.sh), reporting how long each part took. */
async function startWithUsers<N extends string>(what: string, opts: Parameters<typeof startSynapse>[0], names: readonly N[], admins: readonly N[] = []):
  Promise<{ server: SynapseServer; users: Record<N, RunUser> }> {
  const started = Date.now();
  const server = await startSynapse(opts);
  process.stdout.write(`\n${what}: Synapse 1.67 up on ${server.url} in ${seconds(started)} (STATE ${server.state})\n`);
  const passwords = Object.fromEntries(names.map((n) => [n, `pw-${randomBytes(9).toString("base64url")}`])) as Record<N, string>;
  const registering = Date.now();
  const tokens = await registerUsers(server, names.map((name) => ({ name, password: passwords[name], admin: admins.includes(name) })));
  process.stdout.write(`${what}: ${names.length} users made with register.sh in ${seconds(registering)}\n`);
  const users = Object.fromEntries(names.map((n) => [n, { userId: `@${n}:localhost`, password: passwords[n], accessToken: tokens[n] }]));
  return { server, users: users as Record<N, RunUser> };
}

/**
 * Resolves once start.sh is past its first step for `state` (installing the Debian packages, on first use on a
 * machine: it then unpacks Synapse into STATE/src), or has ended, or at once when STATE/venv is there before it
 * (the cached install: the packages were installed with it). Two apt-get runs at once fail on dpkg's lock, so the
 * second start waits for this.
 */
async function pastPackageStep(state: string, start: Promise<unknown>): Promise<void> {
  let ended = false;
  start.then(() => (ended = true), () => (ended = true));
  while (!ended && !existsSync(path.join(state, "src")) && !existsSync(path.join(state, "venv"))) await delay(200);
}

/**
 * Ports free now, distinct from each other, and below the kernel's ephemeral range: they are fixed for the whole run
 * (Synapse's listeners, the appservice listeners its registrations name), and a port the kernel hands out for a
 * bind to port 0 (the bot's HTTP server, an agent, a client) could otherwise be one of them by then.
 */
async function freePorts(count: number): Promise<number[]> {
  const range = "/proc/sys/net/ipv4/ip_local_port_range";
  const [ephemeralLow = 32768] = existsSync(range) ? readFileSync(range, "utf8").trim().split(/\s+/).map(Number) : [];
  const low = 20_000, high = Math.max(low + 1_000, ephemeralLow);
  const ports = new Set<number>();
  while (ports.size < count) {
    const port = low + randomBytes(2).readUInt16BE(0) % (high - low);
    if (!ports.has(port) && (await bindable(port))) ports.add(port);
  }
  return [...ports];
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

export default async function globalSetup(): Promise<void> {
  synapseDir(); // fails at once, clearly, when the scripts are not there
  const root = mkdtempSync(path.join(tmpdir(), "mab-synapse-"));
  stopOnExit(root);
  const [asPort = 0, port = 0, secondPort = 0, e2eeAsPort = 0, promptAsPort = 0] = await freePorts(5);
  const registrationPath = path.join(root, "registration.yaml");
  await writeRegistration(registrationPath, asPort);
  // A second appservice for the encrypted appservice scenario (e2ee-appservice.test.ts): its own user namespace,
  // listener and Synapse backoff, so it runs beside appservice.test.ts and is not held up by that file's SIGKILLs.
  const e2eeRegistrationPath = path.join(root, "registration-e2ee.yaml");
  await writeRegistration(e2eeRegistrationPath, e2eeAsPort, ["--localpart", "cryptoagent", "--id", "cryptoagent"]);
  // A third, for the prompts in appservice mode (prompts-appservice.test.ts), for the same reason.
  const promptRegistrationPath = path.join(root, "registration-prompts.yaml");
  await writeRegistration(promptRegistrationPath, promptAsPort, ["--localpart", "promptagent", "--id", "promptagent"]);
  const mainState = path.join(root, "hs");
  const starting = startWithUsers("main", { state: mainState, port, registrations: [registrationPath, e2eeRegistrationPath, promptRegistrationPath] },
    ["alice", "bob", "clientbot", "cryptobot", "threadbot", "agentsbot", "trustbot", "promptbot", "mod"] as const, ["alice"] as const);
  await pastPackageStep(mainState, starting);
  const startingSecond = startWithUsers("second start (SYNAPSE_RATE_LIMITS=default)",
    { state: path.join(root, "hs-default-limits"), port: secondPort, registrations: [], rateLimits: "default" },
    ["limitbot", "alice"] as const);
  // Both starts run to their end before a failure is reported, so that the exit hooks find and stop both.
  const [main, second] = await Promise.allSettled([starting, startingSecond]);
  if (main.status === "rejected") throw main.reason;
  if (second.status === "rejected") throw second.reason;
  type Registration = { as_token: string; hs_token: string; sender_localpart: string };
  const registration = parse(readFileSync(registrationPath, "utf8")) as Registration;
  const e2ee = parse(readFileSync(e2eeRegistrationPath, "utf8")) as Registration;
  const prompts = parse(readFileSync(promptRegistrationPath, "utf8")) as Registration;
  const defaultLimits: SecondSynapse = { url: second.value.server.url, port: secondPort, state: second.value.server.state, users: second.value.users };
  const run: SynapseRun = {
    root, state: main.value.server.state, port, url: main.value.server.url, registrationPath, asPort,
    asToken: registration.as_token, hsToken: registration.hs_token,
    appserviceUserId: `@${registration.sender_localpart}:localhost`,
    e2eeAppservice: { registrationPath: e2eeRegistrationPath, asPort: e2eeAsPort, asToken: e2ee.as_token, hsToken: e2ee.hs_token,
      userId: `@${e2ee.sender_localpart}:localhost` },
    promptAppservice: { registrationPath: promptRegistrationPath, asPort: promptAsPort, asToken: prompts.as_token, hsToken: prompts.hs_token,
      userId: `@${prompts.sender_localpart}:localhost` },
    users: main.value.users, defaultLimits,
    latencyFile: path.join(root, "latency.jsonl"),
  };
  const runFile = path.join(root, "run.json");
  writeFileSync(runFile, JSON.stringify(run, null, 2), { mode: 0o600 });
  process.env[RUN_ENV] = runFile;
}

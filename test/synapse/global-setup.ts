// Once per `npm run test:synapse`: a fresh Synapse on a free port with the bot's appservice registration exactly as
// `npm run register` writes it, and the users the scenarios need (register.sh). A Synapse that does not come up
// fails the tier here, with its log's tail. Synapse is stopped by global-teardown.ts, or by the exit hooks (stopOnExit)
// when the run ends early (Ctrl-C, a crash): it never stays running.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { freePort, ROOT } from "../support/bot-harness";
import { RUN_ENV, type RunUser, type SynapseRun } from "./support/run";
import { registerUsers, startSynapse, stopOnExit, synapseDir } from "./support/synapse";

/** `npm run register` as an operator runs it (the built CLI). */
function writeRegistration(out: string, asPort: number): Promise<void> {
  const cli = path.join(ROOT, "dist", "src", "cli", "register.js");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, "--server-name", "localhost", "--url", `http://127.0.0.1:${asPort}`, "--out", out],
      { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`npm run register failed (${code}): ${stderr}`))));
  });
}

export default async function globalSetup(): Promise<void> {
  synapseDir(); // fails at once, clearly, when the scripts are not there
  const root = mkdtempSync(path.join(tmpdir(), "mab-synapse-"));
  const state = path.join(root, "hs");
  const registrationPath = path.join(root, "registration.yaml");
  const asPort = await freePort();
  let port = await freePort();
  while (port === asPort) port = await freePort();
  await writeRegistration(registrationPath, asPort);
  stopOnExit({ root });
  const started = Date.now();
  const server = await startSynapse({ state, port, registrations: [registrationPath] });
  process.stdout.write(`\nSynapse 1.67 up on ${server.url} in ${((Date.now() - started) / 1000).toFixed(1)} s (STATE ${state})\n`);

  const names = ["alice", "bob", "clientbot", "cryptobot"] as const;
  const passwords = Object.fromEntries(names.map((n) => [n, `pw-${randomBytes(9).toString("base64url")}`])) as Record<(typeof names)[number], string>;
  const registering = Date.now();
  const tokens = await registerUsers(server, names.map((name) => ({ name, password: passwords[name], admin: name === "alice" })));
  process.stdout.write(`${names.length} users made with register.sh in ${((Date.now() - registering) / 1000).toFixed(1)} s\n`);
  const users = Object.fromEntries(names.map((n) => [n, { userId: `@${n}:localhost`, password: passwords[n], accessToken: tokens[n] }])) as
    Record<(typeof names)[number], RunUser>;
  const registration = parse(readFileSync(registrationPath, "utf8")) as { as_token: string; hs_token: string; sender_localpart: string };
  const run: SynapseRun = {
    root, state, port, url: server.url, registrationPath, asPort,
    asToken: registration.as_token, hsToken: registration.hs_token,
    appserviceUserId: `@${registration.sender_localpart}:localhost`,
    users,
    latencyFile: path.join(root, "latency.jsonl"),
  };
  const runFile = path.join(root, "run.json");
  writeFileSync(runFile, JSON.stringify(run, null, 2), { mode: 0o600 });
  process.env[RUN_ENV] = runFile;
}

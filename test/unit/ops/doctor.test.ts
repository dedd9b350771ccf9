// `npm run doctor` on good and broken setups: one line per check, the fix under every ✗, exit 0 only when
// everything passes, and no secret in its output.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import pino from "pino";
import { parse, stringify } from "yaml";
import { startReferenceAgent, type ReferenceAgent } from "../../../src/reference-agent/server";
import { makeDataDir, removeDir } from "../../support/bot-harness";
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { expectNoSecrets, runCli, type CliRun } from "./support";

function line(run: CliRun, check: string): string {
  const found = run.stdout.split("\n").find((l) => new RegExp(`^[✓✗–] ${check}:`).test(l));
  if (found === undefined) throw new Error(`no line for ${check} in:\n${run.stdout}\n${run.stderr}`);
  return found;
}

function fixAfter(run: CliRun, check: string): string {
  const lines = run.stdout.split("\n");
  const index = lines.indexOf(line(run, check));
  return lines.slice(index + 1).find((l) => l.startsWith("    fix: ")) ?? "";
}

describe("npm run doctor", () => {
  let hs: Homeserver;
  let dir: string;
  let agent: ReferenceAgent | undefined;
  beforeEach(async () => {
    hs = await startHomeserver({ serverName: "localhost" });
    dir = makeDataDir();
  });
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
    await hs.close();
    removeDir(dir);
  });

  const doctor = (env: Record<string, string>) => runCli("doctor", ["--timeout-ms", "3000"], { cwd: dir, env });

  it("passes every check in client mode with the embedded agent, and exits 0", async () => {
    const bot = hs.addUser("bot");
    const run = await doctor({ MATRIX_HOMESERVER_URL: hs.url, MATRIX_ACCESS_TOKEN: bot.accessToken, DATA_DIR: dir });
    expect(run.code).toBe(0);
    for (const check of ["configuration", "homeserver", "token", "agent", "store", "crypto"]) expect(line(run, check)).toMatch(/^✓/);
    expect(line(run, "token")).toContain("@bot:localhost");
    expect(line(run, "agent")).toContain("embedded reference agent");
    expect(line(run, "crypto")).toContain("encryption off");
    expect(run.stdout).toContain("All checks passed.");
    expectNoSecrets(run, [bot.accessToken]);
  });

  it("passes in appservice mode with a registration from npm run register and an external agent", async () => {
    const reg = await runCli("register", ["--server-name", "localhost", "--out", "registration.yaml"], { cwd: dir });
    expect(reg.code).toBe(0);
    const file = path.join(dir, "registration.yaml");
    const registration = parse(readFileSync(file, "utf8")) as { as_token: string; hs_token: string };
    hs.addAppservice(parse(readFileSync(file, "utf8")));
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token: "agent-secret-1", logger: pino({ level: "silent" }) });
    const run = await doctor({ MATRIX_HOMESERVER_URL: hs.url, MATRIX_REGISTRATION: file, DATA_DIR: dir,
      AGENT_URL: agent.url, AGENT_TOKEN: "agent-secret-1" });
    expect(run.stdout).toContain("✓ configuration: appservice mode");
    expect(line(run, "token")).toContain("@agentbot:localhost");
    expect(line(run, "agent")).toMatch(/^✓ agent: ws:\/\/127\.0\.0\.1:\d+ answered hello with ready/);
    expect(run.code).toBe(0);
    expectNoSecrets(run, [registration.as_token, registration.hs_token, "agent-secret-1"]);
  });

  it.each([
    ["covers", false],
    ["is narrower than", true],
  ])("appservice mode with named agents: says whether the registration's users namespace %s the agents' own users", async (_label, narrow) => {
    const reg = await runCli("register", ["--server-name", "localhost", "--out", "registration.yaml"], { cwd: dir });
    expect(reg.code).toBe(0);
    const file = path.join(dir, "registration.yaml");
    const registration = parse(readFileSync(file, "utf8")) as { namespaces: { users: Array<{ regex: string }> } };
    if (narrow) {
      registration.namespaces.users = registration.namespaces.users.filter((u) => !u.regex.includes("_"));
      writeFileSync(file, stringify(registration));
    }
    hs.addAppservice(parse(readFileSync(file, "utf8")));
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token: "agent-secret-1", logger: pino({ level: "silent" }) });
    const agents = path.join(dir, "agents.yaml");
    writeFileSync(agents, `agents:\n  coder:\n    url: ${agent.url}\n    token: agent-secret-1\n    displayName: Coder\n`);
    const run = await doctor({ MATRIX_HOMESERVER_URL: hs.url, MATRIX_REGISTRATION: file, DATA_DIR: dir, AGENTS_FILE: agents });
    if (!narrow) {
      expect(line(run, "agent users")).toBe("✓ agent users: the registration's users namespace covers @agentbot_coder:localhost");
      expect(run.code).toBe(0);
      return;
    }
    expect(line(run, "agent users")).toBe("✗ agent users: the registration's users namespace is narrower than the agents' own users: " +
      "it does not cover @agentbot_coder:localhost");
    expect(fixAfter(run, "agent users")).toContain("run `npm run register` again (it reserves @agentbot_*)");
    expect(run.code).toBe(1);
  });

  it("shows ✗ with the fix for a rejected token and a refused agent token, and exits 1", async () => {
    hs.addUser("bot");
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token: "the-agents-token", logger: pino({ level: "silent" }) });
    const run = await doctor({ MATRIX_HOMESERVER_URL: hs.url, MATRIX_ACCESS_TOKEN: "syt_not_a_valid_token", DATA_DIR: dir,
      AGENT_URL: agent.url, AGENT_TOKEN: "a-wrong-agent-token" });
    expect(run.code).toBe(1);
    expect(line(run, "homeserver")).toMatch(/^✓/);
    expect(line(run, "token")).toBe("✗ token: the homeserver rejected MATRIX_ACCESS_TOKEN (M_UNKNOWN_TOKEN)");
    expect(fixAfter(run, "token")).toContain("npm run login");
    expect(line(run, "agent")).toContain("✗ agent: the agent refused the token (HTTP 401)");
    expect(fixAfter(run, "agent")).toContain("AGENT_TOKEN");
    expect(line(run, "store")).toMatch(/^✓/);
    expect(run.stdout).toContain("2 checks failed.");
    expectNoSecrets(run, ["syt_not_a_valid_token", "a-wrong-agent-token", "the-agents-token"]);
  });

  it("names an unreachable homeserver and agent, and skips the token check", async () => {
    const url = hs.url;
    await hs.close();
    const run = await doctor({ MATRIX_HOMESERVER_URL: url, MATRIX_ACCESS_TOKEN: "syt_x", DATA_DIR: dir, AGENT_URL: "ws://127.0.0.1:1" });
    expect(run.code).toBe(1);
    expect(line(run, "homeserver")).toContain("connection refused");
    expect(fixAfter(run, "homeserver")).toContain("MATRIX_HOMESERVER_URL");
    expect(line(run, "token")).toMatch(/^– token: /);
    expect(line(run, "agent")).toContain("connection refused");
    expect(fixAfter(run, "agent")).toContain("npm run agent");
  });

  it("lists every configuration problem, skips the rest, and asks for CRYPTO_PASSPHRASE with MATRIX_E2EE=true", async () => {
    const broken = await doctor({ MATRIX_MODE: "sideways", HTTP_BIND: "nowhere", DATA_DIR: dir });
    expect(broken.code).toBe(1);
    expect(line(broken, "configuration")).toMatch(/^✗ configuration: \d+ problems/);
    expect(broken.stdout).toContain("    MATRIX_HOMESERVER_URL: ");
    expect(broken.stdout).toContain("    MATRIX_MODE: ");
    expect(broken.stdout).toContain("    HTTP_BIND: ");
    expect(line(broken, "store")).toMatch(/^– store: /);

    const bot = hs.addUser("bot");
    const e2ee = await doctor({ MATRIX_HOMESERVER_URL: hs.url, MATRIX_ACCESS_TOKEN: bot.accessToken, DATA_DIR: dir, MATRIX_E2EE: "true" });
    expect(e2ee.code).toBe(1);
    expect(e2ee.stdout).toContain("    CRYPTO_PASSPHRASE: ");
    expect(line(e2ee, "crypto")).toMatch(/^– crypto: /);
  });

  it("reports a store it cannot open", async () => {
    const bot = hs.addUser("bot");
    const run = await doctor({ MATRIX_HOMESERVER_URL: hs.url, MATRIX_ACCESS_TOKEN: bot.accessToken, DATA_DIR: dir,
      STORE_URL: "postgres://bot:pg-secret@127.0.0.1:1/bot" });
    expect(run.code).toBe(1);
    expect(line(run, "store")).toMatch(/^✗ store: /);
    expect(run.stdout).toMatch(/@keyv\/postgres|database server/);
    expectNoSecrets(run, ["pg-secret"]);
  });
});

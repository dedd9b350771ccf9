// Every configured agent's link, shown: /readyz lists each agent's state (only the global default's decides
// readiness), and /status in a room lists them all and which one answers there.
import * as net from "node:net";
import { startAguiHttpAgent } from "../../support/agui-http-agent";
import { Scenario } from "../../support/scenario";
import { startScriptedAgent } from "../../support/scripted-agent";
import { waitFor } from "../../support/wait";
import { agentsFile, stopAgentsWorld } from "./support";

let s: Scenario | undefined;
afterEach(async () => {
  await stopAgentsWorld(s);
  s = undefined;
});

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

it("/readyz and /status show every agent's link; an agent other than the global default that is down does not make the bot unready", async () => {
  const ws = await startScriptedAgent({ protocol: 2, onFrame: (conn, f) => f.op === "run" && conn.answer(String(f.runId), "hi") });
  const http = await startAguiHttpAgent();
  const file = agentsFile(`agents:\n  coder:\n    url: ${http.url}\n  helper:\n    url: ws://127.0.0.1:${await closedPort()}/agent\n`);
  const w = s = await Scenario.start({ mode: "client", env: { AGENT_URL: ws.url, AGENTS_FILE: file } });
  const roomId = await w.openDm();
  await w.alice.sendText(roomId, "/agent coder");
  await w.waitBotMessages(roomId, 1, "the /agent reply");

  const readyz = async () => {
    const res = await fetch(`http://127.0.0.1:${w.bot.app.httpPort}/readyz`);
    return { status: res.status, body: await res.json() as { agents?: Record<string, string>; checks: { agent: { ok: boolean; detail: string } } } };
  };
  const report = await waitFor(async () => {
    const r = await readyz();
    return r.status === 200 && r.body.agents?.["helper"] !== "connecting" ? r : undefined;
  }, { what: "/readyz: ready, helper's first attempt over" });
  expect(report.body.agents).toEqual({ default: "up", coder: "up", helper: "down" });
  expect(report.body.checks.agent).toEqual({ ok: true, detail: "the agent link is up; of the other agents, helper is down" });

  await w.alice.sendText(roomId, "/status");
  const [, status] = await w.waitBotMessages(roomId, 2, "the /status reply");
  // helper keeps retrying: between two attempts it is down, during one connecting.
  expect(String(status?.content["body"])).toMatch(/^Agents: default up, coder up \(answers here\), helper (down|connecting)\.$/m);
});

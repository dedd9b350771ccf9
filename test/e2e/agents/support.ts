// Shared by the named-agents end-to-end tests: an agents file, and the teardown of a world with several agents.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { aguiHttpAgents } from "../../support/agui-http-agent";
import type { Scenario } from "../../support/scenario";
import { closeScriptedAgents } from "../../support/scripted-agent";

/** Writes `yaml` as an AGENTS_FILE in a fresh directory; returns its path. */
export function agentsFile(yaml: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "mab-agents-")), "agents.yaml");
  writeFileSync(file, yaml);
  return file;
}

/** Stops the bot (when started), every scripted WebSocket agent and every AG-UI HTTP test agent. */
export async function stopAgentsWorld(s: Scenario | undefined): Promise<void> {
  await s?.stop();
  await closeScriptedAgents();
  await Promise.all(aguiHttpAgents.splice(0).map((a) => a.close()));
}

// Stops this run's Synapse (and a second one a test file may have left) and removes the run's temp directory
// (SYNAPSE_KEEP_STATE=1 keeps it, logs included).
import { rmSync } from "node:fs";
import { RUN_ENV, synapseRun } from "./support/run";
import { stopAllUnder, stopSynapse } from "./support/synapse";

export default async function globalTeardown(): Promise<void> {
  if (process.env[RUN_ENV] === undefined) return; // the setup failed before there was anything to stop
  const run = synapseRun();
  await stopSynapse(run);
  stopAllUnder(run.root);
  if (process.env["SYNAPSE_KEEP_STATE"] === "1") process.stdout.write(`Synapse's STATE kept in ${run.state}\n`);
  else rmSync(run.root, { recursive: true, force: true });
}

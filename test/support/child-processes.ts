// Child processes of the tests. Each runs in a process group of its own (detached), and is stopped by signalling
// the whole group, so that what it started goes too (npm → its shell → the bot). Every group is registered with
// the test environment (test/support/jest-environment.js), which kills what is left when the test file ends: a
// test that timed out never reaches its own cleanup. Children get a fixed environment (nothing inherited but
// PATH) from the caller, and never the project root as their working folder unless asked: the user's .env and
// data/ live there.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { readFileSync } from "node:fs";

/** Registered process groups: the test environment's set under jest, else one of our own reaped at exit. */
function registry(): Set<number> {
  const holder = globalThis as { __mabChildGroups?: Set<number> };
  if (!holder.__mabChildGroups) {
    const own = new Set<number>();
    holder.__mabChildGroups = own;
    process.on("exit", () => {
      for (const pgid of own) signalGroup(pgid, "SIGKILL");
    });
  }
  return holder.__mabChildGroups;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // the group is gone
  }
}

/** spawn() in a new process group, registered for the safety net. */
export function spawnGroup(command: string, args: readonly string[], options: Omit<SpawnOptions, "detached">): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  if (child.pid !== undefined) registry().add(child.pid);
  return child;
}

/** Sends `signal` to the child's whole process group (falls back to the child alone if the group is gone). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): void {
  if (child.pid === undefined) return;
  if (!signalGroup(child.pid, signal) && child.exitCode === null && child.signalCode === null) child.kill(signal);
}

/** Whether a process with this pid is alive (not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc: kill(0) said it exists
  }
}

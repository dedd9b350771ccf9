// Synapse installed once per machine, not once per run: start.sh installs Synapse from its tarball into each fresh
// STATE (pip; half a minute or more on a busy machine, for each of the run's two starts). The first successful start's
// venv is copied to a cache keyed by the tarball and the system Python; later starts find STATE/venv there already (a
// symlink to the cache), which start.sh takes as installed. SYNAPSE_VENV_CACHE=off turns it off; deleting the
// directory (~/.cache/matrix-agent-bot/synapse-venv-*) makes the next run install afresh.
import { createHash } from "node:crypto";
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";

const SYSTEM_PYTHON = "/usr/bin/python3";

/** The cached venv for the Synapse tarball in `synapseDir`, or undefined (turned off, no tarball, no Python yet). */
export function cachedVenvPath(synapseDir: string): string | undefined {
  if (process.env["SYNAPSE_VENV_CACHE"] === "off" || !existsSync(SYSTEM_PYTHON)) return undefined;
  const tarball = readdirSync(synapseDir).find((f) => /^synapse-.*\.tar\.gz$/.test(f));
  if (tarball === undefined) return undefined;
  const key = createHash("sha256").update(readFileSync(path.join(synapseDir, tarball))).update(realpathSync(SYSTEM_PYTHON))
    .digest("hex").slice(0, 16);
  const base = process.env["XDG_CACHE_HOME"] || path.join(homedir(), ".cache");
  return path.join(base, "matrix-agent-bot", `synapse-venv-${key}`);
}

/** Before start.sh: STATE/venv points at the cached venv when there is one. */
export function useCachedVenv(synapseDir: string, state: string): void {
  const cached = cachedVenvPath(synapseDir);
  if (cached === undefined || !existsSync(path.join(cached, "bin", "synapse_homeserver"))) return;
  mkdirSync(state, { recursive: true });
  if (!existsSync(path.join(state, "venv"))) symlinkSync(cached, path.join(state, "venv"), "dir");
}

/**
 * After start.sh succeeded: keeps a copy of the venv it installed into STATE (unless cached already). The copy's
 * scripts (register_new_matrix_user, …) name their interpreter by absolute path: rewritten to the cache's.
 */
export function cacheVenv(synapseDir: string, state: string): void {
  const cached = cachedVenvPath(synapseDir);
  const venv = path.join(state, "venv");
  if (cached === undefined || existsSync(cached) || !existsSync(venv) || lstatSync(venv).isSymbolicLink()) return;
  mkdirSync(path.dirname(cached), { recursive: true });
  const tmp = `${cached}.tmp-${process.pid}`;
  try {
    cpSync(venv, tmp, { recursive: true, verbatimSymlinks: true });
    const from = `#!${venv}/bin/`;
    for (const name of readdirSync(path.join(tmp, "bin"))) {
      const file = path.join(tmp, "bin", name);
      if (lstatSync(file).isSymbolicLink()) continue;
      const text = readFileSync(file, "latin1");
      if (text.startsWith(from)) writeFileSync(file, `#!${cached}/bin/${text.slice(from.length)}`, "latin1");
    }
    renameSync(tmp, cached); // another run may have been quicker: then this copy is dropped
  } catch {
    // a cache is an optimisation: the next run installs into its STATE again
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

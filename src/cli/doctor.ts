// `npm run doctor`: checks the configuration (environment and .env), the homeserver, the token, the agent, the
// store and crypto, one line each (✓ or ✗, and for ✗ the fix). Exit code 0 when every check passes, else 1.
import { EXIT, firstLine, isUsageError, loadDotEnv, parseCommandLine, processIo, UsageError, type CliIo } from "./cli-support";
import { runDoctorChecks, type CheckResult } from "./doctor-checks";
import type { Env } from "../config";
import { PRIVATE_UMASK } from "../util/private-files";

export const DOCTOR_USAGE = `Usage: npm run doctor -- [--timeout-ms 5000]

Checks what matrix-agent-bot needs, with the same environment (and .env) as \`npm start\`:
configuration, homeserver reachable, token valid, agent handshake, store read/write, crypto.

  --timeout-ms <ms>  how long each network check may take (default 5000)
  --help             show this text`;

/** Identifies the doctor's connection in the agent's log. */
export const DOCTOR_CLIENT_NAME = "matrix-agent-bot/0.1.0";

const MARK: Record<CheckResult["status"], string> = { pass: "✓", fail: "✗", skip: "–" };

export function formatCheck(result: CheckResult): string[] {
  const lines = [`${MARK[result.status]} ${result.name}: ${result.detail}`];
  for (const line of result.more ?? []) lines.push(`    ${line}`);
  if (result.status === "fail" && result.fix !== undefined) lines.push(`    fix: ${result.fix}`);
  return lines;
}

export async function runDoctor(argv: string[], io: CliIo, env: Env): Promise<number> {
  let timeoutMs: number;
  try {
    const values = parseCommandLine(argv, { "timeout-ms": { type: "string", default: "5000" } }, DOCTOR_USAGE, io);
    if (values === undefined) return EXIT.ok;
    timeoutMs = Number(values["timeout-ms"]);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError("--timeout-ms must be a positive whole number");
  } catch (error) {
    if (!isUsageError(error)) throw error;
    io.err(`doctor: ${firstLine(error)}`);
    io.err("");
    io.err(DOCTOR_USAGE);
    return EXIT.usage;
  }
  io.out("matrix-agent-bot doctor");
  const results = await runDoctorChecks(env, { timeoutMs, clientName: DOCTOR_CLIENT_NAME }, (result) => {
    for (const line of formatCheck(result)) io.out(line);
  });
  const failed = results.filter((r) => r.status === "fail").length;
  const skipped = results.filter((r) => r.status === "skip").length;
  if (failed === 0 && skipped === 0) {
    io.out("All checks passed.");
    return EXIT.ok;
  }
  io.out(`${failed} check${failed === 1 ? "" : "s"} failed${skipped > 0 ? `, ${skipped} skipped` : ""}.`);
  return EXIT.failed;
}

if (require.main === module) {
  process.umask(PRIVATE_UMASK); // files it writes (credentials, registration, store copies) are its user's only
  loadDotEnv(process.cwd(), (file) => process.loadEnvFile(file));
  const io = processIo(process.stdout, process.stderr);
  runDoctor(process.argv.slice(2), io, process.env).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      io.err(`doctor: ${firstLine(error)}`);
      process.exitCode = EXIT.failed;
    },
  );
}

// Prints, after the run, the Synapse tier's scenarios with pass/fail and timings, and the latency figures the
// scenarios recorded (JSON lines in the run's latency file): for the record, never asserted.
const { existsSync, readFileSync } = require("node:fs");

const seconds = (ms) => `${((ms ?? 0) / 1000).toFixed(1)} s`;
const MARK = { passed: "✓", failed: "✗", pending: "-", skipped: "-", todo: "-", disabled: "-" };

class SynapseSummaryReporter {
  onRunComplete(_contexts, results) {
    const out = ["", "Synapse tier: scenarios"];
    for (const file of results.testResults) {
      for (const t of file.testResults) out.push(`  ${MARK[t.status] ?? "?"} ${t.fullName}  (${seconds(t.duration)})`);
      if (file.testExecError) out.push(`  ✗ ${file.testFilePath}: ${String(file.testExecError.message).split("\n")[0]}`);
    }
    out.push(`  ${results.numPassedTests} passed, ${results.numFailedTests} failed, in ${seconds(Date.now() - results.startTime)}`);
    if (results.numFailedTests > 0 || results.numRuntimeErrorTestSuites > 0) {
      out.push(process.env.SYNAPSE_KEEP_STATE === "1"
        ? "  Synapse's log (<STATE>/homeserver.log) and the bot processes' output (bot-logs/) are kept in the run's directory."
        : "  For Synapse's log and the bot processes' output, run again with SYNAPSE_KEEP_STATE=1 (kept in the run's directory).");
    }
    const latencyFile = latencyFilePath();
    if (latencyFile && existsSync(latencyFile)) {
      out.push("", "Synapse tier: latency, Alice's client from send to seeing the answer (not asserted)");
      for (const line of readFileSync(latencyFile, "utf8").split("\n").filter(Boolean)) {
        const r = JSON.parse(line);
        out.push(`  latency ${r.mode} mode: ${r.turns} sequential DM turns, p50 ${r.p50} ms, p90 ${r.p90} ms, max ${r.max} ms`);
      }
    }
    process.stdout.write(`${out.join("\n")}\n`);
  }
}

function latencyFilePath() {
  const runFile = process.env.MAB_SYNAPSE_RUN;
  if (!runFile || !existsSync(runFile)) return undefined;
  return JSON.parse(readFileSync(runFile, "utf8")).latencyFile;
}

module.exports = SynapseSummaryReporter;

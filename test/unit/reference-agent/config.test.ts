// The reference agent's own tunables: LLM_TIMEOUT_MS, LLM_HISTORY_MAX_CHARS, PROACTIVE_NOOP_MARKER, and a
// PROACTIVE_SCHEDULE that croner must accept (with PROACTIVE_PROMPT beside it).
import { AGENT_ENV_VARIABLES, loadAgentConfig } from "../../../src/reference-agent/config";

test("the new variables are read and listed", () => {
  const result = loadAgentConfig({
    LLM_TIMEOUT_MS: "1500", LLM_HISTORY_MAX_CHARS: "9000", PROACTIVE_SCHEDULE: "*/30 * * * * *",
    PROACTIVE_PROMPT: "Anything?", PROACTIVE_NOOP_MARKER: "NOOP",
  });
  if (!result.ok) throw new Error(result.message);
  expect(result.config.llm).toMatchObject({ timeoutMs: 1500, historyMaxChars: 9000 });
  expect(result.config.proactive).toEqual({ schedule: "*/30 * * * * *", prompt: "Anything?", noopMarker: "NOOP" });
  expect(AGENT_ENV_VARIABLES).toEqual(expect.arrayContaining(["LLM_TIMEOUT_MS", "LLM_HISTORY_MAX_CHARS", "PROACTIVE_NOOP_MARKER"]));
});

test("bad values are reported together, each with a fix", () => {
  const result = loadAgentConfig({ LLM_TIMEOUT_MS: "soon", LLM_HISTORY_MAX_CHARS: "0", PROACTIVE_SCHEDULE: "every morning" });
  if (result.ok) throw new Error("expected problems");
  expect(result.problems.map((p) => p.variable)).toEqual(["LLM_TIMEOUT_MS", "LLM_HISTORY_MAX_CHARS", "PROACTIVE_SCHEDULE"]);
  expect(result.message).toMatch(/PROACTIVE_SCHEDULE: "every morning" is not a cron pattern.*Fix: set PROACTIVE_SCHEDULE to 5 cron fields/);
});

test("a schedule without a prompt is a problem", () => {
  const result = loadAgentConfig({ PROACTIVE_SCHEDULE: "0 9 * * 1-5" });
  if (result.ok) throw new Error("expected a problem");
  expect(result.problems).toEqual([expect.objectContaining({ variable: "PROACTIVE_PROMPT" })]);
});

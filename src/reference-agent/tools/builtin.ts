// The reference agent's two built-in tools: `current_time` (now, in a time zone) and `calculator` (calculator.ts).
import { calculate } from "./calculator";
import type { AgentTool } from "./types";

function timeIn(now: Date, timeZone: string): string {
  const local = new Intl.DateTimeFormat("en-GB", { timeZone, dateStyle: "full", timeStyle: "long" }).format(now);
  return `${local} (${timeZone}); ISO 8601 UTC: ${now.toISOString()}`;
}

export function builtinTools(now: () => Date = () => new Date()): AgentTool[] {
  return [
    {
      name: "current_time",
      description: "The current date and time, in UTC or in the given IANA time zone (e.g. Europe/Berlin).",
      parameters: { type: "object", properties: { timezone: { type: "string", description: "IANA time zone name; default UTC" } } },
      async call(args) {
        const zone = typeof args["timezone"] === "string" && args["timezone"].trim() !== "" ? args["timezone"].trim() : "UTC";
        try {
          return { ok: true, content: timeIn(now(), zone) };
        } catch {
          return { ok: false, error: `unknown time zone "${zone.slice(0, 64)}"; use an IANA name such as Europe/Berlin` };
        }
      },
    },
    {
      name: "calculator",
      description: "Evaluates an arithmetic expression: + - * / % ^, parentheses, pi, e, sqrt, abs, round, floor, ceil, exp, ln, log10, sin, cos, tan, min, max, pow.",
      parameters: { type: "object", properties: { expression: { type: "string", description: "e.g. (17 + 5) * 3 / 2" } }, required: ["expression"] },
      async call(args) {
        const expression = args["expression"];
        if (typeof expression !== "string") return { ok: false, error: "expression must be a string, e.g. \"2 + 2\"" };
        try {
          return { ok: true, content: String(calculate(expression)) };
        } catch (err) {
          return { ok: false, error: err instanceof Error ? err.message : "not an arithmetic expression" };
        }
      },
    },
  ];
}

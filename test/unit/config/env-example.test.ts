import * as fs from "node:fs";
import * as path from "node:path";
import { ENV_VARIABLES } from "../../../src/config";
import { AGENT_ENV_VARIABLES } from "../../../src/reference-agent/config";

const example = fs.readFileSync(path.join(__dirname, "../../../.env.example"), "utf8");
const assignments = example
  .split("\n")
  .filter((line) => /^[A-Z0-9_]+=/.test(line))
  .map((line) => {
    const [name, ...rest] = line.split("=");
    return { name: name ?? "", value: rest.join("=") };
  });

describe(".env.example", () => {
  it.each([...new Set([...ENV_VARIABLES, ...AGENT_ENV_VARIABLES])])("lists %s with a comment above it", (name) => {
    const lines = example.split("\n");
    const index = lines.findIndex((line) => line.startsWith(`${name}=`));
    expect(index).toBeGreaterThan(0);
    expect(lines[index - 1]).toMatch(/^# \S/);
  });

  it("lists nothing the bot or the reference agent does not read", () => {
    const known = new Set([...ENV_VARIABLES, ...AGENT_ENV_VARIABLES]);
    expect(assignments.map((a) => a.name).filter((n) => !known.has(n))).toEqual([]);
  });

  it("fills in no value, secrets included", () => {
    expect(assignments.filter((a) => a.value !== "")).toEqual([]);
  });
});

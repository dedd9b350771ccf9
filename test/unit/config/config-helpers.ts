// Shared by the loadConfig tests.
import * as path from "node:path";
import type { Config, ConfigResult, LoadOptions } from "../../../src/config";

export const HS = "https://matrix.example.org";

export const REGISTRATION_YAML = `
id: agent-bot
url: http://127.0.0.1:9999
as_token: as-secret-token
hs_token: hs-secret-token
sender_localpart: agent
rate_limited: false
namespaces:
  users:
    - exclusive: true
      regex: "@agent_.*:example.org"
  aliases: []
  rooms: []
`;

/** In-memory files; paths are resolved like loadConfig resolves them. */
export function fakeFiles(files: Record<string, string>): LoadOptions {
  const byPath = new Map(Object.entries(files).map(([p, text]) => [path.resolve(p), text]));
  return {
    fileExists: (p) => byPath.has(p),
    readFile: (p) => {
      const text = byPath.get(p);
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: "ENOENT" });
      return text;
    },
  };
}

export const NO_FILES = fakeFiles({});

export function expectOk(result: ConfigResult): Config {
  if (!result.ok) throw new Error(`expected a valid configuration, got:\n${result.message}`);
  return result.config;
}

export function expectProblems(result: ConfigResult): { message: string; variables: string[] } {
  if (result.ok) throw new Error("expected configuration problems");
  expect(result.message).not.toMatch(/\n\s+at /); // no stack trace
  return { message: result.message, variables: result.problems.map((p) => p.variable) };
}

/** The line of the message about `variable`. */
export function lineAbout(message: string, variable: string): string {
  const line = message.split("\n").find((l) => l.startsWith(`${variable}:`));
  if (!line) throw new Error(`no line about ${variable} in:\n${message}`);
  return line;
}

export const clientEnv = { MATRIX_HOMESERVER_URL: HS, MATRIX_ACCESS_TOKEN: "syt_client_token" };


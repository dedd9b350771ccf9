// MCP_SERVERS: a JSON object naming each MCP server the reference agent may use, as MCP clients write it:
//   {"files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/srv/docs"]},
//    "search": {"url": "https://mcp.example.org/mcp", "headers": {"Authorization": "Bearer …"}}}
// A `command` server runs as a child process spoken to over stdio; a `url` server over streamable HTTP.
import { z } from "zod";

const serverName = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, { error: "server names are letters, digits, _ and -, at most 32" });

const stdioServer = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
});

const httpServer = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "url must be an http(s) URL" }),
  headers: z.record(z.string(), z.string()).optional(),
});

export const mcpServerSchema = z.union([stdioServer, httpServer], { error: "each server needs either command (stdio) or url (streamable HTTP)" });
export type McpServerConfig = z.infer<typeof mcpServerSchema>;

export const mcpServersVar: z.ZodType<Record<string, McpServerConfig>, string> = z.string().transform((value, ctx) => {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    ctx.addIssue({ code: "custom", message: "is not JSON" });
    return z.NEVER;
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    ctx.addIssue({ code: "custom", message: "is not a JSON object of servers" });
    return z.NEVER;
  }
  const badNames = Object.keys(raw).filter((name) => !serverName.safeParse(name).success);
  for (const name of badNames) {
    ctx.addIssue({ code: "custom", message: `names a server ${JSON.stringify(name.slice(0, 40))}: server names are letters, digits, _ and -, at most 32` });
  }
  const parsed = z.record(z.string(), mcpServerSchema).safeParse(raw);
  if (!parsed.success || badNames.length > 0) {
    for (const issue of parsed.error?.issues ?? []) {
      ctx.addIssue({ code: "custom", message: `${issue.path.length > 0 ? `at ${issue.path.join(".")}: ` : ""}${issue.message}` });
    }
    return z.NEVER;
  }
  return parsed.data;
});

/** Values that must never reach a log: header values and environment values given to servers. */
export function mcpSecrets(servers: Readonly<Record<string, McpServerConfig>>): string[] {
  return Object.values(servers).flatMap((s) => Object.values("url" in s ? s.headers ?? {} : s.env ?? {})).filter((v) => v.length >= 4);
}

/** MCP_TOOLS_ALLOW: comma-separated globs over `<server>.<tool>` (`*` matches any run of characters). */
export const toolGlobListVar: z.ZodType<string[], string> = z.string().transform((value, ctx) => {
  const entries = value.split(",").map((e) => e.trim()).filter((e) => e !== "");
  const bad = entries.filter((e) => !/^[^\s.]+\.[^\s]+$/.test(e));
  if (bad.length > 0) {
    ctx.addIssue({ code: "custom", message: `contains ${bad.map((e) => JSON.stringify(e)).join(", ")}, which ${bad.length === 1 ? "is" : "are"} not <server>.<tool>` });
    return z.NEVER;
  }
  return [...new Set(entries)];
});

/** LLM_TOOLS_REQUIRE_APPROVAL: comma-separated globs over a built-in tool's name or an MCP tool's `<server>.<tool>`. */
export const approvalGlobListVar: z.ZodType<string[], string> = z.string().transform((value, ctx) => {
  const entries = value.split(",").map((e) => e.trim()).filter((e) => e !== "");
  const bad = entries.filter((e) => /\s/.test(e));
  if (bad.length > 0) {
    ctx.addIssue({ code: "custom", message: `contains ${bad.map((e) => JSON.stringify(e)).join(", ")}, which ${bad.length === 1 ? "is" : "are"} not a tool name or <server>.<tool>` });
    return z.NEVER;
  }
  return [...new Set(entries)];
});

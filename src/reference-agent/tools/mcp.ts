// Tools of MCP servers (MCP_SERVERS: a command run over stdio, or a streamable HTTP URL) through
// @modelcontextprotocol/sdk. Only tools listed in MCP_TOOLS_ALLOW (globs over `<server>.<tool>`) are offered, until
// approvals exist; the model sees `<server>__<tool>`. A server that cannot be reached is logged and left out; it is
// tried again (at most every `retryMs`) when a run asks for tools. A result with isError is an error the model is told.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { Logger } from "pino";
import { matchesAnyUserGlob } from "../../rooms/user-glob";
import type { McpServerConfig } from "./mcp-config";
import type { ToolSource } from "./toolbox";
import { modelToolName, type AgentTool, type ToolOutcome } from "./types";

export interface McpToolsOptions {
  servers: Readonly<Record<string, McpServerConfig>>;
  /** MCP_TOOLS_ALLOW: globs over `<server>.<tool>`; empty: no MCP tool is offered. */
  allow: readonly string[];
  log: Logger;
  /** Connecting, listing, and each call (MCP_TIMEOUT_MS). */
  timeoutMs: number;
  /** Least time between two attempts to reach a server that failed. Default 60 s. */
  retryMs?: number;
}

interface ServerState {
  name: string;
  config: McpServerConfig;
  client?: Client;
  tools: AgentTool[];
  connecting?: Promise<void>;
  lastAttempt: number;
}

type CallResult = Awaited<ReturnType<Client["callTool"]>>;

/** A tool result's content as text: text parts as they are, embedded text resources, other parts named. */
function resultText(result: CallResult): string {
  const content = Array.isArray(result.content) ? (result.content as Array<Record<string, unknown>>) : [];
  const parts = content.map((part) => {
    if (part["type"] === "text" && typeof part["text"] === "string") return part["text"];
    const resource = part["resource"] as Record<string, unknown> | undefined;
    if (part["type"] === "resource" && typeof resource?.["text"] === "string") return resource["text"];
    return `[${String(part["type"])}]`;
  });
  if (parts.length === 0 && result.structuredContent !== undefined) return JSON.stringify(result.structuredContent);
  return parts.join("\n");
}

export class McpTools implements ToolSource {
  private readonly states: ServerState[];
  private closed = false;

  constructor(private readonly options: McpToolsOptions) {
    this.states = Object.entries(options.servers).map(([name, config]) => ({ name, config, tools: [], lastAttempt: 0 }));
  }

  /** Reaches every server once (failures logged, not thrown). */
  async start(): Promise<void> {
    await Promise.all(this.states.map((s) => this.connect(s)));
  }

  tools(): AgentTool[] {
    const retryMs = this.options.retryMs ?? 60_000;
    for (const s of this.states) {
      if (!s.client && !s.connecting && Date.now() - s.lastAttempt >= retryMs) void this.connect(s);
    }
    return this.states.flatMap((s) => (s.client ? s.tools : []));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.states.map(async (s) => {
      await s.connecting?.catch(() => undefined);
      const client = s.client;
      s.client = undefined;
      await client?.close().catch(() => undefined);
    }));
  }

  private transport(s: ServerState): Transport {
    const config = s.config;
    if ("url" in config) {
      return new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers: { ...config.headers } } });
    }
    const transport = new StdioClientTransport({
      command: config.command, args: [...(config.args ?? [])], env: { ...getDefaultEnvironment(), ...config.env },
      ...(config.cwd !== undefined ? { cwd: config.cwd } : {}), stderr: "pipe",
    });
    // The server's own log: read (a full pipe would stall it), shown at debug only.
    transport.stderr?.on("data", (chunk: Buffer) => this.options.log.debug({ mcpServer: s.name, stderr: chunk.toString("utf8").slice(0, 500) }, "MCP server stderr"));
    return transport;
  }

  private connect(s: ServerState): Promise<void> {
    if (this.closed) return Promise.resolve();
    s.lastAttempt = Date.now();
    const log = this.options.log;
    s.connecting = (async () => {
      const client = new Client({ name: "matrix-agent-bot-reference-agent", version: "0.1.0" });
      try {
        await client.connect(this.transport(s), { timeout: this.options.timeoutMs });
        const listed: Array<{ name: string; description?: string; inputSchema: Record<string, unknown> }> = [];
        let cursor: string | undefined;
        do {
          const page = await client.listTools(cursor !== undefined ? { cursor } : {}, { timeout: this.options.timeoutMs });
          listed.push(...page.tools);
          cursor = page.nextCursor;
        } while (cursor !== undefined && listed.length < 1_000);
        const allowed = listed.filter((t) => matchesAnyUserGlob(`${s.name}.${t.name}`, this.options.allow));
        s.tools = allowed.map((t) => this.tool(s, client, t));
        client.onclose = () => {
          if (s.client === client) s.client = undefined;
          if (!this.closed) log.warn({ mcpServer: s.name }, "MCP server connection closed; its tools are not offered until it is reached again");
        };
        if (this.closed) {
          await client.close().catch(() => undefined);
          return;
        }
        s.client = client;
        log.info({ mcpServer: s.name, offered: s.tools.map((t) => t.name), notAllowed: listed.length - allowed.length }, "MCP server connected");
      } catch (err) {
        await client.close().catch(() => undefined);
        log.warn({ mcpServer: s.name, err: { message: err instanceof Error ? err.message.slice(0, 300) : String(err) } },
          "could not reach an MCP server; its tools are not offered (trying again later)");
      }
    })().finally(() => {
      s.connecting = undefined;
    });
    return s.connecting;
  }

  private tool(s: ServerState, client: Client, t: { name: string; description?: string; inputSchema: Record<string, unknown> }): AgentTool {
    const timeout = this.options.timeoutMs;
    return {
      name: modelToolName(`${s.name}__${t.name}`),
      qualifiedName: `${s.name}.${t.name}`,
      description: (t.description ?? `${t.name} (MCP server ${s.name})`).slice(0, 1_000),
      parameters: { type: "object", ...t.inputSchema },
      async call(args, signal): Promise<ToolOutcome> {
        const result = await client.callTool({ name: t.name, arguments: args }, undefined, { signal, timeout });
        const text = resultText(result);
        return result.isError === true ? { ok: false, error: text.trim() === "" ? "the tool reported an error" : text } : { ok: true, content: text };
      },
    };
  }
}

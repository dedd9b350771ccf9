// An MCP server over streamable HTTP on 127.0.0.1, for tests (stateless: a server and transport per request, as
// the SDK's examples do): read_note answers a note and records each call; delete_note must never be offered unless
// MCP_TOOLS_ALLOW lists it.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

export interface HttpMcpServer {
  /** The MCP endpoint, e.g. http://127.0.0.1:1234/mcp. */
  url: string;
  /** Calls received, in order: tool name and arguments. */
  calls: Array<{ name: string; args: Record<string, unknown> }>;
  /** Authorization headers of the requests received. */
  authorizations: Array<string | undefined>;
  close(): Promise<void>;
}

function notesServer(calls: HttpMcpServer["calls"]): McpServer {
  const server = new McpServer({ name: "test-notes", version: "1.0.0" });
  server.registerTool("read_note", { description: "Reads a note by title.", inputSchema: { title: z.string() } }, async ({ title }) => {
    calls.push({ name: "read_note", args: { title } });
    return { content: [{ type: "text", text: `note "${title}": from the HTTP server` }] };
  });
  server.registerTool("delete_note", { description: "Deletes a note.", inputSchema: { title: z.string() } }, async ({ title }) => {
    calls.push({ name: "delete_note", args: { title } });
    return { content: [{ type: "text", text: "deleted" }] };
  });
  return server;
}

export async function startHttpMcpServer(): Promise<HttpMcpServer> {
  const calls: HttpMcpServer["calls"] = [];
  const authorizations: Array<string | undefined> = [];
  const httpServer = http.createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    if (req.url !== "/mcp") {
      res.writeHead(404).end();
      return;
    }
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST" }).end(); // stateless: no GET stream, no session to DELETE
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const server = notesServer(calls);
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
        res.on("close", () => {
          void transport.close();
          void server.close();
        });
        await server.connect(transport);
        await transport.handleRequest(req, res, JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown);
      })().catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const port = (httpServer.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    authorizations,
    close: async () => {
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeAllConnections();
      await closed;
    },
  };
}

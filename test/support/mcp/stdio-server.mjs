// An MCP server spoken to over stdio, for tests (the reference agent runs it as MCP_SERVERS' command):
// lookup_word answers a definition, fail_word reports an error (isError), secret_tool must never be offered
// unless MCP_TOOLS_ALLOW lists it. Plain JavaScript: it runs with node, outside jest.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const server = new McpServer({ name: "test-words", version: "1.0.0" });
server.registerTool("lookup_word", { description: "Defines a word.", inputSchema: { word: z.string() } },
  async ({ word }) => ({ content: [{ type: "text", text: `${word}: a definition from the stdio server (pid ${process.pid})` }] }));
server.registerTool("fail_word", { description: "Always fails.", inputSchema: { word: z.string() } },
  async ({ word }) => ({ isError: true, content: [{ type: "text", text: `no entry for ${word}` }] }));
server.registerTool("secret_tool", { description: "Must never be offered.", inputSchema: {} },
  async () => ({ content: [{ type: "text", text: "secret" }] }));
await server.connect(new StdioServerTransport());
process.stderr.write("test-words MCP server ready\n");

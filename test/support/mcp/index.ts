// MCP servers for tests: one over streamable HTTP in this process, one over stdio that the reference agent runs.
import * as path from "node:path";

export { startHttpMcpServer, type HttpMcpServer } from "./http-server";

/** The stdio MCP server script (run it with process.execPath). */
export const STDIO_MCP_SERVER = path.join(__dirname, "stdio-server.mjs");

// MCP tools: a server over stdio (a child process) and one over streamable HTTP, both real (the SDK's server side),
// on 127.0.0.1: only tools MCP_TOOLS_ALLOW lists are offered, as <server>__<tool> with their input schema; a call
// reaches the server and its result comes back; an isError result is an error outcome; a server that cannot be
// reached is logged and left out while the others work; close() ends the stdio child.
import * as path from "node:path";
import pino from "pino";
import { McpTools } from "../../../src/reference-agent/tools/mcp";
import { LogCapture } from "../../support/log-capture";
import { startHttpMcpServer, STDIO_MCP_SERVER, type HttpMcpServer } from "../../support/mcp";
import { scaled } from "../../support/wait";

jest.setTimeout(scaled(30_000));

let http: HttpMcpServer | undefined;
let tools: McpTools | undefined;
afterEach(async () => {
  await tools?.close();
  await http?.close();
  tools = undefined;
  http = undefined;
});

test("only allowed tools are offered; calls over stdio and streamable HTTP return their results; isError is an error", async () => {
  http = await startHttpMcpServer();
  const logs = new LogCapture();
  tools = new McpTools({
    servers: { words: { command: process.execPath, args: [STDIO_MCP_SERVER] }, notes: { url: http.url, headers: { Authorization: "Bearer notes-token" } } },
    allow: ["words.lookup_*", "words.fail_word", "notes.read_note"],
    log: pino({ level: "info" }, logs), timeoutMs: 15_000,
  });
  await tools.start();
  const offered = tools.tools();
  expect(offered.map((t) => t.name).sort()).toEqual(["notes__read_note", "words__fail_word", "words__lookup_word"]);
  expect(offered.find((t) => t.name === "words__lookup_word")?.parameters).toMatchObject({ type: "object", properties: { word: { type: "string" } }, required: ["word"] });
  const call = (name: string, args: Record<string, unknown>) => {
    const tool = offered.find((t) => t.name === name);
    if (!tool) throw new Error(`no ${name}`);
    return tool.call(args, new AbortController().signal);
  };
  expect(await call("words__lookup_word", { word: "matrix" })).toEqual({ ok: true, content: expect.stringMatching(/^matrix: a definition from the stdio server \(pid \d+\)$/) });
  expect(await call("words__fail_word", { word: "zz" })).toEqual({ ok: false, error: "no entry for zz" });
  expect(await call("notes__read_note", { title: "plan" })).toEqual({ ok: true, content: 'note "plan": from the HTTP server' });
  expect(http.calls).toEqual([{ name: "read_note", args: { title: "plan" } }]);
  expect(http.authorizations.every((a) => a === "Bearer notes-token")).toBe(true);
  const connected = logs.lines().filter((l) => l.msg === "MCP server connected");
  expect(connected.map((l) => [l["mcpServer"], l["notAllowed"]]).sort()).toEqual([["notes", 1], ["words", 1]]);
});

test("a server that cannot be reached is logged and left out; the others are offered", async () => {
  http = await startHttpMcpServer();
  const logs = new LogCapture();
  tools = new McpTools({
    servers: { gone: { url: "http://127.0.0.1:9/mcp" }, missing: { command: path.join(__dirname, "no-such-mcp-server") }, notes: { url: http.url } },
    allow: ["*.*"], log: pino({ level: "info" }, logs), timeoutMs: 5_000, retryMs: 3_600_000,
  });
  await tools.start();
  expect(tools.tools().map((t) => t.name).sort()).toEqual(["notes__delete_note", "notes__read_note"]);
  const failed = logs.lines().filter((l) => l.msg === "could not reach an MCP server; its tools are not offered (trying again later)");
  expect(failed.map((l) => l["mcpServer"]).sort()).toEqual(["gone", "missing"]);
});

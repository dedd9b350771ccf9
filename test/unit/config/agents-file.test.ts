// AGENTS_FILE: named agents in YAML, every problem listed at start (and never a token); AGENT_URL beside it.
import { loadConfig } from "../../../src/config";
import { clientEnv, expectOk, expectProblems, fakeFiles } from "./config-helpers";

const GOOD = `
default: support
agents:
  support:
    url: ws://127.0.0.1:8790
    tokenEnv: SUPPORT_TOKEN
    displayName: Support desk
    description: Answers questions about our products
    avatar: mxc://example.org/abc
  coder:
    url: https://agents.example.org/coder/
    token: coder-secret-token
    capabilities:
      multimodal:
        input: { image: true, pdf: true }
`;

describe("AGENTS_FILE", () => {
  it("loads named agents over both transports, with tokens from the file or the environment", () => {
    const config = expectOk(loadConfig({ ...clientEnv, AGENTS_FILE: "/etc/agents.yaml", SUPPORT_TOKEN: "support-secret" },
      fakeFiles({ "/etc/agents.yaml": GOOD })));
    expect(config.agents?.defaultAgent).toBe("support");
    expect(config.agents?.agents).toEqual([
      { name: "support", url: "ws://127.0.0.1:8790", token: "support-secret", displayName: "Support desk",
        description: "Answers questions about our products", avatar: "mxc://example.org/abc" },
      { name: "coder", url: "https://agents.example.org/coder", token: "coder-secret-token",
        capabilities: { multimodal: { input: { image: true, pdf: true } } } },
    ]);
    expect(config.secrets).toEqual(expect.arrayContaining(["support-secret", "coder-secret-token"]));
    expect(config.referenceAgent).toBeUndefined(); // named agents: no in-process reference agent
  });

  it("adds AGENT_URL's agent as \"default\", the global default unless the file names one", () => {
    const file = "agents:\n  coder:\n    url: http://127.0.0.1:9000/agent\n";
    const config = expectOk(loadConfig({ ...clientEnv, AGENTS_FILE: "/a.yaml", AGENT_URL: "ws://127.0.0.1:8790", AGENT_TOKEN: "t0k" },
      fakeFiles({ "/a.yaml": file })));
    expect(config.agents?.defaultAgent).toBe("default");
    expect(config.agents?.agents.map((a) => [a.name, a.url, a.token])).toEqual([
      ["default", "ws://127.0.0.1:8790", "t0k"], ["coder", "http://127.0.0.1:9000/agent", undefined]]);
  });

  it("lists every problem of the file at once, never a token, and the start fails", () => {
    const bad = `
default: nobody
agents:
  Support Desk:
    url: ws://127.0.0.1:8790
  coder:
    url: ftp://example.org
    token: leaked-secret-token
    tokenEnv: CODER_TOKEN
  home:
    tokenEnv: HOME_TOKEN
    avatar: https://example.org/a.png
    colour: blue
  notes:
    url: http://127.0.0.1:1/x
    tokenEnv: NOTES_TOKEN
`;
    const { message, variables } = expectProblems(loadConfig({ ...clientEnv, AGENTS_FILE: "/a.yaml" }, fakeFiles({ "/a.yaml": bad })));
    expect(new Set(variables)).toEqual(new Set(["AGENTS_FILE"]));
    expect(message).toMatch(/agents\.Support Desk is not an agent name/);
    expect(message).toMatch(/agents\.coder\.url is not a ws:\/\/, wss:\/\/, http:\/\/ or https:\/\/ URL/);
    expect(message).toMatch(/agents\.coder has both token and tokenEnv/);
    expect(message).toMatch(/agents\.home\.url needs a url/);
    expect(message).toMatch(/agents\.home\.avatar is not an mxc:\/\/ URI/);
    expect(message).toMatch(/agents\.home.*colour/);
    expect(message).not.toContain("leaked-secret-token");
  });

  it("names a tokenEnv that is not set and a default that is no agent", () => {
    const file = "default: nobody\nagents:\n  notes:\n    url: http://127.0.0.1:1/x\n    tokenEnv: NOTES_TOKEN\n";
    const { message } = expectProblems(loadConfig({ ...clientEnv, AGENTS_FILE: "/a.yaml" }, fakeFiles({ "/a.yaml": file })));
    expect(message).toMatch(/agents\.notes\.tokenEnv names NOTES_TOKEN, which is not set\. Fix: set NOTES_TOKEN/);
    expect(message).toMatch(/default names nobody, which is not one of the agents\. Fix: set default to one of notes/);
  });

  it("names a file that is missing or not YAML", () => {
    expect(expectProblems(loadConfig({ ...clientEnv, AGENTS_FILE: "/nope.yaml" }, fakeFiles({}))).message)
      .toMatch(/AGENTS_FILE: "\/nope\.yaml" cannot be read/);
    expect(expectProblems(loadConfig({ ...clientEnv, AGENTS_FILE: "/a.yaml" }, fakeFiles({ "/a.yaml": "agents: [unclosed" }))).message)
      .toMatch(/AGENTS_FILE: \/a\.yaml is not valid YAML/);
  });

  it("accepts an http(s) AGENT_URL alone: one AG-UI HTTP agent", () => {
    const config = expectOk(loadConfig({ ...clientEnv, AGENT_URL: "https://agents.example.org/run" }, fakeFiles({})));
    expect(config.agent.url).toBe("https://agents.example.org/run");
    expect(config.agents).toBeUndefined();
  });
});

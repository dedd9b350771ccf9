// AGENTS_FILE: named agents (YAML), each an AG-UI agent over our WebSocket envelope (ws://, wss://) or plain
// AG-UI over HTTP + SSE (http://, https://). Every problem of the file is listed at start, one line each, with
// where in the file it is; a token is never shown. AGENT_URL is the one-agent shorthand (the agent "default").
import { z } from "zod";
import { parseDocument } from "yaml";
import { AgentCapabilitiesSchema, type AgentCapabilities } from "../agent/protocol-v2";
import type { Env, ProblemList } from "./problems";

export interface AgentDefinition {
  /** Lower-case name people type in `/agent <name>`. */
  readonly name: string;
  readonly url: string;
  readonly token?: string;
  readonly displayName?: string;
  /** An mxc:// URI shown beside the agent's name. */
  readonly avatar?: string;
  readonly description?: string;
  /** HTTP agents: what they read and do (a WebSocket agent declares it in its `ready`). */
  readonly capabilities?: AgentCapabilities;
}

export interface AgentsSetup {
  readonly agents: readonly AgentDefinition[];
  /** The global default: the agent of every room that chose none (nor its space). */
  readonly defaultAgent: string;
}

/** The name the AGENT_URL shorthand (and the in-process reference agent) gets. */
export const SHORTHAND_AGENT_NAME = "default";
/** Lower-case letters, digits and single hyphens, starting with a letter, at most 32 (it also names store namespaces). */
export const AGENT_NAME = /^(?=.{1,32}$)[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function isAgentUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return ["ws:", "wss:", "http:", "https:"].includes(url.protocol) && url.host !== "";
  } catch {
    return false;
  }
}

const entrySchema = z.strictObject({
  url: z.string({ error: "needs a url (ws://, wss://, http:// or https://)" })
    .refine(isAgentUrl, { error: "is not a ws://, wss://, http:// or https:// URL" }),
  token: z.string().min(1).optional(),
  tokenEnv: z.string().regex(ENV_NAME, { error: "is not an environment variable name" }).optional(),
  displayName: z.string().min(1).max(100).optional(),
  avatar: z.string().regex(/^mxc:\/\/[^/\s]+\/[^/\s]+$/, { error: "is not an mxc:// URI" }).optional(),
  description: z.string().min(1).max(500).optional(),
  capabilities: AgentCapabilitiesSchema.optional(),
}).refine((e) => e.token === undefined || e.tokenEnv === undefined, { error: "has both token and tokenEnv; keep one" });

const fileSchema = z.strictObject({
  default: z.string().regex(AGENT_NAME, { error: "is not an agent name" }).optional(),
  agents: z.record(z.string().regex(AGENT_NAME), entrySchema)
    .refine((agents) => Object.keys(agents).length > 0, { error: "names no agent" }),
});

const VARIABLE = "AGENTS_FILE";
const FIX = "correct the file (runbook/agents.md shows its format)";

/** Reads and checks the agents file; every problem goes to `problems` (then undefined is returned). */
export function loadAgentsFile(path: string, readFile: (p: string) => string, env: Env, problems: ProblemList,
  shorthand?: { url: string; token?: string }): AgentsSetup | undefined {
  let text: string;
  try {
    text = readFile(path);
  } catch (e) {
    problems.add(VARIABLE, `${JSON.stringify(path)} cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`,
      "set AGENTS_FILE to the path of a readable YAML file, or leave it unset");
    return undefined;
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    for (const err of doc.errors) problems.add(VARIABLE, `${path} is not valid YAML: ${err.message.split("\n")[0] ?? ""}`, FIX);
    return undefined;
  }
  const parsed = fileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const where = issue.path.length > 0 ? issue.path.join(".") : "the file";
      // Never the value itself: it may be a token.
      const text = issue.code === "unrecognized_keys" ? `has fields it does not know: ${issue.keys.join(", ")}`
        : issue.code === "invalid_key" ? "is not an agent name (a-z, 0-9 and single hyphens, starting with a letter, at most 32)"
        : issue.message.replace(/^Invalid input.*$/, "is not valid");
      problems.add(VARIABLE, `${path}: ${where} ${text}`, FIX);
    }
    return undefined;
  }
  const before = problems.items.length;
  const agents: AgentDefinition[] = Object.entries(parsed.data.agents).map(([name, e]) => {
    let token = e.token;
    if (e.tokenEnv !== undefined) {
      token = env[e.tokenEnv]?.trim() || undefined;
      if (token === undefined) problems.add(VARIABLE, `${path}: agents.${name}.tokenEnv names ${e.tokenEnv}, which is not set`, `set ${e.tokenEnv}`);
    }
    return { name, url: e.url.replace(/\/+$/, ""), ...(token !== undefined ? { token } : {}),
      ...(e.displayName !== undefined ? { displayName: e.displayName } : {}), ...(e.avatar !== undefined ? { avatar: e.avatar } : {}),
      ...(e.description !== undefined ? { description: e.description } : {}), ...(e.capabilities !== undefined ? { capabilities: e.capabilities } : {}) };
  });
  if (shorthand) {
    if (agents.some((a) => a.name === SHORTHAND_AGENT_NAME)) {
      problems.add(VARIABLE, `${path}: agents.${SHORTHAND_AGENT_NAME} is also AGENT_URL's agent`, `rename it, or unset AGENT_URL`);
    }
    agents.unshift({ name: SHORTHAND_AGENT_NAME, ...shorthand });
  }
  const defaultAgent = parsed.data.default ?? agents[0]?.name ?? SHORTHAND_AGENT_NAME;
  if (!agents.some((a) => a.name === defaultAgent)) {
    problems.add(VARIABLE, `${path}: default names ${defaultAgent}, which is not one of the agents`, `set default to one of ${agents.map((a) => a.name).join(", ")}`);
  }
  return problems.items.length > before ? undefined : { agents, defaultAgent };
}

// docker-compose.yml against the configuration contract: every variable it interpolates is documented in
// .env.example and read by the bot or the agent; every setting of theirs reaches their container; the
// services, healthchecks and the shared registration volume are there. Also the Dockerfile's essentials.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { ENV_VARIABLES } from "../../../src/config";
import { AGENT_ENV_VARIABLES } from "../../../src/reference-agent/config";
import { ROOT } from "../../support/bot-harness";

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test?: string[] };
  depends_on?: Record<string, { condition?: string }>;
}

const composeText = readFileSync(path.join(ROOT, "docker-compose.yml"), "utf8");
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const envExample = readFileSync(path.join(ROOT, ".env.example"), "utf8");
const documented = new Set(envExample.split("\n").filter((l) => /^[A-Z0-9_]+=/.test(l)).map((l) => l.split("=")[0] ?? ""));
const services = compose.services;

/** Every string in the parsed file (keys and values; comments are not interpolated by compose). */
function strings(node: unknown): string[] {
  if (typeof node === "string") return [node];
  if (Array.isArray(node)) return node.flatMap(strings);
  if (typeof node === "object" && node !== null) return Object.entries(node).flatMap(([k, v]) => [k, ...strings(v)]);
  return [];
}
const values = strings(compose);

/** Every `${VAR}`, `${VAR:-default}`, `${VAR:?message}`… (not `$${…}`, which compose leaves alone). */
function interpolated(texts: string[]): string[] {
  const names = texts.flatMap((text) =>
    [...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?+-][^}]*)?\}/g)].map((m) => m[1] ?? ""));
  return [...new Set(names)];
}

function service(name: string): Service {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

describe("docker-compose.yml", () => {
  const used = interpolated(values);

  it("interpolates variables, and only with ${…} (a bare $VAR is easy to get wrong)", () => {
    expect(used.length).toBeGreaterThan(10);
    expect(values.filter((v) => /\$(?!\{)[A-Za-z_]/.test(v.replace(/\$\$/g, "")))).toEqual([]);
  });

  it.each(used)("documents %s in .env.example and the bot or the agent reads it", (name) => {
    expect(documented.has(name)).toBe(true);
    expect([...ENV_VARIABLES, ...AGENT_ENV_VARIABLES]).toContain(name);
  });

  it("has Synapse, the bot and the reference agent, each with a healthcheck", () => {
    expect(Object.keys(services).sort()).toEqual(["agent", "bot", "synapse"]);
    expect(service("synapse").image).toMatch(/^matrixdotorg\/synapse:/);
    for (const name of ["synapse", "agent", "bot"]) {
      expect(service(name).healthcheck?.test?.length).toBeGreaterThan(1);
    }
    expect(service("bot").depends_on).toEqual({ synapse: { condition: "service_healthy" }, agent: { condition: "service_healthy" } });
    expect(service("agent").command).toEqual(["node", "dist/src/reference-agent/main.js"]);
    expect(service("bot").build).toBe(".");
  });

  it("runs the bot in appservice mode with the registration Synapse loads, on a shared volume", () => {
    const bot = service("bot");
    const synapse = service("synapse");
    expect(bot.environment?.["MATRIX_MODE"]).toBe("appservice");
    expect(bot.environment?.["MATRIX_REGISTRATION"]).toBe("/appservice/registration.yaml");
    expect(bot.volumes).toContain("appservice:/appservice");
    expect(synapse.volumes).toContain("appservice:/appservice:ro");
    const extraConfig = synapse.volumes?.find((v) => v.startsWith("./docker/synapse-appservice.yaml:")) ?? "";
    const mountedAt = extraConfig.split(":")[1] ?? "";
    expect(synapse.command).toEqual(["run", "--config-path", "/data/homeserver.yaml", "--config-path", mountedAt]);
    const extra = parse(readFileSync(path.join(ROOT, "docker", "synapse-appservice.yaml"), "utf8")) as { app_service_config_files: string[] };
    expect(extra.app_service_config_files).toEqual(["/appservice/registration.yaml"]);
    // The registration's url is where the homeserver reaches APPSERVICE_BIND inside the network.
    expect(bot.environment?.["APPSERVICE_BIND"]).toBe("0.0.0.0:9999");
    expect(bot.environment?.["AGENT_URL"]).toBe(`ws://agent:${service("agent").environment?.["AGENT_PORT"] ?? "?"}`);
    expect(Object.keys(compose.volumes ?? {})).toEqual(expect.arrayContaining(["synapse-data", "bot-data", "agent-data", "appservice"]));
  });

  it("passes every setting of the bot and of the agent into their containers", () => {
    const notForTheBot = ["MATRIX_ACCESS_TOKEN", "LLM_API_KEY"]; // client mode only; the agent's key
    const botMissing = ENV_VARIABLES.filter((n) => !notForTheBot.includes(n) && !(n in (service("bot").environment ?? {})));
    const agentMissing = AGENT_ENV_VARIABLES.filter((n) => !(n in (service("agent").environment ?? {})));
    // When this fails after adding a variable: add `NAME: ${NAME:-}` to the service's environment.
    expect({ botMissing, agentMissing }).toEqual({ botMissing: [], agentMissing: [] });
  });

  it("gives the bot and the agent the same AGENT_TOKEN and refuses to start without one", () => {
    const bot = service("bot").environment?.["AGENT_TOKEN"];
    expect(bot).toMatch(/^\$\{AGENT_TOKEN:\?/);
    expect(service("agent").environment?.["AGENT_TOKEN"]).toBe(bot);
  });
});

describe("Dockerfile", () => {
  const dockerfile = readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
  const ignore = readFileSync(path.join(ROOT, ".dockerignore"), "utf8").split("\n");

  it("builds in node:20-bookworm with the sqlite3 toolchain and runs slim, as a non-root user, with a healthcheck", () => {
    expect(dockerfile).toMatch(/^FROM node:20-bookworm AS build$/m);
    expect(dockerfile).toMatch(/apt-get install[^\n]*python3 make g\+\+/);
    expect(dockerfile).toContain("RUN npm ci");
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n\s+CMD \["node", "-e", ".*\/healthz/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/src\/main.js"\]$/m);
    expect(dockerfile).toContain("COPY --from=build /app/packages ./packages");
  });

  it("keeps secrets and local state out of the build context", () => {
    for (const entry of [".env", "data", "node_modules", "registration*.yaml", "**/credentials.json"]) expect(ignore).toContain(entry);
  });
});

// /agent [name]: list the agents and the one this room talks to; switch it (settings permission). In a space the
// choice is the default of its child rooms. Each agent keeps its own conversation here: switching back resumes it.
import { z } from "zod";
import { defineCommand } from "./registry";

const args = z.union([
  z.tuple([]).transform(() => undefined),
  z.tuple([z.string().transform((s) => s.toLowerCase())]).transform(([name]) => name),
]) as unknown as z.ZodType<string | undefined, string[]>;

const SOURCE = { room: "chosen here", space: "the default of a space this room is in", default: "the default" } as const;

export const agentCommand = defineCommand({
  name: "agent",
  summary: "show the agents and the one answering here, or switch to another (each keeps its own conversation)",
  usage: "/agent [name]",
  args,
  permission: (name) => (name === undefined ? "anyone" : "settings"),
  async run(ctx, name) {
    const agents = ctx.deps.agents;
    if (!agents) return "I talk to one agent only.";
    const list = agents.list();
    const label = (n: string): string => {
      const a = list.find((x) => x.name === n);
      return a?.displayName ? `${a.displayName} (${n})` : n;
    };
    if (name === undefined) {
      const current = await agents.current(ctx.roomId);
      const lines = list.map((a) => `- ${a.name}${a.displayName ? `: ${a.displayName}` : ""}${a.description ? `, ${a.description}` : ""}` +
        `${a.name === current.name ? " ← answering here" : ""}`);
      return [`Agent here: ${label(current.name)}, ${SOURCE[current.source]}. Switch with /agent <name>.`, ...lines].join("\n");
    }
    if (!list.some((a) => a.name === name)) {
      return `There is no agent named ${JSON.stringify(name)}. Agents: ${list.map((a) => a.name).join(", ")}.`;
    }
    await agents.choose(ctx.roomId, name);
    return `${label(name)} answers here from now on. Its conversation here goes on where it left off; /agent ${agents.defaultAgent === name ? "<name>" : agents.defaultAgent} switches back.`;
  },
});

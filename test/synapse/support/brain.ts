// The agent of the Synapse scenarios: the reference agent (src/reference-agent) outside the bot, over a real
// WebSocket, with a brain steered by what the person writes:
//   "fail:<code>"   RUN_ERROR with that code
//   "cut the line"  the agent drops every connection mid-run
//   "hold:<tag>"    the first run of that text waits until the bot goes away (a SIGKILL mid-turn); later ones answer
//   "halfway:<tag>" the first run writes the first half of the echo answer, then waits until the bot goes away; later
//                   ones answer in full
//   "parts:<n> …"   n TEXT_MESSAGEs, "part i of n"
//   "stream:<tag>"  STREAM_FIRST, then waits for release(text) before the rest of STREAM_TEXT
//   "picture:<tag>" PICTURE_TEXT, then AGENT_PICTURE as a file (CUSTOM matrix.attachment, chart.png)
//   anything else   the brain given to the constructor, by default the reference agent's own echo brain: the echo
//                   answer in two chunks, or for an attachment "You sent an image: cat.png (image/png, 1234 bytes)"
import { randomBytes } from "node:crypto";
import pino from "pino";
import type { RunErrorCode } from "../../../src/agent/protocol";
import { AgentRunError, createEchoBrain, echoReply, twoChunks, type AgentBrain } from "../../../src/reference-agent/brain";
import { MemoryAgentJournal, startReferenceAgent, type ReferenceAgent } from "../../../src/reference-agent/server";
import { pause, say, type SeenRun } from "../../support/brains";
import { pngImage } from "../../support/media-samples";

/** What the brain puts in an agent error's message: it must never reach the room. */
const AGENT_ERROR_DETAIL = "upstream said: key sk-test-do-not-show at /srv/llm.js:10:5";

/** What a "stream:" run writes: its first part at once, the rest once released. */
export const STREAM_FIRST = "Part one, written at once; ";
export const STREAM_TEXT = `${STREAM_FIRST}part two, once released.`;

/** What a "picture:" run writes before its file, and the file. */
export const PICTURE_TEXT = "Here is your chart.";
export const AGENT_PICTURE = pngImage(48, 32, 5);

export function partText(i: number, n: number): string {
  return `part ${i} of ${n}`;
}

export class ScenarioAgent implements AgentBrain {
  readonly seen: SeenRun[] = [];
  readonly token = randomBytes(16).toString("hex");
  private readonly held = new Set<string>();
  private readonly gates = new Map<string, () => void>();
  private server: ReferenceAgent | undefined;
  /** Kept across restarts of the agent: agent-initiated runs the bot has not acked yet. */
  private readonly journal = new MemoryAgentJournal();

  constructor(private readonly otherwise: AgentBrain = createEchoBrain()) {}

  async start(): Promise<this> {
    this.server = await startReferenceAgent({ host: "127.0.0.1", port: 0, token: this.token, logger: pino({ level: "silent" }),
      mode: { kind: "custom", brain: this }, journal: this.journal });
    return this;
  }

  get url(): string {
    return this.need().url;
  }

  /** Runs whose last message is `text`. */
  runsOf(text: string): SeenRun[] {
    return this.seen.filter((r) => r.contents.at(-1) === text);
  }

  /** Lets the "stream:" run of `text` write the rest of its answer. */
  release(text: string): void {
    const open = this.gates.get(text);
    if (!open) throw new Error(`no "${text}" run is waiting`);
    open();
  }

  /** Whether a "stream:" run of `text` is waiting for release(). */
  waiting(text: string): boolean {
    return this.gates.has(text);
  }

  emitProactive(threadId: string, text: string): Promise<{ runId: string }> {
    return this.need().emitProactive(threadId, text);
  }

  connections(): number {
    return this.need().connections();
  }

  async close(): Promise<void> {
    await this.server?.close();
  }

  private need(): ReferenceAgent {
    if (!this.server) throw new Error("the agent is not started");
    return this.server;
  }

  async run(...[input, out, signal, info]: Parameters<AgentBrain["run"]>): Promise<void> {
    const contents = input.messages.map((m) => m.content);
    this.seen.push({ input, info, contents });
    const text = contents.at(-1) ?? "";
    if (text.startsWith("fail:")) throw new AgentRunError(text.slice("fail:".length) as RunErrorCode, AGENT_ERROR_DETAIL);
    if (text === "cut the line") {
      setImmediate(() => this.server?.dropConnections());
      await untilAborted(signal);
    }
    if (text.startsWith("hold:") && !this.held.has(text)) {
      this.held.add(text);
      await untilAborted(signal);
    }
    if (text.startsWith("halfway:") && !this.held.has(text)) {
      this.held.add(text);
      const [first = ""] = twoChunks(echoReply(text));
      out.delta(out.startMessage(), first);
      await untilAborted(signal);
    }
    if (text.startsWith("stream:")) {
      const id = out.startMessage();
      out.delta(id, STREAM_FIRST);
      await new Promise<void>((resolve, reject) => {
        this.gates.set(text, resolve);
        signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
      }).finally(() => this.gates.delete(text));
      out.delta(id, STREAM_TEXT.slice(STREAM_FIRST.length));
      out.endMessage(id);
      return;
    }
    if (text.startsWith("picture:")) {
      say(out, PICTURE_TEXT);
      out.attachment?.({ filename: "chart.png", mimeType: "image/png", bytes: AGENT_PICTURE });
      return;
    }
    const parts = /^parts:(\d+)\b/.exec(text);
    if (parts) {
      const n = Number(parts[1]);
      for (let i = 1; i <= n; i += 1) say(out, partText(i, n));
      return;
    }
    await this.otherwise.run(input, out, signal, info);
  }
}

/** Waits until the run is aborted (the bot cancelled it or went away), then fails it as aborted. */
async function untilAborted(signal: AbortSignal): Promise<never> {
  await pause(10 * 60_000, signal);
  throw new Error("still running after ten minutes");
}

// Live answers: how soon a person sees text, and what it costs in events, streaming (STREAMING=edits) against
// final-only (STREAMING=final). An agent writes like a model does (a fixed rate of words, a few per delta); the
// bot is the built dist/src/main.js as a child process (appservice mode, production timings), one DM room.
import pino from "pino";
import { startHomeserver, type Homeserver } from "../test/support/homeserver";
import { foldEdits } from "../test/support/bot-messages";
import { startReferenceAgent } from "../src/reference-agent/server";
import type { AgentBrain } from "../src/reference-agent/brain";
import { figure, note, round, summarize } from "./support/figures";
import { BotInstall, createRooms, until } from "./support/subjects";

export interface StreamingBenchOptions {
  answers: number;
  words: number;
  wordsPerSecond: number;
  nodeArgs: string[];
  botEnv: Record<string, string>;
}

/** `words` words at `wordsPerSecond`, five per delta. */
function writingBrain(words: number, wordsPerSecond: number): AgentBrain {
  return {
    async run(_input, out, signal) {
      const id = out.startMessage();
      for (let w = 0; w < words && !signal.aborted; w += 5) {
        out.delta(id, `${Array.from({ length: Math.min(5, words - w) }, (_, i) => `word${w + i}`).join(" ")}${(w + 5) % 100 === 0 ? "\n\n" : " "}`);
        await new Promise((r) => setTimeout(r, (5 / wordsPerSecond) * 1000));
      }
      out.endMessage(id);
    },
  };
}

export async function streamingBenchmarks(opts: StreamingBenchOptions): Promise<void> {
  for (const mode of ["edits", "final"] as const) {
    const hs = await startHomeserver({ serverName: "localhost", maxEventsPerTransaction: 100 });
    const agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, logger: pino({ level: "silent" }),
      mode: { kind: "custom", brain: writingBrain(opts.words, opts.wordsPerSecond) } });
    const install = await BotInstall.create(hs);
    const alice = hs.addUser("alice").userId;
    const [room] = createRooms(hs, alice, install.userId, 1);
    const { bot } = await install.start(agent.url, { STREAMING: mode, ...opts.botEnv }, opts.nodeArgs);
    try {
      note(`streaming (${mode}): ${opts.answers} answers of ${opts.words} words at ${opts.wordsPerSecond} words/s`);
      const firstText: number[] = [];
      const complete: number[] = [];
      const events: number[] = [];
      for (let i = 0; i < opts.answers && room; i++) {
        const measured = await oneAnswer(hs, room, install.userId, alice, i, opts.words);
        firstText.push(measured.firstTextMs);
        complete.push(measured.completeMs);
        events.push(measured.events);
      }
      const first = summarize(firstText);
      const whole = summarize(complete);
      figure("streaming", {
        mode, answers: opts.answers, words: opts.words, wordsPerSecond: opts.wordsPerSecond,
        firstTextP50Ms: first.p50, firstTextMaxMs: first.max, completeP50Ms: whole.p50,
        eventsPerAnswer: round(events.reduce((a, b) => a + b, 0) / Math.max(1, events.length), 1),
        editsPerAnswer: round(events.reduce((a, b) => a + b - 1, 0) / Math.max(1, events.length), 1),
      });
    } finally {
      await bot.stop();
      await agent.close();
      await hs.close();
      install.remove();
    }
  }
}

/** Alice asks; times (from her post) to the first event showing answer text and to the whole answer written. */
async function oneAnswer(hs: Homeserver, room: string, botUserId: string, alice: string, i: number, words: number): Promise<{
  firstTextMs: number; completeMs: number; events: number;
}> {
  const mine = (): ReturnType<typeof hs.sent> => hs.sent({ roomId: room, sender: botUserId, type: "m.room.message" }).filter((e) => e.origin_server_ts >= postedAt);
  const postedAt = Date.now();
  hs.sendEvent(alice, room, "m.room.message", { msgtype: "m.text", body: `question ${i}` });
  let firstTextMs = Number.NaN;
  const last = `word${words - 1}`;
  await until(() => {
    const events = mine();
    const withText = events.find((e) => /word\d/.test(String(e.content["body"])));
    if (withText && Number.isNaN(firstTextMs)) firstTextMs = Date.now() - postedAt;
    const msgs = foldEdits(events);
    return msgs.length > 0 && msgs.every((m) => !m.live) && String(msgs.at(-1)?.content["body"]).includes(last);
  }, "the whole answer", 120_000, 5);
  const completeMs = Date.now() - postedAt;
  // Events of this answer, the placeholder and its edits included (what the room and every client receive).
  return { firstTextMs, completeMs, events: mine().length };
}

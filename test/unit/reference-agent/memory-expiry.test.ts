// Issue 14, finding 4: the reference agent's memory is bounded. A room's older conversations are deleted once a
// newer generation (after /reset) reaches the agent; a history unused for LLM_HISTORY_TTL_DAYS is deleted; one
// written before expiry existed is listed once and expires like the others. Checked in the agent's own store.
import pino from "pino";
import { encodeThreadKey } from "../../../src/rooms/thread-key";
import { agentStoreUrl } from "../../../src/reference-agent/from-config";
import { MEMORY_NAMESPACE } from "../../../src/reference-agent/memory";
import { openStore } from "../../../src/store";
import { botLink, cleanup, fakeOpenAI, llmEnv, ManualClock, runRequest, startAgent, stopAgent, tempDataDir } from "./support";

afterEach(cleanup);

const quietly = { onTextMessage: () => undefined };
const DAY = 86_400_000;
const T0 = Date.parse("2025-03-01T12:00:00Z");

/** The histories kept in the agent's store for these thread ids (read while the agent is stopped). */
async function stored(dataDir: string, threadIds: string[], write?: Record<string, unknown>): Promise<string[]> {
  const store = await openStore(agentStoreUrl(dataDir), { logger: pino({ level: "silent" }) });
  try {
    const memory = store.namespace<unknown>(MEMORY_NAMESPACE);
    for (const [key, value] of Object.entries(write ?? {})) await memory.set(key, value);
    const kept: string[] = [];
    for (const id of threadIds) if ((await memory.get(id)) !== undefined) kept.push(id);
    return kept;
  } finally {
    await store.close();
  }
}

test("/reset: the first run of the new generation deletes the room's older conversations, and no other room's", async () => {
  const fake = await fakeOpenAI();
  const dataDir = tempDataDir();
  const agent = await startAgent(llmEnv(fake, dataDir));
  const { link } = await botLink(agent.url);
  const main0 = encodeThreadKey({ roomId: "!room:example.org", generation: 0 });
  const thread0 = encodeThreadKey({ roomId: "!room:example.org", generation: 0, threadRootId: "$root" });
  const other = encodeThreadKey({ roomId: "!other:example.org", generation: 0 });
  const main1 = encodeThreadKey({ roomId: "!room:example.org", generation: 1 });
  for (const [i, threadId] of [main0, thread0, other].entries()) await link.run(runRequest(`r${i}`, "my PIN is 4711", threadId), quietly);
  await link.run(runRequest("r3", "what is my PIN?", main1), quietly);
  expect(fake.requests[3]?.body.messages).toEqual([{ role: "user", content: "Alice: what is my PIN?" }]);
  // A late run of the old generation gets no history back, and leaves none.
  await link.run(runRequest("r4", "still there?", thread0), quietly);
  expect(fake.requests[4]?.body.messages).toEqual([{ role: "user", content: "Alice: still there?" }]);
  await link.stop();
  await stopAgent(agent);
  expect(await stored(dataDir, [main0, thread0, other, main1])).toEqual([other, main1]);
});

test(`a history unused for LLM_HISTORY_TTL_DAYS is deleted; one used since is kept`, async () => {
  const fake = await fakeOpenAI();
  const dataDir = tempDataDir();
  const env = llmEnv(fake, dataDir, { LLM_HISTORY_TTL_DAYS: "30" });
  const quiet = encodeThreadKey({ roomId: "!quiet:example.org", generation: 0 });
  const busy = encodeThreadKey({ roomId: "!busy:example.org", generation: 0 });
  const legacy = encodeThreadKey({ roomId: "!legacy:example.org", generation: 0 });
  // A history written before expiry existed (no `at`).
  expect(await stored(dataDir, [legacy], { [legacy]: { v: 1, turns: [{ role: "user", content: "Alice: old" }] } })).toEqual([legacy]);

  const clock = new ManualClock(T0);
  const run = async (runId: string, threadId: string, at: number): Promise<void> => {
    await clock.advanceTo(new Date(at).toISOString());
    const agent = await startAgent(env, { clock });
    const { link } = await botLink(agent.url);
    await link.run(runRequest(runId, "hello", threadId), quietly);
    await link.stop();
    await stopAgent(agent);
  };
  await run("r1", quiet, T0);
  await run("r2", busy, T0);
  await run("r3", busy, T0 + 25 * DAY);
  expect(await stored(dataDir, [quiet, busy, legacy])).toEqual([quiet, busy, legacy]);

  await clock.advanceTo(new Date(T0 + 32 * DAY).toISOString()); // the start's sweep
  await stopAgent(await startAgent(env, { clock }));
  expect(await stored(dataDir, [quiet, busy, legacy])).toEqual([busy]);

  await clock.advanceTo(new Date(T0 + 60 * DAY).toISOString());
  const agent = await startAgent(env, { clock });
  const { link } = await botLink(agent.url);
  await link.run(runRequest("r4", "remember me?", busy), quietly);
  expect(fake.requests.at(-1)?.body.messages).toEqual([{ role: "user", content: "Alice: remember me?" }]);
});

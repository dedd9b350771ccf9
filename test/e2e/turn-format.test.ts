// What an answer looks like in the room (client mode): markdown rendered, a 200 KB answer split into parts
// that each fit a Matrix event with balanced code fences, agent text that cannot ping @room, and the
// relation of an answer (plain in a DM, a reply in a group room, in-thread inside a Matrix thread).
import { ROOM_MENTION_GUARD } from "../../src/matrix/format";
import { recordingBrain, say } from "../support/brains";
import type { ClientEvent } from "../support/homeserver/types";
import { Scenario } from "../support/scenario";

const MATRIX_EVENT_LIMIT = 64 * 1024;

/** Fences opened and closed within the part: an even number of fence lines. */
function fencesBalanced(body: string): boolean {
  return body.split("\n").filter((line) => /^\s*```/.test(line)).length % 2 === 0;
}

/** About 200 KB of markdown: paragraphs, short code blocks, and one code block larger than a whole event. */
function bigAnswer(): { text: string; markers: string[] } {
  const markers: string[] = [];
  const blocks: string[] = [];
  let size = 0;
  for (let i = 0; size < 190_000; i++) {
    const marker = `P${String(i).padStart(4, "0")}`;
    markers.push(marker);
    let block = `${marker} — a paragraph of **markdown** with \`inline code\` and some words to fill the line.`;
    if (i % 10 === 5) block += `\n\n\`\`\`ts\nconst value${i} = ${i}; // a short code block\n\`\`\``;
    if (i === 100) block += `\n\n\`\`\`text\n${Array.from({ length: 1500 }, (_, n) => `long code line ${n} ${"x".repeat(40)}`).join("\n")}\n\`\`\``;
    blocks.push(block);
    size += block.length + 2;
  }
  return { text: blocks.join("\n\n"), markers };
}

describe("answer format", () => {
  let s: Scenario;
  afterEach(async () => s?.stop());

  it("renders markdown into formatted_body", async () => {
    const { brain } = recordingBrain((_run, out) => say(out, "# Plan\n\n- **bold** step\n- `code` step\n\n<script>alert(1)</script>"));
    s = await Scenario.start({ mode: "client", brain });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "plan?");
    const [answer] = await s.waitBotMessages(roomId, 1);
    expect(answer?.content["format"]).toBe("org.matrix.custom.html");
    const html = String(answer?.content["formatted_body"]);
    expect(html).toContain("<h1>Plan</h1>");
    expect(html).toContain("<strong>bold</strong>");
    expect(html).toContain("<code>code</code>");
    expect(html).not.toContain("<script");
    expect(answer?.content["body"]).toContain("**bold** step");
  });

  it("splits a 200 KB answer into parts that each fit an event, with balanced fences and nothing lost", async () => {
    const { text, markers } = bigAnswer();
    expect(text.length).toBeGreaterThan(190_000);
    const { brain } = recordingBrain((_run, out) => {
      const id = out.startMessage();
      for (let i = 0; i < text.length; i += 16_384) out.delta(id, text.slice(i, i + 16_384));
      out.endMessage(id);
    });
    s = await Scenario.start({ mode: "client", brain });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "tell me everything");
    // Written as it comes (live): done once the last paragraph is in a written message.
    const last = markers[markers.length - 1] ?? "";
    await s.hs.waitFor(() => s.botMessages(roomId).some((m) => String(m.content["body"]).includes(last)), { what: "the last part", timeoutMs: 30_000 });
    await s.settled(); // every part sent and written: the turn is over and the outbox empty
    const parts: ClientEvent[] = s.botMessages(roomId);
    for (const part of parts) {
      expect(Buffer.byteLength(JSON.stringify(part), "utf8")).toBeLessThan(MATRIX_EVENT_LIMIT);
      expect(fencesBalanced(String(part.content["body"]))).toBe(true);
      expect(part.content["msgtype"]).toBe("m.text");
      expect(typeof part.content["formatted_body"]).toBe("string");
    }
    const all = parts.map((p) => String(p.content["body"])).join("\n");
    let from = 0;
    for (const marker of markers) {
      const at = all.indexOf(marker, from);
      expect(at).toBeGreaterThanOrEqual(from); // every paragraph arrives, in order
      from = at;
    }
    expect(all).toContain("long code line 1499");
  });

  it("lets agent text ping nobody: no @room, no user named in the text", async () => {
    const { brain } = recordingBrain((_run, out) => say(out, "Hey @room and @ROOM, look! cc @bob:localhost"));
    s = await Scenario.start({ mode: "client", brain });
    const bob = s.person("bob", "Bob");
    const dm = await s.openDm();
    await s.alice.sendText(dm, "announce it");
    const [inDm] = await s.waitBotMessages(dm, 1);
    expect(inDm?.content["m.mentions"]).toEqual({ user_ids: [] });
    const body = String(inDm?.content["body"]);
    expect(body).not.toMatch(/@room/i);
    expect(body).toContain(`@${ROOM_MENTION_GUARD}room`);

    const group = await s.openGroup(s.alice, [bob]);
    // The bot's display name in the room, typed as plain text (no pill, no BOT_DISPLAY_NAME configured).
    await s.alice.sendText(group, "Agent Bot: announce it");
    const [inGroup] = await s.waitBotMessages(group, 1);
    expect(inGroup?.content["m.mentions"]).toEqual({ user_ids: [s.alice.userId] }); // the asker only
    expect(String(inGroup?.content["body"])).not.toMatch(/@room/i);
  });

  it("answers plain in a DM, as a reply in a group room, and in-thread inside a Matrix thread", async () => {
    const { brain } = recordingBrain((run, out) => say(out, `re: ${run.contents.join(" ")}`));
    s = await Scenario.start({ mode: "client", brain });
    const dm = await s.openDm();
    const root = await s.alice.sendText(dm, "root question");
    const [plain] = await s.waitBotMessages(dm, 1);
    expect(plain?.content["m.relates_to"]).toBeUndefined();
    const inThread = await s.alice.sendThreadReply(dm, root, "follow-up in the thread");
    const [, threaded] = await s.waitBotMessages(dm, 2);
    expect(threaded?.content["body"]).toBe("re: follow-up in the thread");
    expect(threaded?.content["m.relates_to"]).toMatchObject({ rel_type: "m.thread", event_id: root, "m.in_reply_to": { event_id: inThread } });

    const group = await s.openGroup(s.alice, [s.person("bob", "Bob")]); // two people: not a DM
    const asked = await s.alice.sendText(group, "Agent Bot: in the group");
    const [reply] = await s.waitBotMessages(group, 1);
    expect(reply?.content["m.relates_to"]).toEqual({ "m.in_reply_to": { event_id: asked } });
    const groupThread = await s.alice.sendThreadReply(group, asked, "Agent Bot: and in a thread");
    const [, groupThreaded] = await s.waitBotMessages(group, 2);
    expect(groupThreaded?.content["m.relates_to"]).toMatchObject({ rel_type: "m.thread", event_id: asked, "m.in_reply_to": { event_id: groupThread } });
  });
});

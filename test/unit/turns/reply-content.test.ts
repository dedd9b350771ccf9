// The Matrix shape of an answer: the relation per room kind, explicit mentions, and edits (of the placeholder)
// that always fit one event, with a fallback for clients that do not support edits.
import fc from "fast-check";
import { answerContents, EDIT_FALLBACK_MAX_BYTES, editContent, relationFor, type ReplyTarget } from "../../../src/turns/reply-content";

const dm: ReplyTarget = { roomId: "!r:x", eventId: "$asked", sender: "@alice:x", isDirect: true };
const group: ReplyTarget = { ...dm, isDirect: false };
const inThread: ReplyTarget = { ...group, threadRootId: "$root" };

/** What the homeserver adds around a content, generously. */
function eventBytes(content: Record<string, unknown>): number {
  return Buffer.byteLength(JSON.stringify({
    type: "m.room.message", room_id: "!abcdefghijklmnopqrstuvwxyz0123456789abcdefgh", sender: "@a-rather-long-bot-name:matrix.example.org",
    event_id: "$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH", origin_server_ts: 1_800_000_000_000,
    unsigned: { age: 1234567, transaction_id: "mab.abcdefghijklmnopqrstuvwxyz012345.m12.34" }, content,
  }), "utf8");
}

describe("answerContents", () => {
  it("relates the answer: none in a DM, a reply in a group room, the thread inside a thread", () => {
    expect(relationFor(dm)).toBeUndefined();
    expect(relationFor(group)).toEqual({ "m.in_reply_to": { event_id: "$asked" } });
    expect(relationFor(inThread)).toMatchObject({ rel_type: "m.thread", event_id: "$root", "m.in_reply_to": { event_id: "$asked" } });
  });

  it("mentions the asker in a group room and nobody in a DM; never @room", () => {
    expect(answerContents("hi @room", dm)[0]?.["m.mentions"]).toEqual({ user_ids: [] });
    expect(answerContents("hi @room", group)[0]?.["m.mentions"]).toEqual({ user_ids: ["@alice:x"] });
  });
});

describe("editContent", () => {
  it("a short answer: the fallback is '* ' and the whole new content, which carries no relation", () => {
    const [content] = answerContents("**done**", inThread, "m.text", { forEdit: true });
    const edit = editContent("$placeholder", content ?? {});
    expect(edit["m.relates_to"]).toEqual({ rel_type: "m.replace", event_id: "$placeholder" });
    expect(edit["body"]).toBe("* **done**");
    expect(edit["formatted_body"]).toBe("* <p><strong>done</strong></p>");
    expect(edit["format"]).toBe("org.matrix.custom.html");
    expect(edit["m.new_content"]).toMatchObject({ body: "**done**", msgtype: "m.text" });
    expect((edit["m.new_content"] as Record<string, unknown>)["m.relates_to"]).toBeUndefined();
  });

  it("a long answer: the fallback is the plain start of it, and the edit still fits one event", () => {
    const text = Array.from({ length: 4000 }, (_, i) => `Paragraph ${i} with <https://example.org/${i}> & "quotes".`).join("\n\n");
    const [first] = answerContents(text, group, "m.text", { forEdit: true });
    const edit = editContent("$placeholder", first ?? {});
    expect(String(edit["body"])).toMatch(/^\* Paragraph 0 [\s\S]*…$/);
    expect(edit["formatted_body"]).toBeUndefined();
    expect(Buffer.byteLength(JSON.stringify({ body: edit["body"] }), "utf8")).toBeLessThanOrEqual(EDIT_FALLBACK_MAX_BYTES);
    expect(eventBytes(edit)).toBeLessThan(64 * 1024);
  });

  it("an edit is the same content, key for key and in the same order, as the spread form it replaced (property)", () => {
    // The form editContent had before session 38 (object rest and spread): what clients and the tests above saw.
    const asSpread = (id: string, content: Record<string, unknown>): Record<string, unknown> => {
      const { "m.relates_to": _relation, ...inner } = content;
      const { body: _body, format: _format, formatted_body: _html, ...rest } = inner;
      const body = String(content["body"] ?? "");
      const html = content["formatted_body"];
      const full = typeof html === "string" ? { body: `* ${body}`, format: content["format"], formatted_body: `* ${html}` } : { body: `* ${body}` };
      const fallback = Buffer.byteLength(JSON.stringify(full), "utf8") <= EDIT_FALLBACK_MAX_BYTES ? full
        : { body: `* ${[...body].slice(0, Math.floor((EDIT_FALLBACK_MAX_BYTES - 16) / 6)).join("")}…` };
      return { ...rest, ...fallback, "m.new_content": inner, "m.relates_to": { rel_type: "m.replace", event_id: id } };
    };
    const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "grapheme", minLength: 1300, maxLength: 2000 }));
    const content = fc.record({
      msgtype: fc.constantFrom("m.text", "m.notice"), body: text,
      format: fc.option(fc.constantFrom("org.matrix.custom.html", 7), { nil: undefined }), formatted_body: fc.option(text, { nil: undefined }),
      "m.mentions": fc.constant({}), "m.relates_to": fc.option(fc.constant({ "m.in_reply_to": { event_id: "$q" } }), { nil: undefined }),
      "org.matrix.msc4357.live": fc.option(fc.constant({}), { nil: undefined }),
    }, { requiredKeys: ["body"] });
    fc.assert(fc.property(content, fc.dictionary(fc.constantFrom("a", "__proto__", "z.extra"), fc.integer()), (c, extra) => {
      const whole: Record<string, unknown> = { ...extra, ...c };
      expect(JSON.stringify(editContent("$p", whole))).toBe(JSON.stringify(asSpread("$p", whole)));
    }), { numRuns: 300 });
  });

  it("every edit of a part meant for one fits an event (property)", () => {
    const block = fc.oneof(
      fc.string({ unit: "grapheme", minLength: 1, maxLength: 300 }),
      fc.constantFrom("<https://example.org/a/b/c?d=e&f=g>", "`x` **y** _z_ [l](https://e.org)", "```\nconst a = \"<&>\";\n```", "\u0001\u202e@room 😀"),
    );
    const text = fc.array(block, { minLength: 50, maxLength: 2500 }).map((blocks) => blocks.join("\n\n"));
    fc.assert(fc.property(text, fc.constantFrom(dm, group, inThread), (t, target) => {
      const parts = answerContents(t, target, "m.text", { forEdit: true });
      if (parts[0] !== undefined) expect(eventBytes(editContent("$p", parts[0]))).toBeLessThan(64 * 1024);
      for (const part of parts.slice(1)) expect(eventBytes(part)).toBeLessThan(64 * 1024);
    }), { numRuns: 25 });
  });
});

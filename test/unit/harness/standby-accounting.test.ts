// The standby scenarios' accounting (test/faults/shown-messages.ts, issue 30): a turn counts as answered when a
// client shows the answer, also when the answer is the edit of a placeholder or of a live message. Events built
// with the bot's own content builders, in the shapes it sends.
import { failureNotices, shownMessages } from "../../faults/shown-messages";
import type { ClientEvent } from "../../support/homeserver/types";
import { markLive } from "../../../src/render/live-content";
import { FAILURE_TEXTS } from "../../../src/turns/failure-text";
import { editContent } from "../../../src/turns/reply-content";

let n = 0;
function event(content: Record<string, unknown>): ClientEvent {
  n += 1;
  return { event_id: `$e${n}`, type: "m.room.message", sender: "@bot:localhost", room_id: "!r:localhost", origin_server_ts: n, content: content as ClientEvent["content"] };
}

describe("the standby scenarios count what a client shows", () => {
  it("an answer that took over its placeholder counts, in the edit's text (the first version is the placeholder)", () => {
    const placeholder = event(markLive({ msgtype: "m.notice", body: "…" }));
    const answer = event(editContent(placeholder.event_id, markLive({ msgtype: "m.text", body: "answered: turn 7 + turn 8" })));
    expect(shownMessages([placeholder, answer])).toEqual([{ body: "answered: turn 7 + turn 8", edited: true }]);
  });

  it("a live answer shows its last edit; messages never edited show their own text", () => {
    const live = event(markLive({ msgtype: "m.text", body: "answered: tu" }));
    const digest = event({ msgtype: "m.text", body: "digest 3" });
    const edits = ["answered: turn 1 +", "answered: turn 1 + turn 2"].map((body) => event(editContent(live.event_id, { msgtype: "m.text", body })));
    expect(shownMessages([live, digest, ...edits])).toEqual([
      { body: "answered: turn 1 + turn 2", edited: true }, { body: "digest 3", edited: false },
    ]);
  });

  it("failure notices are named by kind, also when one replaced a placeholder", () => {
    const placeholder = event({ msgtype: "m.notice", body: "…" });
    const messages = shownMessages([placeholder, event(editContent(placeholder.event_id, { msgtype: "m.notice", body: FAILURE_TEXTS.link_lost })),
      event({ msgtype: "m.notice", body: FAILURE_TEXTS.link_lost }), event({ msgtype: "m.notice", body: FAILURE_TEXTS.no_start }),
      event({ msgtype: "m.text", body: "answered: turn 1" })]);
    expect(failureNotices(messages)).toEqual(["link_lost:2", "no_start:1"]);
  });
});

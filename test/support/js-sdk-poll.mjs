// Reads MSC3381 poll events the way Element does, with matrix-js-sdk's own poll support (ESM-only, hence a child
// process): a JSON array of {type, content} on stdin; out, one JSON line per event: a poll start's question, kind,
// max selections and answers, a response's chosen answer ids, or the parse error.
import { readFileSync } from "node:fs";
const { PollStartEvent } = await import("matrix-js-sdk/lib/extensible_events_v1/PollStartEvent.js");
const { PollResponseEvent } = await import("matrix-js-sdk/lib/extensible_events_v1/PollResponseEvent.js");
const { PollEndEvent } = await import("matrix-js-sdk/lib/extensible_events_v1/PollEndEvent.js");

const events = JSON.parse(readFileSync(0, "utf8"));
const out = [];
let poll;
for (const event of events) {
  try {
    if (event.type.endsWith("poll.start")) {
      poll = new PollStartEvent(event);
      out.push({ question: poll.question.text, kind: poll.kind.name, maxSelections: poll.maxSelections,
        answers: poll.answers.map((a) => ({ id: a.id, text: a.text })) });
    } else if (event.type.endsWith("poll.response")) {
      const response = new PollResponseEvent(event);
      if (poll) response.validateAgainst(poll);
      out.push({ spoiled: response.spoiled, answerIds: response.answerIds });
    } else if (event.type.endsWith("poll.end")) {
      const end = new PollEndEvent(event);
      out.push({ ended: end.pollEventId, text: end.closingMessage?.text });
    }
  } catch (e) {
    out.push({ error: String(e) });
  }
}
process.stdout.write(JSON.stringify(out));

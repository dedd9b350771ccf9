// The reference agent's files for the room: a brain's attachment() becomes the CUSTOM matrix.attachment event the
// bot decodes (the same value, bytes base64), after an open reasoning block is closed.
import { EventSchema } from "@ag-ui/core/schemas";
import { AguiDecoder } from "../../../src/agent/run-events";
import { WorkEmitter } from "../../../src/reference-agent/work-emitter";

test("attachment() sends CUSTOM matrix.attachment, which the bot reads back as the same file", () => {
  const sent: Array<Record<string, unknown>> = [];
  const out = new WorkEmitter((e) => sent.push(e)).output();
  out.reasoning("thinking");
  out.attachment({ filename: "chart.png", mimeType: "image/png", bytes: Buffer.from([1, 2, 3]) });
  expect(sent.map((e) => e["type"])).toEqual(["REASONING_START", "REASONING_MESSAGE_START", "REASONING_MESSAGE_CONTENT",
    "REASONING_MESSAGE_END", "REASONING_END", "CUSTOM"]);
  const decoded = new AguiDecoder().decode(EventSchema.parse(sent.at(-1)));
  expect(decoded).toEqual({ ok: true, events: [{ type: "ATTACHMENT",
    attachment: { ok: true, attachment: { filename: "chart.png", mimeType: "image/png", bytes: Buffer.from([1, 2, 3]) } } }] });
});

// The agent's work as AG-UI events (v2 bots): reasoning as one REASONING_START / REASONING_MESSAGE_* /
// REASONING_END block, opened by its first delta and closed before anything else is sent; tool calls as
// TOOL_CALL_START / _ARGS / _END and TOOL_CALL_RESULT (an `error` string when the tool failed, as AG-UI tool
// messages carry it); a file as CUSTOM `matrix.attachment`.
import { randomUUID } from "node:crypto";
import type { RunOutput } from "./brain";
import { ATTACHMENT_EVENT_NAME } from "../media/outgoing";

type WorkOutput = Required<Pick<RunOutput, "reasoning" | "toolCallStart" | "toolCallArgs" | "toolCallEnd" | "toolCallResult" | "attachment">>;

export class WorkEmitter {
  private reasoningId: string | undefined;

  constructor(private readonly send: (event: Record<string, unknown>) => void) {}

  /** Ends the reasoning block, if one is open. */
  closeReasoning(): void {
    const messageId = this.reasoningId;
    if (messageId === undefined) return;
    this.reasoningId = undefined;
    this.send({ type: "REASONING_MESSAGE_END", messageId });
    this.send({ type: "REASONING_END", messageId });
  }

  output(): WorkOutput {
    return {
      reasoning: (delta) => {
        if (delta === "") return;
        if (this.reasoningId === undefined) {
          this.reasoningId = `r-${randomUUID()}`;
          this.send({ type: "REASONING_START", messageId: this.reasoningId });
          this.send({ type: "REASONING_MESSAGE_START", messageId: this.reasoningId, role: "reasoning" });
        }
        this.send({ type: "REASONING_MESSAGE_CONTENT", messageId: this.reasoningId, delta });
      },
      toolCallStart: (toolCallId, name) => {
        this.closeReasoning();
        this.send({ type: "TOOL_CALL_START", toolCallId, toolCallName: name });
      },
      toolCallArgs: (toolCallId, delta) => {
        if (delta !== "") this.send({ type: "TOOL_CALL_ARGS", toolCallId, delta });
      },
      toolCallEnd: (toolCallId) => this.send({ type: "TOOL_CALL_END", toolCallId }),
      toolCallResult: (toolCallId, content, error) => {
        this.closeReasoning();
        this.send({ type: "TOOL_CALL_RESULT", messageId: `t-${randomUUID()}`, toolCallId, content, role: "tool",
          ...(error !== undefined ? { error } : {}) });
      },
      attachment: (file) => {
        this.closeReasoning();
        this.send({ type: "CUSTOM", name: ATTACHMENT_EVENT_NAME, value: { filename: file.filename, mimeType: file.mimeType, data: file.bytes.toString("base64") } });
      },
    };
  }
}

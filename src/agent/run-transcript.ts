// What an HTTP agent's run said, as the history keeps it (history.ts): its text messages and its tool calls
// with their results, in the order they happened. Fed from the run's observer (complete text messages, WORK
// events); a tool call becomes an assistant message carrying it, its result a tool message.
import type { HistoryMessage } from "./history";
import type { WorkEvent } from "./run-events";

type ToolCall = { id: string; type: "function"; function: { name: string; arguments: string } };

export class RunTranscript {
  private readonly messages: HistoryMessage[] = [];
  private readonly calls = new Map<string, ToolCall>();

  text(messageId: string, text: string): void {
    this.messages.push({ id: messageId, role: "assistant", content: text });
  }

  work(event: WorkEvent): void {
    switch (event.kind) {
      case "tool_start": {
        const call: ToolCall = { id: event.toolCallId, type: "function", function: { name: event.name, arguments: "" } };
        this.calls.set(event.toolCallId, call);
        this.messages.push({ id: `${event.toolCallId}~call`, role: "assistant", toolCalls: [call] });
        return;
      }
      case "tool_args": {
        const call = this.calls.get(event.toolCallId);
        if (call) call.function.arguments += event.delta;
        return;
      }
      case "tool_result":
        this.messages.push({ id: `${event.toolCallId}~result`, role: "tool", toolCallId: event.toolCallId, content: event.content,
          ...(event.error !== undefined ? { error: event.error } : {}) });
        return;
      default:
        return;
    }
  }

  /** The run's messages, in order. */
  get recorded(): HistoryMessage[] {
    return [...this.messages];
  }
}

// Event frames as RunEvents: v1 events one to one; v2 (AG-UI 1.0) events through one decoder per run (chunk
// streams and message roles span frames), forgotten when the run ends. Event types not shown are logged once each.
import type { Logger } from "pino";
import type { LinkStats } from "./link-types";
import { BoundedSet, clipForLog } from "./link-util";
import type { EventFrame, EventFrameV2 } from "./protocol";
import type { ProtocolVersion } from "./protocol-v2";
import { AguiDecoder, fromV1, type RunEvent } from "./run-events";

export type WireEvent = { version: 1; frame: EventFrame } | { version: 2; frame: EventFrameV2 };

/** Runs with a decoder at once, at most (a run that never ends must not hold one forever). */
const MAX_DECODERS = 1024;

export class LinkDecoding {
  private readonly decoders = new Map<string, AguiDecoder>();
  private readonly unknownTypes = new BoundedSet<string>(256);
  private version: ProtocolVersion = 1;

  constructor(private readonly log: Logger, private readonly stats: LinkStats) {}

  /** A new connection: its runs start afresh. */
  reset(version: ProtocolVersion): void {
    this.version = version;
    this.decoders.clear();
  }

  forget(runId: string): void {
    this.decoders.delete(runId);
  }

  /** The frame's event as RunEvents; undefined (counted, logged) when it breaks the protocol. */
  decode(wire: WireEvent): RunEvent[] | undefined {
    const frame = wire.frame;
    let events: RunEvent[];
    if (wire.version === 2) {
      const event = wire.frame.event;
      if (event.kind === "unknown") {
        events = [{ type: "UNKNOWN", originalType: event.type }];
      } else {
        if (event.usageRejected !== undefined) {
          this.log.warn({ runId: clipForLog(frame.runId), seq: frame.seq, error: clipForLog(event.usageRejected) }, "agent link: malformed usage left out (the event stands)");
        }
        const decoded = this.decoderFor(frame.runId).decode(event.event);
        if (!decoded.ok) {
          this.stats.framesRejected += 1;
          this.log.warn({ runId: clipForLog(frame.runId), seq: frame.seq, error: decoded.error }, "agent link: event rejected");
          return undefined;
        }
        events = decoded.events;
      }
    } else {
      events = [fromV1(wire.frame.event)];
    }
    for (const e of events) {
      if (e.type === "RUN_FINISHED" || e.type === "RUN_ERROR") this.decoders.delete(frame.runId);
      if (e.type === "UNKNOWN" && !this.unknownTypes.has(e.originalType)) {
        this.unknownTypes.add(e.originalType);
        this.log.info({ type: clipForLog(e.originalType), protocol: this.version }, "agent event type not shown; ignored (logged once per type)");
      }
    }
    return events;
  }

  private decoderFor(runId: string): AguiDecoder {
    let decoder = this.decoders.get(runId);
    if (!decoder) {
      decoder = new AguiDecoder();
      this.decoders.set(runId, decoder);
      if (this.decoders.size > MAX_DECODERS) this.decoders.delete(this.decoders.keys().next().value ?? "");
    }
    return decoder;
  }
}

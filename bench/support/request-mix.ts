// The subject's HTTP requests to the homeserver double during a phase, by kind, counted from the double's side:
// what each turn costs the homeserver besides the reply itself.
import type { Homeserver, RequestRecord } from "../../test/support/homeserver";
import { round } from "./figures";

export type RequestKind = "send" | "typing" | "receipt" | "other";

const ROOM_CALL = /^\/_matrix\/client\/[^/]+\/rooms\/[^/]+\/(send|redact|typing|receipt|read_markers)\//;

/** send: PUT /send and /redact (room events); typing; receipt: /receipt and /read_markers; other: the rest. */
export function requestKind(record: Pick<RequestRecord, "method" | "path">): RequestKind {
  const call = ROOM_CALL.exec(record.path)?.[1];
  if (call === "send" || call === "redact") return "send";
  if (call === "typing") return "typing";
  if (call === "receipt" || call === "read_markers") return "receipt";
  return "other";
}

/** "GET /rooms/{}/joined_members": the path without the API prefix and without ids. */
function shape(record: Pick<RequestRecord, "method" | "path">): string {
  const parts = record.path.replace(/^\/_matrix\/client\/[^/]+/, "").split("/").map((s) => (/[!$@#:]/.test(s) ? "{}" : s));
  return `${record.method} ${parts.join("/")}`;
}

/** Counts the requests made as `userId` from construction until read(). */
export class RequestMix {
  private readonly records: RequestRecord[] = [];
  private readonly unobserve: () => void;

  constructor(hs: Homeserver, private readonly userId: string) {
    // The record's user is filled in while the request is handled: read when the phase is over.
    this.unobserve = hs.observe({ request: (record) => void this.records.push(record) });
  }

  /** Requests per turn, in all and by kind, and the most frequent "other" request (if any). Stops counting. */
  read(turns: number): Record<string, number | string> {
    this.unobserve();
    const counts: Record<RequestKind, number> = { send: 0, typing: 0, receipt: 0, other: 0 };
    const others = new Map<string, number>();
    let all = 0;
    for (const record of this.records) {
      if (record.userId !== this.userId) continue;
      const kind = requestKind(record);
      counts[kind] += 1;
      all += 1;
      if (kind === "other") others.set(shape(record), (others.get(shape(record)) ?? 0) + 1);
    }
    const per = (n: number): number => round(n / Math.max(1, turns), 3);
    const top = [...others].sort((a, b) => b[1] - a[1])[0];
    return {
      requestsPerTurn: per(all), sendsPerTurn: per(counts.send), typingPerTurn: per(counts.typing),
      receiptsPerTurn: per(counts.receipt), otherRequestsPerTurn: per(counts.other),
      ...(top ? { topOtherRequest: `${top[0]} ×${top[1]}` } : {}),
    };
  }
}

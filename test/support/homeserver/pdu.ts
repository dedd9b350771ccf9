// Synapse 1.67's event size limits (synapse/event_auth.py `_check_size_limits`, checked on every event a local
// user creates): user id, room id, state key, type and event id at most 255 characters each, and the whole PDU, as
// canonical JSON, at most 65,536 bytes (MAX_PDU_SIZE); over either, 413 M_TOO_LARGE. The PDU is more than the
// client sees: Synapse measures the event with its auth and prev event ids, depth, origin, hashes, signatures and
// unsigned.age_ts, so this builds that envelope around the event (room version 3+ format, as Synapse's builder
// does) with the room's real auth and prev events, and measures it.
import { canonicalJson } from "./ids";
import type { AppendInput } from "./model";
import type { Room } from "./room";
import { MatrixHttpError } from "./types";

/** synapse.api.constants.MAX_PDU_SIZE */
export const MAX_PDU_BYTES = 65_536;
const MAX_ID_LENGTH = 255;
const SHA256_B64 = "A".repeat(43);
const ED25519_SIG_B64 = "A".repeat(86);

/** The canonical JSON bytes of `input` as Synapse would build its PDU in `room` now. */
export function pduBytes(room: Room, input: AppendInput, serverName: string, now: number): number {
  const pdu: Record<string, unknown> = {
    auth_events: authEventIds(room, input),
    prev_events: room.events.length > 0 ? [room.events[room.events.length - 1]?.event.event_id] : [],
    type: input.type,
    room_id: room.roomId,
    sender: input.sender,
    content: input.content,
    unsigned: { age_ts: now },
    depth: room.events.length + 1,
    prev_state: [],
    origin: serverName,
    origin_server_ts: now,
    hashes: { sha256: SHA256_B64 },
    signatures: { [serverName]: { "ed25519:a_AAAA": ED25519_SIG_B64 } },
  };
  if (input.state_key !== undefined) pdu["state_key"] = input.state_key;
  if (input.redacts !== undefined) pdu["redacts"] = input.redacts;
  return Buffer.byteLength(canonicalJson(pdu), "utf8");
}

/** Throws 413 M_TOO_LARGE where Synapse's `_check_size_limits` would. */
export function checkSizeLimits(room: Room, input: AppendInput, serverName: string, now: number): void {
  if (input.sender.length > MAX_ID_LENGTH) throw tooLarge("'user_id' too large");
  if (room.roomId.length > MAX_ID_LENGTH) throw tooLarge("'room_id' too large");
  if (input.state_key !== undefined && input.state_key.length > MAX_ID_LENGTH) throw tooLarge("'state_key' too large");
  if (input.type.length > MAX_ID_LENGTH) throw tooLarge("'type' too large");
  if (pduBytes(room, input, serverName, now) > MAX_PDU_BYTES) throw tooLarge("event too large");
}

function tooLarge(message: string): MatrixHttpError {
  return new MatrixHttpError(413, "M_TOO_LARGE", message);
}

/** The auth events the spec selects: create (not in v12), power levels, the sender's membership; for a membership
 *  also the join rules and the target's membership. */
function authEventIds(room: Room, input: AppendInput): string[] {
  const ids = new Set<string>();
  const add = (type: string, stateKey = ""): void => {
    const id = room.state(type, stateKey)?.event.event_id;
    if (id !== undefined) ids.add(id);
  };
  if (room.version !== "12") add("m.room.create");
  add("m.room.power_levels");
  add("m.room.member", input.sender);
  if (input.type === "m.room.member" && input.state_key !== undefined) {
    add("m.room.join_rules");
    add("m.room.member", input.state_key);
  }
  return [...ids];
}

// Small Matrix look-ups the composition root needs.
import type Keyv from "keyv";
import { parseRoomEvent, type RoomEvent } from "../matrix/events";
import { enc, type MatrixHttp } from "../matrix/http";

export async function whoami(http: MatrixHttp): Promise<string> {
  const res = await http.request<{ user_id?: unknown }>("GET", "/_matrix/client/v3/account/whoami");
  if (typeof res.user_id !== "string") throw new Error("the homeserver's whoami answer has no user_id");
  return res.user_id;
}

export async function fetchEvent(http: MatrixHttp, roomId: string, eventId: string): Promise<RoomEvent | undefined> {
  try {
    const raw = await http.request("GET", `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`);
    const parsed = parseRoomEvent(raw, roomId);
    return parsed.ok ? parsed.event : undefined;
  } catch {
    return undefined;
  }
}

export async function isJoined(http: MatrixHttp, roomId: string): Promise<boolean> {
  const res = await http.request<{ joined_rooms?: unknown }>("GET", "/_matrix/client/v3/joined_rooms");
  return Array.isArray(res.joined_rooms) && res.joined_rooms.includes(roomId);
}

/** A room id as is; an alias (`#a:b`) resolved through the directory. */
export async function resolveRoomRef(http: MatrixHttp, ref: string): Promise<string> {
  if (!ref.startsWith("#")) return ref;
  const res = await http.request<{ room_id?: unknown }>("GET", `/_matrix/client/v3/directory/room/${enc(ref)}`);
  if (typeof res.room_id !== "string") throw new Error(`the alias ${ref} does not resolve to a room`);
  return res.room_id;
}

/** Lists a namespace (keyv's iterator on a store namespace view). */
export async function* listNamespace<T>(keyv: Keyv<T>): AsyncIterable<[string, unknown]> {
  if (!keyv.iterator) throw new Error("this store cannot list a namespace");
  for await (const [key, value] of keyv.iterator(undefined)) {
    if (typeof key === "string") yield [key, value];
  }
}

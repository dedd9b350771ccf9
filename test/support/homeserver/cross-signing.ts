// Cross-signing keys (Client-Server spec, "Cross-signing"): each user's master, self-signing and user-signing public
// keys (POST /keys/device_signing/upload), and the signatures made with them (POST /keys/signatures/upload). As
// Synapse, the double checks the signatures it is given: the self-signing and user-signing keys must be signed by
// the master key, and a signature uploaded for a device or a master key must verify with the signer's key.
import { createPublicKey, verify } from "node:crypto";
import { canonicalJson } from "./ids";
import type { JsonObject } from "./types";
import { badJson, clone, isJsonObject, MatrixHttpError } from "./types";

export type CrossSigningKind = "master" | "self_signing" | "user_signing";
const KINDS: readonly CrossSigningKind[] = ["master", "self_signing", "user_signing"];

interface UserKeys {
  master?: JsonObject;
  self_signing?: JsonObject;
  user_signing?: JsonObject;
  pos: number;
}

/** The one ed25519 public key of a cross-signing key object (`keys: {"ed25519:<pub>": "<pub>"}`). */
export function publicKeyOf(key: JsonObject | undefined): string | undefined {
  const keys = key?.["keys"];
  if (!isJsonObject(keys)) return undefined;
  const first = Object.values(keys)[0];
  return typeof first === "string" ? first : undefined;
}

/** Verifies `signatures[userId]["ed25519:<publicKey>"]` over the object's canonical JSON. */
export function verifySignature(object: JsonObject, userId: string, publicKey: string): boolean {
  const signatures = object["signatures"];
  const byUser = isJsonObject(signatures) ? signatures[userId] : undefined;
  const signature = isJsonObject(byUser) ? byUser[`ed25519:${publicKey}`] : undefined;
  if (typeof signature !== "string") return false;
  const { signatures: _s, unsigned: _u, ...signed } = object;
  try {
    const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey, "base64").toString("base64url") }, format: "jwk" });
    return verify(null, Buffer.from(canonicalJson(signed)), key, Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}

/** Adds every signature of `from` into `into` (same object otherwise). */
export function mergeSignatures(into: JsonObject, from: JsonObject): void {
  const target = (isJsonObject(into["signatures"]) ? into["signatures"] : (into["signatures"] = {})) as JsonObject;
  const source = from["signatures"];
  if (!isJsonObject(source)) return;
  for (const [user, sigs] of Object.entries(source)) {
    if (!isJsonObject(sigs)) continue;
    target[user] = { ...(isJsonObject(target[user]) ? target[user] : {}), ...clone(sigs) };
  }
}

export class CrossSigningDirectory {
  private readonly byUser = new Map<string, UserKeys>();

  constructor(private readonly bump: () => number) {}

  has(userId: string): boolean {
    return this.byUser.get(userId)?.master !== undefined;
  }

  get(userId: string, kind: CrossSigningKind): JsonObject | undefined {
    const key = this.byUser.get(userId)?.[kind];
    return key ? clone(key) : undefined;
  }

  /** POST /keys/device_signing/upload (after any interactive auth): checks, then stores and announces the keys. */
  upload(userId: string, body: JsonObject): void {
    const current = this.byUser.get(userId);
    const next: UserKeys = { ...current, pos: current?.pos ?? 0 };
    for (const kind of KINDS) {
      const key = body[`${kind}_key`];
      if (key === undefined) continue;
      if (!isJsonObject(key) || key["user_id"] !== userId || !Array.isArray(key["usage"]) || !key["usage"].includes(kind)) {
        throw new MatrixHttpError(400, "M_INVALID_PARAM", `Invalid ${kind} key`);
      }
      if (publicKeyOf(key) === undefined) throw new MatrixHttpError(400, "M_INVALID_PARAM", `Invalid ${kind} key: no public key`);
      next[kind] = clone(key);
    }
    const master = publicKeyOf(next.master);
    if (master === undefined) throw new MatrixHttpError(400, "M_MISSING_PARAM", "Must provide a master key");
    for (const kind of ["self_signing", "user_signing"] as const) {
      const key = next[kind];
      if (key && body[`${kind}_key`] !== undefined && !verifySignature(key, userId, master)) {
        throw new MatrixHttpError(400, "M_INVALID_SIGNATURE", `Invalid signature on ${kind} key`);
      }
    }
    next.pos = this.bump();
    this.byUser.set(userId, next);
  }

  /**
   * A signature upload for one of the user's own cross-signing keys (the master key, signed by a device): merged
   * when it verifies with `signerKey`. Returns false when `keyId` is not the master key's public key.
   */
  signMaster(userId: string, keyId: string, signed: JsonObject, signerKeys: string[]): boolean {
    const record = this.byUser.get(userId);
    if (!record?.master || publicKeyOf(record.master) !== keyId) return false;
    if (!signerKeys.some((k) => verifySignature(signed, userId, k))) throw badJson("Invalid signature");
    mergeSignatures(record.master, signed);
    record.pos = this.bump();
    return true;
  }

  /** The /keys/query fields: everyone's master and self-signing keys, the user-signing key only to its owner. */
  queryFields(requester: string, users: string[]): JsonObject {
    const master: JsonObject = {};
    const selfSigning: JsonObject = {};
    const userSigning: JsonObject = {};
    for (const userId of users) {
      const record = this.byUser.get(userId);
      if (record?.master) master[userId] = clone(record.master);
      if (record?.self_signing) selfSigning[userId] = clone(record.self_signing);
      if (record?.user_signing && userId === requester) userSigning[userId] = clone(record.user_signing);
    }
    return { master_keys: master, self_signing_keys: selfSigning, user_signing_keys: userSigning };
  }

  changedSince(userId: string, since: number): boolean {
    return (this.byUser.get(userId)?.pos ?? 0) > since;
  }
}

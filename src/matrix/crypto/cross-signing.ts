// Cross-signing for the bot's own account: a master, a self-signing and a user-signing key made by the crypto machine
// (crypto-wasm's bootstrapCrossSigning), uploaded, and the bot's device signed with the self-signing key, so that
// people's clients show the device as "verified by its owner" and share keys with it even when set to share only with
// verified devices.
//
// Uploading the keys (POST /keys/device_signing/upload) needs user-interactive auth on homeservers before MSC3967
// (Synapse 1.67: always): the homeserver answers 401 with `flows` and a `session`; the upload is sent again with
// `m.login.password`. Where the homeserver takes a first upload without auth (MSC3967), the bot does it at its first
// start. An appservice user has no password: on Synapse 1.67 there is no path (its requester has no access token id;
// the homeserver answers 500), so appservice mode reports that and goes on without cross-signing.
import type { TrustHttp } from "./trust-http";

/** The crypto-wasm OlmMachine calls used here (the machine under the SDK's engine; see sdk.ts). */
export interface CrossSigningMachine {
  crossSigningStatus(): Promise<{ hasMaster: boolean; hasSelfSigning: boolean; hasUserSigning: boolean }>;
  bootstrapCrossSigning(reset: boolean): Promise<{
    uploadKeysRequest?: { id: string; type: number; body: string } | undefined;
    uploadSigningKeysRequest: { body: string };
    uploadSignaturesRequest: { body: string };
  }>;
  markRequestAsSent(requestId: string, requestType: number, response: string): Promise<unknown>;
}

/** Asked once, only when the homeserver wants the account password. */
export type PasswordSource = () => Promise<string>;

export type CrossSigningOutcome =
  | { status: "uploaded"; withPassword: boolean }
  /** The homeserver wants interactive auth and no password source was given (or it offers no password flow). */
  | { status: "needs-auth"; flows: string[][] }
  /** The homeserver cannot do it for this account at all (appservice users on Synapse 1.67). */
  | { status: "unsupported"; detail: string };

export class CrossSigningError extends Error {
  override readonly name = "CrossSigningError";
}

interface UiaChallenge { session?: unknown; flows?: Array<{ stages?: unknown }> }

const flowsOf = (body: unknown): string[][] =>
  ((body as UiaChallenge | undefined)?.flows ?? []).map((f) => (Array.isArray(f.stages) ? f.stages.filter((s): s is string => typeof s === "string") : []));

/** Whether this device already has its private cross-signing keys (set up earlier). */
export async function hasCrossSigning(machine: CrossSigningMachine): Promise<boolean> {
  const status = await machine.crossSigningStatus();
  return status.hasMaster && status.hasSelfSigning && status.hasUserSigning;
}

/** Whether the homeserver serves the device signed by the account's self-signing key (what other clients check). */
export async function signedOnServer(http: TrustHttp, userId: string, deviceId: string): Promise<boolean> {
  const answer = await http.post("/_matrix/client/v3/keys/query", { device_keys: { [userId]: [deviceId] } });
  if (answer.status !== 200) throw new CrossSigningError(`reading the device's keys failed: ${describe(answer)}`);
  const body = answer.body as { device_keys?: Record<string, Record<string, { signatures?: Record<string, Record<string, unknown>> }>>;
    self_signing_keys?: Record<string, { keys?: Record<string, unknown> }> } | undefined;
  const selfSigning = Object.values(body?.self_signing_keys?.[userId]?.keys ?? {})[0];
  const signatures = body?.device_keys?.[userId]?.[deviceId]?.signatures?.[userId] ?? {};
  return typeof selfSigning === "string" && signatures[`ed25519:${selfSigning}`] !== undefined;
}

/**
 * Makes (or re-sends) the cross-signing identity and signs the device. `password` is asked for only after the
 * homeserver asked for it; the password is sent to the homeserver and nowhere else.
 */
export async function setUpCrossSigning(machine: CrossSigningMachine, http: TrustHttp, opts: { userId: string; password?: PasswordSource }): Promise<CrossSigningOutcome> {
  const requests = await machine.bootstrapCrossSigning(!(await hasCrossSigning(machine)));
  const keysUpload = requests.uploadKeysRequest;
  if (keysUpload) {
    const answer = await http.post("/_matrix/client/v3/keys/upload", JSON.parse(keysUpload.body));
    if (answer.status !== 200) throw new CrossSigningError(`uploading the device keys failed: ${describe(answer)}`);
    await machine.markRequestAsSent(keysUpload.id, keysUpload.type, JSON.stringify(answer.body ?? {}));
  }
  const signingKeys = JSON.parse(requests.uploadSigningKeysRequest.body) as Record<string, unknown>;
  let answer = await http.post("/_matrix/client/v3/keys/device_signing/upload", signingKeys);
  let withPassword = false;
  if (answer.status === 401) {
    const flows = flowsOf(answer.body);
    const session = (answer.body as UiaChallenge | undefined)?.session;
    const passwordFlow = flows.some((f) => f.length === 1 && f[0] === "m.login.password");
    if (!passwordFlow || typeof session !== "string" || !opts.password) return { status: "needs-auth", flows };
    const password = await opts.password();
    answer = await http.post("/_matrix/client/v3/keys/device_signing/upload", { ...signingKeys, auth: {
      type: "m.login.password", identifier: { type: "m.id.user", user: opts.userId }, password, session } });
    withPassword = true;
    if (answer.status === 401) throw new CrossSigningError(`the homeserver refused the password (${describe(answer)})`);
  }
  if (answer.status >= 500) return { status: "unsupported", detail: `the homeserver could not take the keys for this account (${describe(answer)})` };
  if (answer.status !== 200) throw new CrossSigningError(`uploading the cross-signing keys failed: ${describe(answer)}`);
  const signed = await http.post("/_matrix/client/v3/keys/signatures/upload", JSON.parse(requests.uploadSignaturesRequest.body));
  const failures = (signed.body as { failures?: Record<string, unknown> } | undefined)?.failures ?? {};
  if (signed.status !== 200 || Object.keys(failures).length > 0) {
    throw new CrossSigningError(`signing the device failed: ${signed.status !== 200 ? describe(signed) : JSON.stringify(failures).slice(0, 300)}`);
  }
  return { status: "uploaded", withPassword };
}

function describe(answer: { status: number; body: unknown }): string {
  const body = answer.body as { errcode?: unknown; error?: unknown } | undefined;
  return [answer.status, body?.errcode, body?.error].filter((p) => typeof p === "string" || typeof p === "number").join(" ").slice(0, 300);
}

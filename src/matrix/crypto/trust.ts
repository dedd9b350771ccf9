// The device's trust operations as the bot and `npm run crypto` use them: whether it is cross-signed, cross-signing it
// (with the account password when the homeserver asks for one), and the attempt at start that needs no password
// (homeservers with MSC3967 take a first upload without interactive auth).
import type { Logger } from "pino";
import { hasCrossSigning, setUpCrossSigning, signedOnServer, type CrossSigningMachine, type CrossSigningOutcome, type PasswordSource } from "./cross-signing";
import type { TrustHttp } from "./trust-http";

export interface DeviceTrust {
  readonly http: TrustHttp;
  /** Whether this device holds cross-signing keys and the homeserver serves the device signed (an upload may have failed). */
  isCrossSigned(): Promise<boolean>;
  crossSign(password?: PasswordSource): Promise<CrossSigningOutcome>;
  /** The WASM machine, for key backup (key-backup.ts). */
  readonly machine: unknown;
}

export function deviceTrust(session: { machine: unknown; save(): Promise<void> }, http: TrustHttp): DeviceTrust {
  type Machine = CrossSigningMachine & { userId: { toString(): string }; deviceId: { toString(): string } };
  const machine = (): Machine => {
    const m = session.machine as Machine | undefined;
    if (!m) throw new Error("the crypto machine is not ready");
    return m;
  };
  return {
    http,
    get machine() {
      return session.machine;
    },
    isCrossSigned: async () => (await hasCrossSigning(machine()))
      && signedOnServer(http, machine().userId.toString(), machine().deviceId.toString()),
    crossSign: async (password) => {
      try {
        return await setUpCrossSigning(machine(), http, { userId: machine().userId.toString(), ...(password ? { password } : {}) });
      } finally {
        await session.save(); // the private cross-signing keys live in the store
      }
    },
  };
}

/**
 * At start: cross-signs the device when it is not yet and the homeserver allows it without a password. Never throws:
 * the bot works without cross-signing (clients then show its device as not verified by its owner).
 */
export async function crossSignAtStart(trust: DeviceTrust, mode: "client" | "appservice", log: Logger): Promise<void> {
  try {
    if (await trust.isCrossSigned()) return;
    const outcome = await trust.crossSign();
    if (outcome.status === "uploaded") log.info("cross-signing set up: the bot's device is signed by its own account");
    else if (mode === "client") {
      log.info({ outcome: outcome.status }, "the bot's device is not cross-signed: the homeserver asks for the account password; run `npm run crypto -- setup` once (runbook/encryption.md)");
    } else {
      log.warn({ outcome: outcome.status }, "the bot's device is not cross-signed: this homeserver offers appservice users no way to upload cross-signing keys (runbook/encryption.md)");
    }
  } catch (e) {
    log.warn({ error: e instanceof Error ? e.message.slice(0, 300) : String(e).slice(0, 300) }, "cross-signing at start failed; the bot goes on without it");
  }
}

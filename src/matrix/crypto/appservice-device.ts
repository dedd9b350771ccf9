// Appservice mode's crypto device: a device of the bot's own user (the registration's sender), which the bot uses with
// its as_token through device masquerading (MSC3202's `org.matrix.msc3202.device_id`, MSC4326's `device_id`), as
// mautrix bridges do. It is made once, with MSC4190's `PUT /devices/{deviceId}` where the homeserver offers it (as
// under MAS, where `m.login.application_service` is refused), else with an `m.login.application_service` login (whose
// access token is not kept: masquerading makes it unnecessary). Its id is written down before it is made, so a crash
// in between makes the same device again. A new device is made when the crypto store holds none (a device's keys live
// only in its store).
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import { z } from "zod";
import { MatrixRequestError } from "../errors";
import { enc, type MatrixHttp } from "../http";

export const DEVICE_FILE = "appservice-device.json";
const deviceFileSchema = z.object({ userId: z.string(), deviceId: z.string().min(1) });

export class AppserviceDeviceError extends Error {
  constructor(message: string, readonly fix: string) {
    super(`${message}. Fix: ${fix}`);
    this.name = "AppserviceDeviceError";
  }
}

export interface AppserviceDeviceOptions {
  /** Client-Server HTTP with the as_token (requests act as the bot's user). */
  http: MatrixHttp;
  userId: string;
  /** The crypto store directory (DATA_DIR/crypto). */
  dir: string;
  displayName: string;
  log: Logger;
}

/** The device the bot's crypto uses in appservice mode: the stored one, or a new one made now. */
export async function appserviceDevice(opts: AppserviceDeviceOptions, storeRestored: boolean): Promise<string> {
  const file = path.join(opts.dir, DEVICE_FILE);
  const stored = await readDeviceFile(file);
  if (storeRestored) {
    if (stored?.userId !== opts.userId) {
      throw new AppserviceDeviceError(`the crypto store in ${opts.dir} holds a device that was not set up for ${opts.userId} in appservice mode`,
        `move ${opts.dir} aside (the bot then sets up a new device, which cannot read earlier encrypted messages)`);
    }
    await verifyMasquerade(opts, stored.deviceId);
    return stored.deviceId;
  }
  if (stored) opts.log.warn({ previousDevice: stored.deviceId }, "no crypto store for the previous device: setting up a new device");
  const deviceId = `MAB${randomBytes(8).toString("hex").toUpperCase().slice(0, 10)}`;
  await writeDeviceFile(file, { userId: opts.userId, deviceId });
  const how = await createDevice(opts, deviceId);
  await verifyMasquerade(opts, deviceId);
  opts.log.info({ deviceId, how }, "appservice device created for end-to-end encryption");
  return deviceId;
}

/** MSC4190 first (no access token left behind); a homeserver without it answers 404 (Synapse: "Unknown device"). */
async function createDevice(opts: AppserviceDeviceOptions, deviceId: string): Promise<"MSC4190" | "m.login.application_service"> {
  try {
    await opts.http.request("PUT", `/_matrix/client/v3/devices/${enc(deviceId)}`, { body: { display_name: opts.displayName } });
    return "MSC4190";
  } catch (e) {
    if (!(e instanceof MatrixRequestError) || !(e.kind === "not_found" || e.kind === "client")) throw e;
  }
  try {
    // The answer holds an access token for the device; it is dropped unread (the as_token masquerades instead).
    await opts.http.request("POST", "/_matrix/client/v3/login", { body: {
      type: "m.login.application_service", identifier: { type: "m.id.user", user: opts.userId },
      device_id: deviceId, initial_device_display_name: opts.displayName,
    } });
    return "m.login.application_service";
  } catch (e) {
    if (e instanceof MatrixRequestError && e.kind === "client") {
      throw new AppserviceDeviceError(`the homeserver made no device for ${opts.userId}: PUT /devices (MSC4190) and ` +
        `m.login.application_service were refused (${e.describe()})`,
        "use a homeserver that offers either (Synapse: any version; under MAS, Synapse with MSC4190 enabled for this appservice)");
    }
    throw e;
  }
}

/** The homeserver must act as the device when asked to (whoami names it), else nothing encrypted would work. */
async function verifyMasquerade(opts: AppserviceDeviceOptions, deviceId: string): Promise<void> {
  let answer: { device_id?: unknown };
  try {
    answer = await opts.http.request<{ device_id?: unknown }>("GET", "/_matrix/client/v3/account/whoami",
      { query: { user_id: opts.userId, "org.matrix.msc3202.device_id": deviceId, device_id: deviceId } });
  } catch (e) {
    if (e instanceof MatrixRequestError && e.kind === "client") {
      throw new AppserviceDeviceError(`the bot's device ${deviceId} is unknown to the homeserver (${e.describe()})`,
        `if it was deleted, move ${opts.dir} aside so the bot sets up a new device`);
    }
    throw e;
  }
  if (answer.device_id !== deviceId) {
    throw new AppserviceDeviceError("the homeserver does not let the appservice act as its device (device masquerading, MSC3202)",
      "on Synapse, set experimental_features: msc3202_device_masquerading: true in homeserver.yaml and restart it (runbook/encryption.md)");
  }
}

async function readDeviceFile(file: string): Promise<z.infer<typeof deviceFileSchema> | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    const parsed = deviceFileSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // unreadable: treated as absent (a new device is made when the store has none)
  }
}

async function writeDeviceFile(file: string, record: z.infer<typeof deviceFileSchema>): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await fs.open(tmp, "w", 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(record)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
}

// Appservice mode's crypto device against the homeserver double: made with MSC4190's PUT /devices where offered, else
// with m.login.application_service (Synapse 1.67); its id written down and reused while the store holds it; a new one
// when the store does not; a homeserver that does not let the as_token act as the device stops the start with the fix.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { appserviceDevice, AppserviceDeviceError, DEVICE_FILE, type AppserviceDeviceOptions } from "../../../src/matrix/crypto/appservice-device";
import { createMatrixHttp } from "../../../src/matrix/http";
import { startHomeserver, type AppserviceE2eeOptions, type Homeserver } from "../../support/homeserver";
import { log } from "./support";

describe("the appservice's crypto device", () => {
  let hs: Homeserver;
  let dir: string;
  let botUserId: string;

  const start = async (e2ee?: AppserviceE2eeOptions): Promise<void> => {
    hs = await startHomeserver(e2ee ? { appserviceE2ee: e2ee } : {});
    botUserId = hs.addAppservice({ id: "bot", url: null, as_token: "as-secret", hs_token: "hs-secret", sender_localpart: "agentbot",
      namespaces: { users: [] } }).senderUserId;
    dir = mkdtempSync(path.join(tmpdir(), "mab-as-device-"));
  };
  afterEach(async () => {
    await hs?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const options = (): AppserviceDeviceOptions => ({
    http: createMatrixHttp({ homeserverUrl: hs.url, accessToken: "as-secret", requestTimeoutMs: 5000 }),
    userId: botUserId, dir, displayName: "Agent Bot", log,
  });
  const devicesOnServer = async (): Promise<unknown> =>
    options().http.request("GET", "/_matrix/client/v3/devices");
  const stored = (): unknown => JSON.parse(readFileSync(path.join(dir, DEVICE_FILE), "utf8"));

  it("on Synapse 1.67 (no MSC4190) makes the device with m.login.application_service, writes its id down, reuses it", async () => {
    await start();
    const deviceId = await appserviceDevice(options(), false);
    expect(deviceId).toMatch(/^MAB[0-9A-F]{10}$/);
    expect(stored()).toEqual({ userId: botUserId, deviceId });
    expect(hs.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      `PUT /_matrix/client/v3/devices/${deviceId} 404`, "POST /_matrix/client/v3/login 200", "GET /_matrix/client/v3/account/whoami 200",
    ]);
    expect(await devicesOnServer()).toEqual({ devices: [{ device_id: deviceId }] });
    // The next start, with the store restored: the same device, checked, nothing made.
    expect(await appserviceDevice(options(), true)).toBe(deviceId);
    expect(hs.requests.filter((r) => r.path.endsWith("/login"))).toHaveLength(1);
  });

  it("where the homeserver offers MSC4190 (as under MAS, without appservice login) makes it with PUT /devices", async () => {
    await start({ fields: "stable", deviceManagement: true, login: false });
    const deviceId = await appserviceDevice(options(), false);
    expect(await devicesOnServer()).toEqual({ devices: [{ device_id: deviceId, display_name: "Agent Bot" }] });
    expect(hs.requests.filter((r) => r.path.endsWith("/login"))).toEqual([]);
  });

  it("makes a new device when the store holds none (the old keys are gone), and says so", async () => {
    await start();
    const first = await appserviceDevice(options(), false);
    const second = await appserviceDevice(options(), false);
    expect(second).not.toBe(first);
    expect(stored()).toEqual({ userId: botUserId, deviceId: second });
  });

  it("stops with the fix when the homeserver does not let the as_token act as the device", async () => {
    await start({ deviceMasquerading: false });
    const error = await appserviceDevice(options(), false).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppserviceDeviceError);
    expect(String(error)).toMatch(/device masquerading.*msc3202_device_masquerading: true/);
  });

  it("stops with the fix when the stored device is gone from the homeserver, or the store is not this appservice's", async () => {
    await start({ fields: "stable", deviceManagement: true });
    const deviceId = await appserviceDevice(options(), false);
    await options().http.request("DELETE", `/_matrix/client/v3/devices/${deviceId}`);
    await expect(appserviceDevice(options(), true)).rejects.toThrow(/unknown to the homeserver.*move .* aside/);
    rmSync(path.join(dir, DEVICE_FILE));
    await expect(appserviceDevice(options(), true)).rejects.toThrow(/not set up for @agentbot:localhost in appservice mode/);
    writeFileSync(path.join(dir, DEVICE_FILE), JSON.stringify({ userId: "@someone:else", deviceId }));
    await expect(appserviceDevice(options(), true)).rejects.toThrow(AppserviceDeviceError);
  });

  it("stops with the fix when neither MSC4190 nor the appservice login is offered", async () => {
    await start({ login: false });
    await expect(appserviceDevice(options(), false)).rejects.toThrow(/PUT \/devices \(MSC4190\) and m\.login\.application_service were refused/);
    expect(existsSync(path.join(dir, DEVICE_FILE))).toBe(true); // written before: the next start makes that same device
  });
});

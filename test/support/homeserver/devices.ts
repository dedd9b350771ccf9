// Devices per user, as the homeserver's devices table: made by a login (each access token has its device), by an
// appservice's `PUT /devices/{deviceId}` (MSC4190), listed by `GET /devices`. An appservice masquerades as a device
// only when it exists here (MSC3202 / MSC4326).

export interface DeviceRecord {
  deviceId: string;
  displayName?: string;
  /** Stream-free creation order, for stable listings. */
  created: number;
}

export class DeviceRegistry {
  private readonly byUser = new Map<string, Map<string, DeviceRecord>>();
  private counter = 0;

  /** Records the device; "exists" when the user had it already (its display name is then left alone). */
  add(userId: string, deviceId: string, displayName?: string): "created" | "exists" {
    let devices = this.byUser.get(userId);
    if (!devices) this.byUser.set(userId, (devices = new Map()));
    if (devices.has(deviceId)) return "exists";
    devices.set(deviceId, { deviceId, created: (this.counter += 1), ...(displayName !== undefined ? { displayName } : {}) });
    return "created";
  }

  has(userId: string, deviceId: string): boolean {
    return this.byUser.get(userId)?.has(deviceId) ?? false;
  }

  get(userId: string, deviceId: string): DeviceRecord | undefined {
    return this.byUser.get(userId)?.get(deviceId);
  }

  setDisplayName(userId: string, deviceId: string, displayName: string | undefined): void {
    const device = this.get(userId, deviceId);
    if (!device) return;
    if (displayName === undefined) delete device.displayName;
    else device.displayName = displayName;
  }

  remove(userId: string, deviceId: string): boolean {
    return this.byUser.get(userId)?.delete(deviceId) ?? false;
  }

  /** The user's device ids, oldest first. */
  list(userId: string): string[] {
    return [...(this.byUser.get(userId)?.values() ?? [])].sort((a, b) => a.created - b.created).map((d) => d.deviceId);
  }
}

// What of an appservice transaction reaches the bot's crypto device, under each name homeservers have used:
// Synapse 1.67 (de.sorunome.msc2409.to_device, org.matrix.msc3202.device_one_time_key_counts), the MSC's and later
// Synapse's (org.matrix.msc3202.device_one_time_keys_count), and the stable ones (MSC4203, MSC3202).
import { cryptoDigestPart, cryptoSectionsFor, missingEncryptionFlags } from "../../../src/matrix/appservice-crypto";

const BOT = "@agentbot:example.org";
const device = { userId: BOT, deviceId: "MABDEVICE" };
const olm = (n: number, to = BOT, toDevice = "MABDEVICE") => ({
  to_user_id: to, to_device_id: toDevice, type: "m.room.encrypted", sender: "@alice:example.org", content: { n },
});

describe("encryption sections of an appservice transaction", () => {
  it("reads Synapse 1.67's names, keeps only what is addressed to the bot's device, and drops the addressing", () => {
    const body = {
      events: [],
      "de.sorunome.msc2409.ephemeral": [],
      "de.sorunome.msc2409.to_device": [olm(1), olm(2, BOT, "OTHERDEVICE"), olm(3, "@agentbot_x:example.org"), "junk", olm(4)],
      "org.matrix.msc3202.device_lists": { changed: ["@alice:example.org", 7], left: [] },
      "org.matrix.msc3202.device_one_time_key_counts": { [BOT]: { MABDEVICE: { signed_curve25519: 12 }, OTHERDEVICE: { signed_curve25519: 1 } } },
      "org.matrix.msc3202.device_unused_fallback_key_types": { [BOT]: { MABDEVICE: ["signed_curve25519"] } },
    };
    expect(cryptoSectionsFor(body, device)).toEqual({
      toDevice: 2,
      sections: {
        to_device: { events: [
          { type: "m.room.encrypted", sender: "@alice:example.org", content: { n: 1 } },
          { type: "m.room.encrypted", sender: "@alice:example.org", content: { n: 4 } },
        ] },
        device_lists: { changed: ["@alice:example.org"], left: [] },
        device_one_time_keys_count: { signed_curve25519: 12 },
        device_unused_fallback_key_types: ["signed_curve25519"],
      },
    });
  });

  it("reads the MSC's count name (later Synapse sends both) and the stable names, stable first", () => {
    const msc = { events: [], "org.matrix.msc3202.device_one_time_keys_count": { [BOT]: { MABDEVICE: { signed_curve25519: 5 } } },
      "org.matrix.msc3202.device_one_time_key_counts": { [BOT]: { MABDEVICE: { signed_curve25519: 4 } } } };
    expect(cryptoSectionsFor(msc, device)?.sections.device_one_time_keys_count).toEqual({ signed_curve25519: 5 });
    const stable = {
      events: [], to_device: [olm(9)], "de.sorunome.msc2409.to_device": [olm(9)],
      device_lists: { changed: [], left: ["@bob:example.org"] },
      device_one_time_keys_count: { [BOT]: { MABDEVICE: { signed_curve25519: 50, curve25519: 2 } } },
      device_unused_fallback_key_types: { [BOT]: { MABDEVICE: [] } },
    };
    expect(cryptoSectionsFor(stable, device)).toEqual({ toDevice: 1, sections: {
      to_device: { events: [{ type: "m.room.encrypted", sender: "@alice:example.org", content: { n: 9 } }] },
      device_lists: { changed: [], left: ["@bob:example.org"] },
      device_one_time_keys_count: { signed_curve25519: 50, curve25519: 2 },
      device_unused_fallback_key_types: [],
    } });
  });

  it("says 0 one-time keys for a device listed without any (Synapse leaves the count out), and nothing for an unlisted one", () => {
    const empty = { events: [], "org.matrix.msc3202.device_one_time_key_counts": { [BOT]: { MABDEVICE: {} } } };
    expect(cryptoSectionsFor(empty, device)?.sections).toEqual({ device_one_time_keys_count: { signed_curve25519: 0 } });
    // Unknown is not zero, and no fallback list is not "no unused fallback key" (which would make the device upload one).
    const otherOnly = { events: [], "org.matrix.msc3202.device_one_time_key_counts": { "@agentbot_x:example.org": { D: {} } },
      "org.matrix.msc3202.device_unused_fallback_key_types": { [BOT]: { OTHER: [] } } };
    expect(cryptoSectionsFor(otherOnly, device)).toBeUndefined();
    expect(cryptoSectionsFor({ events: [], "de.sorunome.msc2409.to_device": [], "org.matrix.msc3202.device_lists": { changed: [], left: [] } }, device))
      .toBeUndefined();
  });

  it("digests the encryption fields: none gives the old digest; other to-device messages give another", () => {
    expect(cryptoDigestPart({ events: [{ event_id: "$a" }], "de.sorunome.msc2409.ephemeral": [] })).toBe("");
    const one = cryptoDigestPart({ events: [], "de.sorunome.msc2409.to_device": [olm(1)] });
    expect(one).toMatch(/^[\w-]{22}$/);
    expect(cryptoDigestPart({ events: [], "de.sorunome.msc2409.to_device": [olm(1)] })).toBe(one);
    expect(cryptoDigestPart({ events: [], "de.sorunome.msc2409.to_device": [olm(2)] })).not.toBe(one);
    expect(cryptoDigestPart({ events: [], to_device: [olm(1)] })).not.toBe(one);
  });

  it("names the registration flags encryption needs that are missing", () => {
    expect(missingEncryptionFlags({ "de.sorunome.msc2409.push_ephemeral": true, receive_ephemeral: true, "org.matrix.msc3202": true })).toEqual([]);
    expect(missingEncryptionFlags({ "org.matrix.msc3202": "true" })).toEqual(["de.sorunome.msc2409.push_ephemeral", "receive_ephemeral", "org.matrix.msc3202"]);
  });
});

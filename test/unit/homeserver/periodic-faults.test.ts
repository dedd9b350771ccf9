// Contract: the double's sustained faults (failEvery: every n-th matching request until a deadline) and replies
// lost after the homeserver committed the request (afterHandling), over real HTTP.
import { startHomeserver, type Homeserver } from "../../support/homeserver";
import { MatrixTestUser } from "../../support/matrix-test-user";

describe("homeserver double: periodic faults and lost replies", () => {
  let hs: Homeserver;
  let alice: MatrixTestUser;
  let roomId: string;
  const send = (txnId: string) => alice.request("PUT", `rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txnId}`, { body: { body: txnId } });

  beforeEach(async () => {
    hs = await startHomeserver();
    const account = hs.addUser("alice");
    alice = new MatrixTestUser(hs.url, account);
    roomId = hs.createRoom(account.userId, { name: "R" });
  });
  afterEach(() => hs.close());

  it("failEvery answers every n-th matching request (the first included) until the deadline, then nothing more", async () => {
    hs.failEvery({ method: "PUT", pathIncludes: "/send/" }, { status: 429, errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 100 },
      { every: 2, untilMs: Date.now() + 60_000 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await send(`t${i}`)).status);
    expect(statuses).toEqual([429, 200, 429, 200, 429]);
    expect((await alice.request("GET", "account/whoami")).status).toBe(200); // other requests untouched
    expect(hs.pendingFaults).toBe(1);

    hs.clearFaults();
    const untilMs = Date.now() + 1_000;
    hs.failEvery({ pathIncludes: "/send/" }, { status: 503, errcode: "M_UNKNOWN" }, { every: 1, untilMs });
    expect((await send("during")).status).toBe(503);
    await hs.waitFor(() => Date.now() > untilMs, { what: "the fault's deadline passed" });
    expect((await send("after")).status).toBe(200);
    expect(hs.pendingFaults).toBe(0);
  });

  it("afterHandling commits the request, then loses the answer: a retry with the same txnId gets the same event", async () => {
    hs.failNext({ pathIncludes: "/send/" }, { dropConnection: true, afterHandling: true });
    await expect(send("once")).rejects.toThrow();
    expect(hs.sent({ roomId, type: "m.room.message" })).toHaveLength(1); // it was stored

    hs.failNext({ pathIncludes: "/send/" }, { status: 502, afterHandling: true });
    expect((await send("once")).status).toBe(502);
    const retried = await send("once");
    expect(retried.status).toBe(200);
    expect(hs.sent({ roomId, type: "m.room.message" })).toHaveLength(1); // idempotent per txnId
  });
});

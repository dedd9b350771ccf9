// The store lease against real PostgreSQL and Redis servers: exactly one holder at a time (also when many race),
// fencing tokens that only grow (across expiry, release and takeover), renewals refused to a holder that lost it,
// and the Lease's local deadline: a holder that cannot renew stops before anyone else can take over.
import pino from "pino";
import { Lease, LeaseLostError, openLeaseStore, type LeaseStore } from "../../../src/lease";
import { parseStoreUrl } from "../../../src/store";
import { describeEachBackend, freshStore, type TestStore } from "../../support/backends";
import { waitFor } from "../../support/wait";

const log = pino({ level: "silent" });

describeEachBackend("store lease", (backend) => {
  let store: TestStore;
  const opened: LeaseStore[] = [];
  const leases: Lease[] = [];
  const open = (): LeaseStore => {
    const lease = openLeaseStore(parseStoreUrl(store.url), 5000, () => undefined);
    if (!lease) throw new Error("no lease store");
    opened.push(lease);
    return lease;
  };
  const lease = (leaseMs: number, extra: Partial<ConstructorParameters<typeof Lease>[0]> = {}): Lease => {
    const made = new Lease({ store: open(), leaseMs, instance: "/data/a", log, onLost: () => undefined, ...extra });
    leases.push(made);
    return made;
  };

  beforeEach(async () => {
    store = await freshStore(backend);
  });
  afterEach(async () => {
    for (const l of leases.splice(0)) await l.release();
    await Promise.all(opened.splice(0).map((s) => s.close().catch(() => undefined)));
    await store.drop();
  });

  it("one holder at a time: a second is refused while the first holds it, takes it once it expired, with a larger token", async () => {
    const a = open();
    const b = open();
    const first = await a.acquire("a", 300);
    expect(first).toBeGreaterThan(0);
    expect(await b.acquire("b", 60_000)).toBeUndefined();
    expect(await a.renew("a", first as number, 300)).toBe(true);
    const second = await waitFor(async () => (await b.acquire("b", 60_000)) ?? false, { what: "b takes the expired lease" });
    expect(second).toBeGreaterThan(first as number);
    expect(await a.renew("a", first as number, 60_000)).toBe(false); // the former holder cannot renew it back
    expect(await b.read()).toEqual(expect.objectContaining({ holder: "b", token: second }));
  });

  it("of 12 processes racing for a free lease exactly one gets it", async () => {
    const stores = Array.from({ length: 12 }, () => open());
    const tokens = await Promise.all(stores.map((s, i) => s.acquire(`p${i}`, 60_000)));
    expect(tokens.filter((t) => t !== undefined)).toHaveLength(1);
  });

  it("renewal needs the holder and its token; a release frees it at once and tokens keep growing", async () => {
    const a = open();
    const token = (await a.acquire("a", 60_000)) as number;
    expect(await a.renew("b", token, 60_000)).toBe(false);
    expect(await a.renew("a", token + 1, 60_000)).toBe(false);
    await a.release("b", token); // not the holder: nothing happens
    expect(await a.acquire("b", 60_000)).toBeUndefined();
    await a.release("a", token);
    const next = await a.acquire("b", 60_000);
    expect(next).toBe(token + 1);
  });

  it("a held lease is taken only with its current token (a holder known dead), never with another", async () => {
    const a = open();
    const token = (await a.acquire("a", 60_000)) as number;
    expect(await a.acquire("b", 60_000, token + 5)).toBeUndefined();
    const stolen = await a.acquire("b", 60_000, token);
    expect(stolen).toBe(token + 1);
    expect(await a.renew("a", token, 60_000)).toBe(false);
  });

  it("Lease: a standby waits while the active renews, and takes over once the active stops renewing", async () => {
    const active = lease(1500);
    const first = await active.acquire(50, () => false, () => undefined);
    expect(active.held()).toBe(true);
    let waitingFor: unknown;
    const standby = lease(1500, { instance: "/data/b" });
    let standbyToken: number | undefined;
    const taking = standby.acquire(50, () => false, (holder) => { waitingFor = holder; }).then((t) => { standbyToken = t; });
    await waitFor(() => waitingFor !== undefined, { what: "the standby reports whom it waits for" });
    expect(waitingFor).toEqual(active.holder);
    // While the active renews (every 500 ms), two lease lengths pass without the standby getting in.
    const renewedUntil = Date.now() + 3000;
    await waitFor(() => Date.now() > renewedUntil || standbyToken !== undefined, { what: "two lease lengths" });
    expect(standbyToken).toBeUndefined();
    await expect(active.whenHeld("send")).resolves.toBeUndefined();
    await active.release();
    await taking;
    expect(standbyToken).toBeGreaterThan(first);
    expect(standby.held()).toBe(true);
  });

  it("Lease: a holder whose lease was taken learns it at its next renewal and refuses every send afterwards", async () => {
    let lost: string | undefined;
    const failures: string[] = [];
    const active = lease(900, { onLost: (why) => { lost = why; }, onRenewalFailed: (why) => failures.push(why) });
    const token = await active.acquire(50, () => false, () => undefined);
    // What /metrics reads (lease_active, lease_fencing_token, lease_deadline_seconds, lease_renewed_seconds_ago).
    const held = active.status();
    expect(held).toMatchObject({ active: true, token });
    expect(held.deadlineInMs).toBeGreaterThan(0);
    expect(held.deadlineInMs).toBeLessThanOrEqual(900 - active.marginMs);
    expect(held.renewedAgoMs).toBeGreaterThanOrEqual(0);
    expect(await open().acquire("intruder", 60_000, token)).toBe(token + 1);
    await waitFor(() => lost, { what: "the active notices it lost the lease" });
    expect(lost).toMatch(/refused its renewal/);
    expect(failures).toEqual(["refused"]);
    expect(active.status()).toEqual({ active: false });
    expect(active.held()).toBe(false);
    await expect(active.whenHeld("send")).rejects.toThrow(LeaseLostError);
  });

  it("Lease: a holder that cannot reach the store holds every send from its local deadline on, and is lost once the store refuses it", async () => {
    let lost: string | undefined;
    const real = open();
    let cut = false;
    const cutOff: LeaseStore = { acquire: (...a) => real.acquire(...a), read: () => real.read(), close: () => real.close(),
      release: (...a) => real.release(...a),
      renew: (...a) => (cut ? Promise.reject(new Error("connection lost")) : real.renew(...a)) };
    const failures: string[] = [];
    const active = new Lease({ store: cutOff, leaseMs: 1000, instance: "/data/a", log, onLost: (why) => { lost = why; },
      onRenewalFailed: (why) => failures.push(why) });
    leases.push(active);
    await active.acquire(50, () => false, () => undefined);
    cut = true;
    const other = open();
    await waitFor(async () => (await other.acquire("other", 60_000)) ?? false, { what: "another process takes the lease" });
    // By the time the server let another in, the local deadline had passed: sends wait instead of going out.
    expect(active.held()).toBe(false);
    // What /metrics shows meanwhile: still active with its renewal overdue (a negative deadline), or already lost;
    // never a deadline that still holds while another process holds the lease.
    const status = active.status();
    expect(status.active ? (status.deadlineInMs ?? 0) < 0 : status).toEqual(status.active ? true : { active: false });
    expect(failures.length).toBeGreaterThan(0);
    expect(new Set(failures)).toEqual(new Set(["error"]));
    let settled: string | undefined;
    const send = active.whenHeld("send").then(() => { settled = "sent"; }, (e: unknown) => { settled = e instanceof LeaseLostError ? "refused" : String(e); });
    cut = false; // the store answers again: it refuses the renewal (another instance holds the lease)
    await send;
    expect(settled).toBe("refused");
    expect(lost).toBeDefined(); // refused by the store, or no renewal within a lease past the deadline: either way, lost
  });

  it("Lease: the same instance restarted (same host and DATA_DIR, old process gone) takes its lease at once", async () => {
    const before = lease(60_000);
    const token = await before.acquire(50, () => false, () => undefined);
    const restarted = lease(60_000, { isAlive: () => false });
    expect(await restarted.acquire(50, () => false, () => undefined)).toBe(token + 1);
    // Another instance (another DATA_DIR) must wait for the lease instead.
    let waited = false;
    let cancelled = false;
    const other = lease(60_000, { instance: "/data/b", isAlive: () => false });
    const attempt = other.acquire(20, () => cancelled, () => { waited = true; });
    await waitFor(() => waited, { what: "the other instance waits" });
    cancelled = true;
    await expect(attempt).rejects.toThrow(/stopped while waiting/);
  });
}, ["postgres", "redis"]);

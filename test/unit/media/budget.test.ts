import { ByteBudget } from "../../../src/media/budget";

describe("ByteBudget (MEDIA_MAX_INFLIGHT_BYTES)", () => {
  it("grants at once while there is room and makes later reservations wait, in order", async () => {
    const budget = new ByteBudget(100);
    const a = await budget.reserve(60);
    const order: string[] = [];
    const b = budget.reserve(50).then((r) => (order.push("b"), r));
    const c = budget.reserve(10).then((r) => (order.push("c"), r));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]); // c would fit, but b came first
    a?.release();
    const [rb, rc] = await Promise.all([b, c]);
    expect(order).toEqual(["b", "c"]);
    expect(budget.inUse).toBe(60);
    rb?.release();
    rc?.release();
    rc?.release();
    expect(budget.inUse).toBe(0);
  });

  it("gives back what a download did not use when it shrinks", async () => {
    const budget = new ByteBudget(100);
    const r = await budget.reserve(100);
    const waiting = budget.reserve(70);
    r?.shrink(30);
    expect((await waiting)?.bytes).toBe(70);
    expect(budget.inUse).toBe(100);
  });

  it("caps one reservation at the total and ends a wait when its signal aborts", async () => {
    const budget = new ByteBudget(100);
    const all = await budget.reserve(1_000);
    expect(all?.bytes).toBe(100);
    const controller = new AbortController();
    const waiting = budget.reserve(1, controller.signal);
    controller.abort();
    expect(await waiting).toBeUndefined();
    all?.release();
    expect(budget.inUse).toBe(0);
  });
});

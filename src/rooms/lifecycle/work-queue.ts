// A bounded background work queue: at most `concurrency` tasks run at once, at most `maxQueued` wait, each key
// at most once (queued or running). Groups (e.g. one per space) take turns, so one huge space cannot keep a
// small one waiting behind thousands of its children. A task's failure is logged, never thrown.
import type { Logger } from "pino";

export type AddResult = "queued" | "duplicate" | "full" | "stopped";

interface Task {
  key: string;
  group: string;
  run: () => Promise<void>;
}

export class FairWorkQueue {
  private readonly groups = new Map<string, Task[]>();
  /** Group names in turn order: the head runs next, then moves to the back. */
  private readonly turns: string[] = [];
  private readonly keys = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private queued = 0;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: { concurrency: number; maxQueued: number; log: Logger; name: string }) {}

  get size(): number {
    return this.queued;
  }

  get active(): number {
    return this.running.size;
  }

  add(group: string, key: string, run: () => Promise<void>): AddResult {
    if (this.stopped) return "stopped";
    if (this.keys.has(key)) return "duplicate";
    if (this.queued >= this.opts.maxQueued) return "full";
    this.keys.add(key);
    let tasks = this.groups.get(group);
    if (!tasks) {
      tasks = [];
      this.groups.set(group, tasks);
      this.turns.push(group);
    }
    tasks.push({ key, group, run });
    this.queued += 1;
    this.pump();
    return "queued";
  }

  /** Drops the group's waiting tasks (e.g. the space was left). Returns how many. */
  dropGroup(group: string): number {
    const tasks = this.groups.get(group) ?? [];
    for (const task of tasks) this.keys.delete(task.key);
    this.queued -= tasks.length;
    this.groups.delete(group);
    const at = this.turns.indexOf(group);
    if (at >= 0) this.turns.splice(at, 1);
    this.settleIdle();
    return tasks.length;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.queued === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops everything waiting; resolves when the running tasks finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const group of [...this.groups.keys()]) this.dropGroup(group);
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    this.settleIdle();
  }

  private next(): Task | undefined {
    while (this.turns.length > 0) {
      const group = this.turns.shift() as string;
      const tasks = this.groups.get(group);
      const task = tasks?.shift();
      if (tasks && tasks.length > 0) this.turns.push(group);
      else this.groups.delete(group);
      if (task) return task;
    }
    return undefined;
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.opts.concurrency) {
      const task = this.next();
      if (!task) break;
      this.queued -= 1;
      const done: Promise<void> = Promise.resolve()
        .then(task.run)
        .catch((e: unknown) => this.opts.log.warn({ queue: this.opts.name, key: task.key, err: String(e) }, "background task failed"))
        .finally(() => {
          this.running.delete(done);
          this.keys.delete(task.key);
          this.pump();
          this.settleIdle();
        });
      this.running.add(done);
    }
  }

  private settleIdle(): void {
    if (this.queued !== 0 || this.running.size !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

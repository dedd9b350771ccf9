// Pending prompts, durable: one record per paused run (all its interrupts), an index of the records, and a key per
// prompt event (a reaction or a vote names the prompt, not the run). Write order: the record first, then the index
// and the prompt keys; a record missing from the index is never left behind because the index is written before
// any prompt is posted, and removed last.
import type Keyv from "keyv";
import { z } from "zod";

const answerSchema = z.object({
  status: z.enum(["resolved", "cancelled"]),
  payload: z.unknown().optional(),
  /** Who answered (absent: expired or cancelled). */
  by: z.string().optional(),
  /** What the prompt is edited to show. */
  shown: z.string(),
});
export type PromptAnswer = z.infer<typeof answerSchema>;

const promptSchema = z.object({
  interruptId: z.string(),
  kind: z.enum(["approval", "choice", "text"]),
  options: z.array(z.string()).optional(),
  text: z.string(),
  /** When it expires (ms since the epoch): the earlier of the interrupt's expiresAt and APPROVAL_TIMEOUT_MS. */
  expiresAt: z.number(),
  eventId: z.string().optional(),
  answer: answerSchema.optional(),
  /** The prompt was edited to show its answer. */
  shown: z.boolean().optional(),
});
export type Prompt = z.infer<typeof promptSchema>;

export const pausedRunSchema = z.object({
  /** The interrupted run's id (the resume run is named after it). */
  runId: z.string(),
  roomId: z.string(),
  threadKey: z.string(),
  threadRootId: z.string().optional(),
  isDirect: z.boolean(),
  /** The person whose message the run answered; the prompts reply to that message in group rooms. */
  asker: z.string(),
  askerName: z.string().optional(),
  askerEventId: z.string(),
  /** posting: prompts being sent; waiting: for answers; resuming: the resume run is under way. */
  state: z.enum(["posting", "waiting", "resuming"]),
  prompts: z.array(promptSchema).min(1),
  createdAt: z.number(),
});
export type PausedRun = z.infer<typeof pausedRunSchema>;

const INDEX = "index";

export class PausedRuns {
  constructor(private readonly kv: Keyv<unknown>) {}

  /** Every paused run recorded (a record that fails to parse is dropped: it cannot be answered). */
  async all(): Promise<PausedRun[]> {
    const ids = await this.ids();
    const runs: PausedRun[] = [];
    for (const id of ids) {
      const run = await this.get(id);
      if (run) runs.push(run);
    }
    return runs;
  }

  async get(key: string): Promise<PausedRun | undefined> {
    const parsed = pausedRunSchema.safeParse(await this.kv.get(`run:${key}`));
    return parsed.success ? parsed.data : undefined;
  }

  /** The paused run a prompt event belongs to. */
  async byPrompt(eventId: string): Promise<string | undefined> {
    const key = await this.kv.get(`prompt:${eventId}`);
    return typeof key === "string" ? key : undefined;
  }

  async save(key: string, run: PausedRun): Promise<void> {
    await this.kv.set(`run:${key}`, run);
    const ids = await this.ids();
    if (!ids.includes(key)) await this.kv.set(INDEX, [...ids, key]);
    for (const p of run.prompts) if (p.eventId !== undefined) await this.kv.set(`prompt:${p.eventId}`, key);
  }

  async remove(key: string): Promise<void> {
    const run = await this.get(key);
    for (const p of run?.prompts ?? []) if (p.eventId !== undefined) await this.kv.delete(`prompt:${p.eventId}`);
    await this.kv.delete(`run:${key}`);
    await this.kv.set(INDEX, (await this.ids()).filter((id) => id !== key));
  }

  private async ids(): Promise<string[]> {
    const parsed = z.array(z.string()).safeParse(await this.kv.get(INDEX));
    return parsed.success ? parsed.data : [];
  }
}

// Agent brains for end-to-end tests (plugged into the reference agent through Scenario.start({ brain })).
import type { RunInput } from "../../src/agent/protocol";
import type { AgentBrain, RunContextInfo, RunOutput } from "../../src/reference-agent/brain";

/** Resolves after `ms`, or rejects as soon as `signal` aborts (the run was cancelled or the bot went away). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new Error("aborted"));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Error("aborted"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** One TEXT_MESSAGE, streamed in the given chunks. */
export function say(out: RunOutput, ...chunks: string[]): void {
  const id = out.startMessage();
  for (const chunk of chunks) out.delta(id, chunk);
  out.endMessage(id);
}

export interface SeenRun {
  input: RunInput;
  info: RunContextInfo;
  contents: string[];
}

/** A brain that records every run and answers through `answer`. */
export function recordingBrain(
  answer: (run: SeenRun, out: RunOutput, signal: AbortSignal) => Promise<void> | void,
): { brain: AgentBrain; seen: SeenRun[] } {
  const seen: SeenRun[] = [];
  const brain: AgentBrain = {
    async run(input, out, signal, info) {
      const run = { input, info, contents: input.messages.map((m) => m.content) };
      seen.push(run);
      await answer(run, out, signal);
    },
  };
  return { brain, seen };
}

/**
 * A brain whose first run waits until `release()` (or until it is aborted); every run then answers
 * `answered: <contents joined with " + ">`.
 */
export function gatedBrain(): { brain: AgentBrain; seen: SeenRun[]; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { brain, seen } = recordingBrain(async (run, out, signal) => {
    if (seen.length === 1) {
      await new Promise<void>((resolve, reject) => {
        signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
        void gate.then(resolve);
      });
    }
    say(out, `answered: ${run.contents.join(" + ")}`);
  });
  return { brain, seen, release };
}

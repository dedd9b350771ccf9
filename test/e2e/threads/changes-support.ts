// A brain for the edit and redaction tests: it records every run, answers `answered: <contents joined " + ">`, and
// holds the runs it is told to hold: it shows "working on: <contents>" live at once, then waits until released or
// cancelled (a cancelled run ends as the agent ends it: RUN_ERROR cancelled).
import type { RunInput } from "../../../src/agent/protocol";
import type { AgentBrain } from "../../../src/reference-agent/brain";
import type { MatrixTestUser } from "../../support/matrix-test-user";
import { longAnswer } from "../live/support";

/** Words of the answer to a question asking for a "long answer": over 64 KiB, more than one Matrix event. */
export const LONG_WORDS = 12_000;

export interface HeldRun {
  input: RunInput;
  contents: string[];
  /** Whether the bot cancelled it. */
  cancelled: boolean;
}

export interface ChangesBrain {
  brain: AgentBrain;
  runs: HeldRun[];
  /** Runs whose contents include this text are held until release(). */
  hold(text: string): void;
  release(): void;
  /** How many runs were started so far whose contents include `text`. */
  runsWith(text: string): HeldRun[];
}

export const ANSWER = (...contents: string[]): string => `answered: ${contents.join(" + ")}`;

/** Answers in `parts` Matrix messages when a content asks for it ("in N parts"). */
function partsOf(contents: string[]): number {
  const match = /in (\d) parts/.exec(contents.join(" "));
  return match ? Number(match[1]) : 1;
}

export function changesBrain(): ChangesBrain {
  const held = new Set<string>();
  let release!: () => void;
  let released = new Promise<void>((r) => (release = r));
  const runs: HeldRun[] = [];
  const brain: AgentBrain = {
    async run(input, out, signal) {
      const contents = input.messages.map((m) => m.content);
      const run: HeldRun = { input, contents, cancelled: false };
      runs.push(run);
      if (contents.some((c) => [...held].some((h) => c.includes(h)))) {
        const id = out.startMessage();
        out.delta(id, `working on: ${contents.join(" + ")}`);
        await new Promise<void>((resolve, reject) => {
          signal.addEventListener("abort", () => {
            run.cancelled = true;
            reject(new Error("aborted"));
          }, { once: true });
          void released.then(resolve);
        });
        out.delta(id, " … done.");
        out.endMessage(id);
      }
      if (contents.some((c) => c.includes("long answer"))) {
        const id = out.startMessage();
        out.delta(id, longAnswer(LONG_WORDS)); // beyond one event: the bot splits it
        out.endMessage(id);
        return;
      }
      const parts = partsOf(contents);
      for (let p = 0; p < parts; p += 1) {
        const id = out.startMessage();
        out.delta(id, p === 0 ? ANSWER(...contents) : `part ${p + 1}`);
        out.endMessage(id);
      }
    },
  };
  return {
    brain, runs,
    hold: (text) => void held.add(text),
    release: () => {
      held.clear();
      release();
      released = new Promise<void>((r) => (release = r));
    },
    runsWith: (text) => runs.filter((r) => r.contents.some((c) => c.includes(text))),
  };
}

/** Edits `eventId` into `body`, as Element does (a "* " fallback body, m.new_content, m.replace). */
export function edit(person: MatrixTestUser, roomId: string, eventId: string, body: string, extra: Record<string, unknown> = {}): Promise<string> {
  return person.send(roomId, "m.room.message", {
    msgtype: "m.text", body: `* ${body}`, "m.new_content": { msgtype: "m.text", body, ...extra },
    "m.relates_to": { rel_type: "m.replace", event_id: eventId },
  });
}

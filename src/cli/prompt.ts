// Asking the operator for values on a terminal (the password without echo), or reading them line by line
// from a pipe when stdin is not a terminal (scripts and tests).
import * as readline from "node:readline";
import { Writable } from "node:stream";

export interface Prompter {
  /** Asks for a visible value; `fallback` is used for an empty answer. */
  ask(question: string, fallback?: string): Promise<string>;
  /** Asks for a secret: nothing typed is echoed. */
  askSecret(question: string): Promise<string>;
  close(): void;
}

/** The operator pressed Ctrl-C or closed the input. */
export class PromptCancelled extends Error {
  override readonly name = "PromptCancelled";
}

interface TtyInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
}

/** A terminal prompter: readline over a muted output stream while a secret is typed. */
export function terminalPrompter(input: TtyInput, output: NodeJS.WritableStream): Prompter {
  let muted = false;
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done): void {
      if (!muted) output.write(chunk);
      done();
    },
  });
  const rl = readline.createInterface({ input, output: sink, terminal: true });
  let cancel: ((error: Error) => void) | undefined;
  rl.on("SIGINT", () => cancel?.(new PromptCancelled("cancelled")));
  rl.on("close", () => cancel?.(new PromptCancelled("the input ended")));

  const question = (text: string): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      cancel = reject;
      rl.question(text, (answer) => {
        cancel = undefined;
        resolve(answer);
      });
    });

  return {
    async ask(text, fallback) {
      const shown = fallback !== undefined && fallback !== "" ? `${text} [${fallback}]: ` : `${text}: `;
      const answer = (await question(shown)).trim();
      return answer === "" && fallback !== undefined ? fallback : answer;
    },
    async askSecret(text) {
      output.write(`${text}: `);
      muted = true;
      try {
        return await question("");
      } finally {
        muted = false;
        output.write("\n");
      }
    },
    close: () => {
      cancel = undefined;
      rl.close();
    },
  };
}

/** Reads answers from a non-terminal input, one line each, in the order they are asked. */
export function pipedPrompter(input: NodeJS.ReadableStream): Prompter {
  let lines: Promise<string[]> | undefined;
  let next = 0;
  const readAll = (): Promise<string[]> =>
    (lines ??= new Promise<string[]>((resolve, reject) => {
      const chunks: Buffer[] = [];
      input.on("data", (chunk: Buffer | string) => chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)));
      input.on("end", () => resolve(Buffer.concat(chunks).toString("utf8").split(/\r?\n/)));
      input.on("error", reject);
    }));
  const nextLine = async (what: string): Promise<string> => {
    const all = await readAll();
    const line = all[next];
    next += 1;
    if (line === undefined || (line === "" && next >= all.length)) {
      throw new PromptCancelled(`stdin ended before the ${what} (stdin is not a terminal: give one value per line)`);
    }
    return line;
  };
  return {
    async ask(text, fallback) {
      const answer = (await nextLine(text.toLowerCase())).trim();
      return answer === "" && fallback !== undefined ? fallback : answer;
    },
    askSecret: (text) => nextLine(text.toLowerCase()),
    close: () => undefined,
  };
}

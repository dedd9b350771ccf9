// The terminal prompts of `npm run login`: what is typed for the password is never echoed.
import { PassThrough } from "node:stream";
import { terminalPrompter } from "../../../src/cli/prompt";

function fakeTerminal(): { input: PassThrough & { isTTY: boolean; setRawMode: (on: boolean) => void }; output: PassThrough; shown: () => string } {
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
  const output = new PassThrough();
  let text = "";
  output.on("data", (chunk: Buffer) => (text += chunk.toString()));
  return { input, output, shown: () => text };
}

describe("terminal prompts", () => {
  it("echoes the visible answers and not the password", async () => {
    const { input, output, shown } = fakeTerminal();
    const prompter = terminalPrompter(input, output);
    const url = prompter.ask("Homeserver URL", "https://matrix.example.org");
    input.write("\r");
    expect(await url).toBe("https://matrix.example.org");
    const user = prompter.ask("Bot account");
    input.write("bot\r");
    expect(await user).toBe("bot");
    const password = prompter.askSecret("Password");
    input.write("hunter2-secret\r");
    expect(await password).toBe("hunter2-secret");
    prompter.close();
    expect(shown()).toContain("Homeserver URL [https://matrix.example.org]: ");
    expect(shown()).toContain("bot");
    expect(shown()).toContain("Password: ");
    expect(shown()).not.toContain("hunter2");
  });

  it("cancels on Ctrl-C", async () => {
    const { input, output } = fakeTerminal();
    const prompter = terminalPrompter(input, output);
    const password = prompter.askSecret("Password");
    input.write("\u0003");
    await expect(password).rejects.toThrow("cancelled");
    prompter.close();
  });
});

// The agent's prompts on Synapse 1.67 in client mode (the scenarios: support/prompt-scenarios.ts); the bot is the
// promptbot account.
import { describePrompts } from "./support/prompt-scenarios";

describePrompts("client", () => ({ account: "promptbot", label: "prompts" }), "unstable");

// The scenarios in appservice mode: Synapse pushes transactions to the bot's listener (the registration written by
// `npm run register`), the bot acts as @agentbot:localhost with the as_token.
import { describeModeScenarios } from "./support/scenarios";

describeModeScenarios("appservice");

// The scenarios in client mode: the bot is an ordinary account (made with register.sh) reading /sync.
import { describeModeScenarios } from "./support/scenarios";

describeModeScenarios("client");

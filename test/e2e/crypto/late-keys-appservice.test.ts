// Late room keys in appservice mode (Synapse 1.67's transaction fields): the double holds back the room key that would
// reach the bot's device in a transaction; once it is pushed, the message is answered exactly once and the room's
// notice edited to say it was read after all (matrix-js-sdk with Rust crypto as Alice's client).
import { EncryptedAppserviceWorld } from "../../support/appservice-e2ee-world";
import { scaled } from "../../support/wait";
import { expectAnsweredOnceAndNoticeWithdrawn, holdBotKeys, sendUnreadable, type LateKeyScene } from "./late-keys-support";

jest.setTimeout(scaled(120_000));

describe("appservice mode: a message whose room key arrives late", () => {
  const world = new EncryptedAppserviceWorld();
  let scene: LateKeyScene;

  beforeAll(async () => {
    await world.start({ fields: "synapse-1.67" });
    await world.startBot();
    // (the registration test/support/bot-harness.ts writes has the id "matrix-agent-bot")
    scene = { hs: world.hs, alice: world.alice, botUserId: world.botUserId, bot: () => world.bot, inbound: { appserviceId: "matrix-agent-bot" } };
  });
  afterAll(() => world.stop());

  it("answers it once when the key is pushed late, and withdraws the notice by an edit", async () => {
    const room = await world.encryptedRoomWithBot({ isDirect: true });
    holdBotKeys(scene);
    await sendUnreadable(scene, room, "a late key, pushed");
    expect(world.hs.releaseToDevice(world.botUserId)).toBeGreaterThan(0);
    await expectAnsweredOnceAndNoticeWithdrawn(scene, room, "a late key, pushed");
  });
});

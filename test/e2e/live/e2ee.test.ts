// A live answer in an encrypted room, read by a real matrix-js-sdk client (Rust crypto, a child process): the
// built bot (a child process, MATRIX_E2EE=true) streams it encrypted, every event of it, each under the event
// size limit as ciphertext; the client decrypts the first event marked live, live edits, and a final edit that
// is not marked and holds the whole answer.
import { EncryptedDm } from "../../support/encrypted-dm";
import type { PeerMessage } from "../../support/js-sdk-peer";
import { decryptedAnswerWritten, decryptedAsSent, expectEncryptedLiveAnswer, LIVE_TEST_ENV, longAnswer, startStreamingAgent } from "./support";
import { scaled } from "../../support/wait";

jest.setTimeout(scaled(120_000));

describe("a live answer in an encrypted room", () => {
  const answer = longAnswer(3_000);
  const w = new EncryptedDm();
  beforeAll(() => w.start((hs, botUserId) => startStreamingAgent({ protocol: 2, hs, botUserId, answer: () => answer, deltas: 10 }), LIVE_TEST_ENV));
  afterAll(() => w.stop());

  it("streams encrypted; the client decrypts live edits and a final edit with the whole answer", async () => {
    await w.alice.send(w.room, "a long answer, in secret");

    const fromBot = (ms: PeerMessage[]): PeerMessage[] => decryptedAsSent(ms, w.botUserId);
    const seen = await w.alice.waitMessages(w.room, (ms) => decryptedAnswerWritten(fromBot(ms), answer) && ms, "the whole answer, decrypted", 90_000);
    expectEncryptedLiveAnswer(w.hs, w.room, w.botUserId, fromBot(seen), answer);
  });
});

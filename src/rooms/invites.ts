// Invites: accepted from allowed users (joining through the given servers), declined with a reason otherwise.
import type { Logger } from "pino";
import type { InviteNotice } from "../matrix/events";
import { enc, type MatrixHttp } from "../matrix/http";
import { matchesAnyUserGlob } from "./user-glob";

export class InviteHandler {
  constructor(private readonly http: MatrixHttp, private readonly allowedUsers: readonly string[], private readonly log: Logger,
    private readonly onJoined?: (invite: InviteNotice) => Promise<void>,
    /** Inviters whose invites are handled where they are sent: an agent's own user (src/app/agent-users.ts). */
    private readonly handledElsewhere?: (inviter: string) => boolean) {}

  isAllowed(userId: string): boolean {
    return matchesAnyUserGlob(userId, this.allowedUsers);
  }

  async handle(invite: InviteNotice): Promise<void> {
    if (this.handledElsewhere?.(invite.inviter) === true) return;
    if (!this.isAllowed(invite.inviter)) {
      this.log.info({ roomId: invite.roomId, inviter: invite.inviter }, "invite declined: inviter not in ALLOWED_USERS");
      await this.http.request("POST", `/_matrix/client/v3/rooms/${enc(invite.roomId)}/leave`, {
        body: { reason: "This bot only accepts invites from its allowed users." },
      }).catch((e: unknown) => this.log.warn({ roomId: invite.roomId, err: String(e) }, "could not decline invite"));
      return;
    }
    await this.http.request("POST", `/_matrix/client/v3/join/${enc(invite.roomId)}`, {
      query: { via: invite.via, server_name: invite.via }, body: {},
    });
    this.log.info({ roomId: invite.roomId, inviter: invite.inviter, direct: invite.isDirect }, "joined on invite");
    await this.onJoined?.(invite);
  }
}

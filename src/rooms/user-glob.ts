// User-id globs as used by ALLOWED_USERS and BOT_ADMINS: `*` matches any run of characters, nothing else is
// special. `@*:example.org` is everyone on example.org; `@alice:example.org` is one user.

const cache = new Map<string, RegExp>();

function regexFor(glob: string): RegExp {
  let re = cache.get(glob);
  if (!re) {
    const body = glob.split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*");
    re = new RegExp(`^${body}$`);
    cache.set(glob, re);
  }
  return re;
}

export function matchesUserGlob(userId: string, glob: string): boolean {
  return regexFor(glob).test(userId);
}

export function matchesAnyUserGlob(userId: string, globs: readonly string[]): boolean {
  return globs.some((g) => matchesUserGlob(userId, g));
}

/** The default policy: users of the bot's own server. */
export function ownServerGlob(botUserId: string): string {
  const server = botUserId.slice(botUserId.indexOf(":") + 1);
  return `@*:${server}`;
}

/** Who the bot serves: ALLOWED_USERS when set, else the users of its own server. */
export function allowedUserGlobs(allowedUsers: readonly string[] | undefined, botUserId: string): readonly string[] {
  return allowedUsers ?? [ownServerGlob(botUserId)];
}

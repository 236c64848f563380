// Which messages are still \Recent (IMAP4rev1, RFC 3501 section 2.3.2): a message is recent to
// exactly one session, the first to SELECT its folder (or to have it selected read-write when the
// message arrives) after it arrived. Per folder this node keeps the highest UID a session has
// claimed so far; messages above it are recent to whoever looks next, and the first SELECT takes
// them. The state lives in this node's memory only (one number per folder opened since start):
// nodes of a cluster each have their own, and after a restart, until a session opens a folder, its
// messages that arrived (internal date) since the start count as recent.
export class RecentMessages {
  private readonly claimedUpTo = new Map<number, number>();

  constructor(private readonly since: number) {}

  /**
   * The UIDs among `messages` (ascending) still recent to the next session; `claim` (a read-write
   * IMAP4rev1 session) takes them, so that no other session sees them as recent again. EXAMINE
   * looks without claiming (RFC 3501 section 6.3.2).
   */
  take(folderId: number, messages: readonly { uid: number; internalDate?: number }[], claim: boolean): number[] {
    const upTo = this.claimedUpTo.get(folderId);
    let recent: number[];
    if (upTo === undefined) {
      // A message without a date is one arriving now.
      recent = messages.filter((m) => (m.internalDate ?? this.since) >= this.since).map((m) => m.uid);
    } else {
      // The recent ones are the last few: walk back from the end instead of over a large folder.
      let from = messages.length;
      while (from > 0 && messages[from - 1]!.uid > upTo) from--;
      recent = messages.slice(from).map((m) => m.uid);
    }
    if (claim) this.claimedUpTo.set(folderId, Math.max(upTo ?? 0, messages.at(-1)?.uid ?? 0));
    return recent;
  }
}

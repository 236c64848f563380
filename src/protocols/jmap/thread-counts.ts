// Mailbox totalThreads and unreadThreads (RFC 8621 2): the threads with an Email in the folder, and
// those with an Email in the folder without $seen (the RFC's "simplest solution"). Counted from the
// folder index (mailbox/folder-index.ts), the in-memory copy of the folder's rows that IMAP SELECT and
// SEARCH already keep up to date by MODSEQ, so the cost is one pass over the folder's messages in
// memory and no query beyond the MODSEQ check; the counts are kept with that copy (the index hands
// out the same array until the folder changes), so asking again for an unchanged folder is free.
import type { IndexedMessage } from '../../mailbox/folder-index.ts';
import type { Folder } from '../../mailbox/folders.ts';
import type { MessageDeps } from '../../mailbox/messages.ts';

export interface ThreadCounts {
  totalThreads: number;
  unreadThreads: number;
}

const counted = new WeakMap<readonly IndexedMessage[], ThreadCounts>();

export async function threadCounts(mail: MessageDeps, folder: Pick<Folder, 'id'>): Promise<ThreadCounts> {
  const messages = await mail.index.messages(mail.db, folder.id);
  let counts = counted.get(messages);
  if (!counts) {
    const all = new Set<number>();
    const unread = new Set<number>();
    for (const message of messages) {
      all.add(message.threadId);
      if (!message.flags.includes('\\Seen')) unread.add(message.threadId);
    }
    counts = { totalThreads: all.size, unreadThreads: unread.size };
    counted.set(messages, counts);
  }
  return counts;
}

// What IMAP reads of a whole folder again and again (at SELECT, SEARCH, SORT, THREAD): each
// message's UID, flags, MODSEQ, size, arrival and content hash. Kept in memory per folder and
// brought up to date by asking the store only for what changed after the MODSEQ the copy has — the
// same catch-up clients do with CONDSTORE — so it is right with several nodes writing too: the store
// stays the truth, this is a copy that knows how old it is.
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { changedSince, expungedSince, folderModseq, type ChangedRow } from './messages.ts';
import { SearchHeaderCache } from './search-headers.ts';
import { BodyTextCache } from './body-text.ts';
import { StructureCache } from './structure-cache.ts';

export interface IndexedMessage {
  uid: number;
  flags: string[];
  modseq: number;
  size: number;
  internalDate: number;
  blobHash: string;
  /** The JMAP Email and Thread (migration 22). */
  emailId: number;
  threadId: number;
}

interface Entry {
  /** The folder's HIGHESTMODSEQ this copy includes (it may include a little more: reads are not one snapshot). */
  modseq: number;
  byUid: Map<number, IndexedMessage>;
  /** byUid's values in UID order; rebuilt after a change. */
  sorted: IndexedMessage[] | undefined;
}

const columns = ['uid', 'flags', 'modseq', 'size', 'internal_date', 'blob_hash', 'email_id', 'thread_id'] as const;

function toIndexed(row: ChangedRow): IndexedMessage {
  return {
    uid: Number(row.uid),
    flags: row.flags ? row.flags.split(' ') : [],
    modseq: Number(row.modseq),
    size: Number(row.size),
    internalDate: Number(row.internal_date),
    blobHash: row.blob_hash,
    emailId: Number(row.email_id),
    threadId: Number(row.thread_id),
  };
}

export class FolderIndex {
  /** The header fields SEARCH compares, by content. */
  readonly searchHeaders = new SearchHeaderCache();
  /** Envelopes and MIME trees FETCH reads, by content. */
  readonly structures = new StructureCache();
  /** Decoded body texts for BODY/TEXT search, by content. */
  readonly bodyTexts = new BodyTextCache();
  private readonly entries = new Map<number, Entry>();
  /** One refresh at a time per folder: two interleaved catch-ups could undo an expunge. */
  private readonly refreshing = new Map<number, Promise<IndexedMessage[]>>();
  private held = 0;
  /** Each `messages` array in arrival order (see byArrival), made once per array: a change makes a new array. */
  private readonly arrivalViews = new WeakMap<IndexedMessage[], IndexedMessage[]>();

  /** @param maxMessages how many messages all copies together may hold; the least recently used folders go first. */
  constructor(private readonly maxMessages = 500_000) {}

  /**
   * Every message of the folder in UID order, as of at least `highestModseq` (the folder's current
   * HIGHESTMODSEQ, read from the store when not given). The array and its messages are shared: never
   * change them.
   */
  async messages(db: Kysely<Database>, folderId: number, highestModseq?: number): Promise<IndexedMessage[]> {
    for (;;) {
      const pending = this.refreshing.get(folderId);
      if (pending) {
        await pending.catch(() => {});
        continue;
      }
      const current = highestModseq ?? (await folderModseq(db, folderId)) ?? 0;
      if (this.refreshing.has(folderId)) continue; // another caller started while this one read
      const entry = this.entries.get(folderId);
      if (entry && entry.modseq >= current) {
        this.touch(folderId, entry);
        return (entry.sorted ??= [...entry.byUid.values()].sort((a, b) => a.uid - b.uid));
      }
      const work = (entry ? this.catchUp(db, folderId, entry, current) : this.load(db, folderId, current)).finally(() =>
        this.refreshing.delete(folderId),
      );
      this.refreshing.set(folderId, work);
      return work;
    }
  }

  /**
   * The folder's messages by arrival: INTERNALDATE, then UID, oldest first (JMAP's receivedAt order).
   * UIDs grow with arrival, so this is usually `messages` itself; an APPEND with an older date makes a
   * sorted copy, kept until the folder changes. Shared like `messages`: never change it.
   */
  async byArrival(db: Kysely<Database>, folderId: number, highestModseq?: number): Promise<IndexedMessage[]> {
    const messages = await this.messages(db, folderId, highestModseq);
    let view = this.arrivalViews.get(messages);
    if (!view) {
      view = messages.every((m, i) => i === 0 || messages[i - 1]!.internalDate <= m.internalDate)
        ? messages
        : [...messages].sort((a, b) => a.internalDate - b.internalDate || a.uid - b.uid);
      this.arrivalViews.set(messages, view);
    }
    return view;
  }

  private async load(db: Kysely<Database>, folderId: number, modseq: number): Promise<IndexedMessage[]> {
    const rows = await db
      .selectFrom('messages')
      .select(columns)
      .where('mailbox_id', '=', folderId)
      .orderBy('uid')
      .execute();
    const sorted = rows.map(toIndexed);
    this.store(folderId, { modseq, byUid: new Map(sorted.map((m) => [m.uid, m])), sorted });
    return sorted;
  }

  private async catchUp(
    db: Kysely<Database>,
    folderId: number,
    entry: Entry,
    modseq: number,
  ): Promise<IndexedMessage[]> {
    const changed = await changedSince.rows(db, { folderId, modseq: entry.modseq });
    const expunged = await expungedSince.rows(db, { folderId, modseq: entry.modseq });
    const before = entry.byUid.size;
    for (const row of changed) entry.byUid.set(Number(row.uid), toIndexed(row));
    for (const row of expunged) entry.byUid.delete(Number(row.uid));
    entry.modseq = modseq;
    entry.sorted = [...entry.byUid.values()].sort((a, b) => a.uid - b.uid);
    this.held += entry.byUid.size - before;
    this.touch(folderId, entry);
    this.evict(folderId);
    return entry.sorted;
  }

  private store(folderId: number, entry: Entry) {
    const previous = this.entries.get(folderId);
    if (previous) this.held -= previous.byUid.size;
    this.entries.delete(folderId);
    if (entry.byUid.size > this.maxMessages) return; // too big to keep: read it each time
    this.entries.set(folderId, entry);
    this.held += entry.byUid.size;
    this.evict(folderId);
  }

  /** Most recently used last (Map order). */
  private touch(folderId: number, entry: Entry) {
    this.entries.delete(folderId);
    this.entries.set(folderId, entry);
  }

  private evict(keep: number) {
    for (const [id, entry] of this.entries) {
      if (this.held <= this.maxMessages) return;
      if (id === keep) continue;
      this.entries.delete(id);
      this.held -= entry.byUid.size;
    }
  }
}

// The mailbox an import writes into. Messages go in through the mailbox's own append (UID and
// MODSEQ from the folder row, the quota rule, content to the blob store or inline, metadata once
// per content), as IMAP APPEND stores them, with the import key as delivery key: a message already
// imported into a folder is never added again. Nothing here runs the mail flow: imported mail is
// not delivered (no Sieve, no forwarding, no Delivered-To), it is put where it was.
import type { Kysely } from 'kysely';
import { invalid } from '../errors.ts';
import { appendMessage } from '../mailbox/append.ts';
import { placeContentInThread } from '../mailbox/conversation-threads.ts';
import {
  createFolder,
  defaultFolders,
  ensureDefaultFolders,
  findFolder,
  folderDelimiter,
  listFolders,
  normalizeFolderName,
  type Folder,
} from '../mailbox/folders.ts';
import { computeMetadata, ensureMetadata, storeMetadata } from '../mailbox/message-metadata.ts';
import { applyFlagChange } from '../mailbox/messages.ts';
import { fitsQuota, QuotaExceeded } from '../mailbox/quota.ts';
import { batches } from '../store/batches.ts';
import type { BlobStore } from '../store/blobs/blob-store.ts';
import { writeInlineBlob } from '../store/blobs/inline-blob.ts';
import { groupCommit } from '../store/commit-modes.ts';
import type { Dialect } from '../store/database.ts';
import type { Database } from '../store/schema.ts';
import type { ReceivedContent } from './message-content.ts';

export interface ImportStore {
  db: Kysely<Database>;
  dialect: Dialect;
  blobs: BlobStore;
}

export interface MailOwner {
  id: number;
  tenantId: number;
  address: string;
  quotaBytes: number | null;
}

/** Special uses whose folder every mailbox has (mailbox/folders.ts): a source's folder of that use goes there. */
export const mappedSpecialUses = defaultFolders.flatMap((f) => (f.specialUse ? [f.specialUse] : []));

/** Folder names that mean a special use when the source does not say (Maildir, mbox files, readpst's output). */
const specialUseNames: Record<string, string> = {
  sent: '\\Sent',
  'sent items': '\\Sent',
  'sent messages': '\\Sent',
  'sent mail': '\\Sent',
  drafts: '\\Drafts',
  draft: '\\Drafts',
  trash: '\\Trash',
  'deleted items': '\\Trash',
  'deleted messages': '\\Trash',
  junk: '\\Junk',
  spam: '\\Junk',
  'junk e-mail': '\\Junk',
  'junk email': '\\Junk',
  archive: '\\Archive',
  archives: '\\Archive',
};

/** The special use a top-level folder's name suggests, if any. */
export function specialUseOfName(name: string): string | undefined {
  return name.includes(folderDelimiter) ? undefined : specialUseNames[name.toLowerCase()];
}

export interface AppendOptions {
  flags: string[];
  internalDate: number;
  key: string;
  /** Header lines the message had before its shared content (a delivered copy's Return-Path, Received…). */
  prefix?: string;
}

export class MailTarget {
  private readonly folders = new Map<string, Folder>();

  private constructor(
    private readonly store: ImportStore,
    readonly owner: MailOwner,
    private readonly now: () => number,
  ) {}

  static async open(store: ImportStore, owner: MailOwner, now: () => number = Date.now): Promise<MailTarget> {
    await ensureDefaultFolders(store.db, owner, now());
    return new MailTarget(store, owner, now);
  }

  /**
   * The folder a source folder goes into: INBOX to INBOX; one of the special uses every mailbox has
   * into the owner's folder of that use, whatever either is called; any other by its name (levels
   * separated by "/"), created with its parents when missing.
   */
  async folderFor(name: string, specialUse?: string): Promise<Folder> {
    if (specialUse && mappedSpecialUses.includes(specialUse)) {
      const all = await listFolders(this.store.db, this.owner.id);
      const found = all.find((f) => f.special_use === specialUse);
      if (found) return found;
      const standard = defaultFolders.find((f) => f.specialUse === specialUse)!;
      return this.named(standard.name, specialUse);
    }
    return this.named(name.toUpperCase() === 'INBOX' ? 'INBOX' : name, null);
  }

  private async named(name: string, specialUse: string | null): Promise<Folder> {
    const normalized = normalizeFolderName(name);
    const cached = this.folders.get(normalized);
    if (cached) return cached;
    const levels = normalized.split(folderDelimiter);
    let folder: Folder | undefined;
    for (let depth = 1; depth <= levels.length; depth++) {
      const path = levels.slice(0, depth).join(folderDelimiter);
      folder = await findFolder(this.store.db, this.owner.id, path);
      if (!folder) {
        const use = depth === levels.length ? specialUse : null;
        folder = await createFolder(this.store.db, this.owner, path, use, this.now());
      }
    }
    this.folders.set(normalized, folder!);
    return folder!;
  }

  /** Which of these import keys the folder already holds. */
  async existingKeys(folder: Folder, keys: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    // The messages table is the mailbox's; this reads only the delivery keys append.ts writes.
    for (const batch of batches([...new Set(keys)])) {
      const rows = await this.store.db
        .selectFrom('messages')
        .select('delivery_key')
        .where('mailbox_id', '=', folder.id)
        .where('delivery_key', 'in', batch)
        .execute();
      for (const row of rows) if (row.delivery_key) found.add(row.delivery_key);
    }
    return found;
  }

  /**
   * Appends received content as a message of `folder`; false when a message with this key was there
   * already. Throws QuotaExceeded when it does not fit, as APPEND would refuse it.
   */
  async append(folder: Folder, content: ReceivedContent, options: AppendOptions): Promise<boolean> {
    if (content.size === 0) throw invalid('empty-message', 'the message is empty');
    const now = this.now();
    // Metadata is computed from the whole content, as delivery does: the one place a large message
    // is held in memory, one message at a time.
    const computed = content.inline ? computeMetadata(content.inline.data) : undefined;
    if (!content.inline) await ensureMetadata(this.store, content.hash, now);
    const flags = applyFlagChange([], 'add', storableFlags(options.flags));
    const prefix = options.prefix ?? '';
    const size = content.size + Buffer.byteLength(prefix);
    return groupCommit(this.store.db, async (trx) => {
      if (!(await fitsQuota(trx, this.owner.id, this.owner.quotaBytes, size)))
        throw new QuotaExceeded(this.owner.quotaBytes!);
      if (content.inline) {
        await writeInlineBlob(trx, content.inline, now);
        await storeMetadata(trx, this.store.dialect, content.hash, computed!, now);
      }
      const appended = await appendMessage(
        trx,
        {
          mailboxId: folder.id,
          tenantId: folder.tenant_id,
          blobHash: content.hash,
          prefix,
          size,
          flags,
          internalDate: options.internalDate,
          deliveryKey: options.key,
          thread: await placeContentInThread(trx, folder.principal_id, content.hash),
        },
        now,
      );
      return appended.added;
    });
  }
}

const systemFlags = ['\\seen', '\\answered', '\\flagged', '\\deleted', '\\draft'];

/**
 * Flags a message row can keep: the five system flags (\Recent is the session's, never stored) and
 * keywords that are IMAP atoms; anything else a source reports is dropped.
 */
export function storableFlags(flags: Iterable<string>): string[] {
  return [...flags].filter((flag) =>
    flag.startsWith('\\') ? systemFlags.includes(flag.toLowerCase()) : /^[^\s(){%*"\\\]\x00-\x1f\x7f]+$/.test(flag),
  );
}

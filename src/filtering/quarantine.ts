// Quarantine: messages held instead of delivered (high-scoring spam, malware by policy, a tenant's
// blocked senders), one row per recipient mailbox with the reason, the detail and the score, like
// Exchange Online's quarantine. An administrator lists, reads, releases (into the recipient's INBOX,
// as local delivery would put it there) or deletes them; every query can be held to one tenant.
// Rows expire after `filtering.quarantine_retention` (30 days); their contents are then left to the
// content collector, which keeps whatever a quarantine row still names.
import type { Kysely, Selectable } from 'kysely';
import type { Directory } from '../directory/directory.ts';
import { principalById } from '../directory/principal.ts';
import { conflict, notFound } from '../errors.ts';
import { deliver } from '../mailbox/delivery.ts';
import type { MailboxChange } from '../mailbox/change-feed.ts';
import { computeMetadata, storeMetadata } from '../mailbox/message-metadata.ts';
import type { BlobStore } from '../store/blobs/blob-store.ts';
import { readBlob } from '../store/blobs/blob-store.ts';
import { groupCommit } from '../store/commit-modes.ts';
import type { Dialect } from '../store/database.ts';
import type { Database } from '../store/schema.ts';
import { filterDb, filterTrx, type QuarantineTable } from './filter-tables.ts';

export interface HeldMessage {
  tenantId: number;
  principalId: number;
  recipient: string;
  sender: string;
  subject: string | null;
  messageId: string | null;
  prefix: string;
  reason: 'spam' | 'malware' | 'blocked';
  detail: string;
  score: number | null;
  clientIp: string;
}

export interface QuarantineEntry extends HeldMessage {
  id: number;
  blobHash: string;
  size: number;
  receivedAt: number;
  expiresAt: number;
}

export interface QuarantineStore {
  db: Kysely<Database>;
  dialect: Dialect;
  blobs: BlobStore;
}

/**
 * Holds a message for these recipients: its content is stored (with its metadata, so a release
 * delivers it as any message) and a row per recipient committed before intake answers 250.
 */
export async function holdMessage(
  store: QuarantineStore,
  content: { hash: string; size: number; data?: Buffer },
  held: HeldMessage[],
  now: number,
  retentionMs: number,
): Promise<number[]> {
  const data = content.data ?? (await readBlob(store.blobs, content.hash));
  if (content.data) await store.blobs.put(content.data);
  const computed = computeMetadata(data);
  return groupCommit(store.db, async (trx) => {
    await storeMetadata(trx, store.dialect, content.hash, computed, now);
    const ids: number[] = [];
    for (const h of held) {
      const row = await filterTrx(trx)
        .insertInto('quarantine')
        .values({
          tenant_id: h.tenantId,
          principal_id: h.principalId,
          recipient: h.recipient,
          sender: h.sender,
          subject: h.subject,
          message_id: h.messageId,
          blob_hash: content.hash,
          prefix: h.prefix,
          size: content.size + Buffer.byteLength(h.prefix),
          reason: h.reason,
          detail: h.detail,
          score: h.score,
          client_ip: h.clientIp,
          received_at: now,
          expires_at: now + retentionMs,
          notified_at: null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      ids.push(Number(row.id));
    }
    return ids;
  });
}

/** Scope of a query: a tenant (its administrators see only theirs), a recipient, or everything. */
export interface QuarantineScope {
  tenantId?: number;
  principalId?: number;
}

/** The scope a tenant name and a user address ask for; a user of another tenant is not found. */
export async function quarantineScope(
  directory: Pick<Directory, 'getTenant' | 'resolveAddress'>,
  asked: { tenant?: string; user?: string },
): Promise<QuarantineScope> {
  const scope: QuarantineScope = {};
  if (asked.tenant) scope.tenantId = (await directory.getTenant(asked.tenant)).id;
  if (asked.user) {
    const resolved = await directory.resolveAddress(asked.user);
    if (!resolved || (scope.tenantId !== undefined && resolved.tenantId !== scope.tenantId))
      throw notFound('user-not-found', `no user ${asked.user}${asked.tenant ? ` in tenant ${asked.tenant}` : ''}`);
    scope.principalId = resolved.principal.id;
  }
  return scope;
}

/** A held message as administrators are shown it (without its stored prefix and content hash). */
export function shownEntry({ prefix: _prefix, blobHash: _hash, ...entry }: QuarantineEntry) {
  return entry;
}

export async function listQuarantine(
  db: Kysely<Database>,
  scope: QuarantineScope,
  options: { limit?: number; reason?: string } = {},
): Promise<QuarantineEntry[]> {
  let query = filterDb(db).selectFrom('quarantine').selectAll();
  if (scope.tenantId !== undefined) query = query.where('tenant_id', '=', scope.tenantId);
  if (scope.principalId !== undefined) query = query.where('principal_id', '=', scope.principalId);
  if (options.reason) query = query.where('reason', '=', options.reason);
  const rows = await query
    .orderBy('received_at', 'desc')
    .orderBy('id', 'desc')
    .limit(options.limit ?? 100)
    .execute();
  return rows.map(toEntry);
}

export async function quarantined(
  db: Kysely<Database>,
  id: number,
  scope: QuarantineScope = {},
): Promise<QuarantineEntry> {
  let query = filterDb(db).selectFrom('quarantine').selectAll().where('id', '=', id);
  if (scope.tenantId !== undefined) query = query.where('tenant_id', '=', scope.tenantId);
  const row = await query.executeTakeFirst();
  // Another tenant's message is as unknown as one that does not exist.
  if (!row)
    throw notFound(
      'quarantine-not-found',
      `no quarantined message ${id}${scope.tenantId !== undefined ? ' in this tenant' : ''}`,
    );
  return toEntry(row);
}

/** The quarantined message's full text (Holdfast's header lines, then the content). */
export async function quarantinedText(store: QuarantineStore, entry: QuarantineEntry): Promise<Buffer> {
  return Buffer.concat([Buffer.from(entry.prefix), await readBlob(store.blobs, entry.blobHash)]);
}

/**
 * Delivers a quarantined message to its recipient's INBOX and removes it from quarantine, in one
 * transaction: the delivery key makes a second release add nothing.
 */
export async function releaseQuarantined(
  store: QuarantineStore,
  id: number,
  scope: QuarantineScope,
  now: number,
): Promise<{ entry: QuarantineEntry; uid: number; change?: MailboxChange }> {
  const entry = await quarantined(store.db, id, scope);
  const principal = await principalById(store.db, entry.principalId);
  const outcome = await groupCommit(store.db, async (trx) => {
    const [result] = await deliver(
      trx,
      [
        {
          recipient: principal,
          message: {
            sender: entry.sender,
            blobHash: entry.blobHash,
            prefix: entry.prefix,
            size: entry.size - Buffer.byteLength(entry.prefix),
            receivedAt: entry.receivedAt,
          },
          key: `quarantine:${entry.id}`,
        },
      ],
      now,
    );
    if (!result!.delivered) return result!;
    await filterTrx(trx).deleteFrom('quarantine').where('id', '=', entry.id).execute();
    return result!;
  });
  if (!outcome.delivered)
    throw conflict(
      'mailbox-full',
      `${entry.recipient}'s mailbox is full (quota ${outcome.quotaBytes} bytes): the message stays in quarantine`,
    );
  return { entry, uid: outcome.uid, change: outcome.change };
}

export async function deleteQuarantined(
  db: Kysely<Database>,
  id: number,
  scope: QuarantineScope,
): Promise<QuarantineEntry> {
  const entry = await quarantined(db, id, scope);
  await filterDb(db).deleteFrom('quarantine').where('id', '=', entry.id).execute();
  return entry;
}

/** Deletes what has been held longer than the retention; returns how many. */
export async function expireQuarantine(db: Kysely<Database>, now: number): Promise<number> {
  const result = await filterDb(db).deleteFrom('quarantine').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}

function toEntry(row: Selectable<QuarantineTable>): QuarantineEntry {
  return {
    id: Number(row.id),
    tenantId: Number(row.tenant_id),
    principalId: Number(row.principal_id),
    recipient: row.recipient,
    sender: row.sender,
    subject: row.subject,
    messageId: row.message_id,
    blobHash: row.blob_hash,
    prefix: row.prefix,
    size: Number(row.size),
    reason: row.reason as QuarantineEntry['reason'],
    detail: row.detail,
    score: row.score === null ? null : Number(row.score),
    clientIp: row.client_ip,
    receivedAt: Number(row.received_at),
    expiresAt: Number(row.expires_at),
  };
}

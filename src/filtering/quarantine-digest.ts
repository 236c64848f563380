// The quarantine notification (Exchange Online's "quarantine notifications"): a user with messages
// held for them gets a mail listing them, at most one a day, naming what was held since the last one
// and how to have a message released. Each held message is named once (notified_at).
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { filterDb } from './filter-tables.ts';

const digestEveryMs = 86_400_000;
/** A digest names at most this many messages; the rest are counted. */
const maxListed = 50;

export interface DigestEntry {
  id: number;
  sender: string;
  subject: string | null;
  reason: string;
  receivedAt: number;
  expiresAt: number;
}

export interface Digest {
  principalId: number;
  tenantId: number;
  recipient: string;
  entries: DigestEntry[];
}

/** Users with messages not yet named in a digest, and no digest within the last day. */
export async function digestsDue(db: Kysely<Database>, now: number): Promise<Digest[]> {
  const fdb = filterDb(db);
  const recent = fdb
    .selectFrom('quarantine')
    .select('principal_id')
    .where('notified_at', '>', now - digestEveryMs);
  const rows = await fdb
    .selectFrom('quarantine')
    .select([
      'id',
      'principal_id',
      'tenant_id',
      'recipient',
      'sender',
      'subject',
      'reason',
      'received_at',
      'expires_at',
    ])
    .where('notified_at', 'is', null)
    .where('principal_id', 'not in', recent)
    .orderBy('principal_id')
    .orderBy('received_at')
    .execute();
  const digests = new Map<number, Digest>();
  for (const row of rows) {
    const principalId = Number(row.principal_id);
    let digest = digests.get(principalId);
    if (!digest) {
      digest = { principalId, tenantId: Number(row.tenant_id), recipient: row.recipient, entries: [] };
      digests.set(principalId, digest);
    }
    digest.entries.push({
      id: Number(row.id),
      sender: row.sender,
      subject: row.subject,
      reason: row.reason,
      receivedAt: Number(row.received_at),
      expiresAt: Number(row.expires_at),
    });
  }
  return [...digests.values()];
}

export async function markNotified(db: Kysely<Database>, digest: Digest, now: number): Promise<void> {
  await filterDb(db)
    .updateTable('quarantine')
    .set({ notified_at: now })
    .where(
      'id',
      'in',
      digest.entries.map((e) => e.id),
    )
    .execute();
}

export function digestText(digest: Digest, retentionMs: number): { subject: string; text: string } {
  const count = digest.entries.length;
  const lines = digest.entries
    .slice(0, maxListed)
    .map(
      (e) =>
        `  ${e.id}  ${new Date(e.receivedAt).toISOString().slice(0, 16).replace('T', ' ')}  ${e.sender || '<>'}  ${(e.subject ?? '(no subject)').slice(0, 80)}  [${e.reason}]`,
    );
  const more = count > maxListed ? [`  … and ${count - maxListed} more`] : [];
  return {
    subject: `${count} message${count === 1 ? '' : 's'} held in quarantine for ${digest.recipient}`,
    text: [
      `These messages to ${digest.recipient} were held as spam or malware and not delivered:`,
      '',
      ...lines,
      ...more,
      '',
      'If one of them is a message you want, ask your administrator to release it by its number',
      `(holdfast quarantine release <number>). Held messages are deleted after ${Math.round(retentionMs / 86_400_000)} days.`,
      '',
    ].join('\n'),
  };
}

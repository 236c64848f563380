// The one quota rule, for every way a message enters a mailbox: SMTP RCPT, local delivery, IMAP
// APPEND and COPY. As RFC 9208 has it for IMAP, a message that would take the usage over the limit
// is refused: one that brings the mailbox exactly to its limit fits, and a mailbox at its limit takes
// nothing more. Usage is what the stored messages take (mailboxes.used_bytes, schema v9).
import type { Kysely, Transaction } from 'kysely';
import { formatSize } from '../config/size.ts';
import { HoldfastError } from '../errors.ts';
import type { Database } from '../store/schema.ts';
import { usedBytes } from './folders.ts';

export class QuotaExceeded extends HoldfastError {
  constructor(limit: number) {
    super('unavailable', 'over-quota', `mailbox is full (quota ${formatSize(limit)})`);
  }
}

/**
 * The size to check when it is not known yet (RCPT without SIZE=): every message has at least one
 * byte, so a mailbox at or over its limit is refused and any other is not.
 */
export const sizeNotKnown = 1;

/** Whether `adding` bytes fit into a principal's quota (null: no quota) with what they use now. */
export async function fitsQuota(
  db: Kysely<Database> | Transaction<Database>,
  principalId: number,
  quotaBytes: number | null,
  adding: number,
): Promise<boolean> {
  if (quotaBytes === null) return true;
  return (await usedBytes(db, principalId)) + adding <= quotaBytes;
}

/** Throws QuotaExceeded (IMAP: NO [OVERQUOTA]) when `adding` bytes do not fit. */
export async function checkQuota(
  db: Kysely<Database> | Transaction<Database>,
  principalId: number,
  quotaBytes: number | null,
  adding: number,
) {
  if (!(await fitsQuota(db, principalId, quotaBytes, adding))) throw new QuotaExceeded(quotaBytes!);
}

// The tables of migration 30 (store/migrations/0030-quarantine.ts), added to the store's Database
// type where filtering queries them (`db.withTables<FilterTables>()`).
import type { Generated, Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';

export interface QuarantineTable {
  id: Generated<number>;
  tenant_id: number;
  principal_id: number;
  recipient: string;
  sender: string;
  subject: string | null;
  message_id: string | null;
  blob_hash: string;
  /** The header lines Holdfast added on receipt (Received, Authentication-Results, X-Holdfast-Scan). */
  prefix: string;
  size: number;
  /** spam, malware or blocked (a tenant's block list). */
  reason: string;
  /** rspamd's action and symbols, the malware signature, or the list entry. */
  detail: string;
  score: number | null;
  client_ip: string;
  received_at: number;
  expires_at: number;
  /** When the recipient's digest last named it. */
  notified_at: number | null;
}

export interface SenderListTable {
  id: Generated<number>;
  tenant_id: number;
  /** Null: the tenant's list, for all its users. */
  principal_id: number | null;
  list: 'allow' | 'block';
  /** A lower-case address (alice@example.net) or domain (example.net). */
  sender: string;
  created_at: number;
}

export interface OutboundSpamTable {
  principal_id: number;
  tenant_id: number;
  /** Spam verdicts on the user's submitted mail since first_strike_at (within an hour). */
  strikes: number;
  first_strike_at: number;
  last_detail: string;
  /** Set when sending was paused; cleared by `holdfast senders resume`. */
  paused_at: number | null;
}

export type FilterTables = {
  quarantine: QuarantineTable;
  sender_lists: SenderListTable;
  outbound_spam: OutboundSpamTable;
};

export type FilterDb = Kysely<Database & FilterTables>;

export const filterDb = (db: Kysely<Database>): FilterDb => db.withTables<FilterTables>();
export const filterTrx = (trx: Transaction<Database>): Transaction<Database & FilterTables> =>
  trx.withTables<FilterTables>();

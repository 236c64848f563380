// Metadata computed once per message content when it enters a mailbox (delivery or APPEND): the MIME
// tree with byte offsets, the envelope, and the decoded header fields for SEARCH. FETCH and SEARCH
// read these instead of reparsing messages.
import { sql, type Kysely, type Transaction } from 'kysely';
import { decodeEncodedWords } from '../message/encoded-words.ts';
import { parseEnvelope, type Envelope } from '../message/envelope.ts';
import {
  isCurrentTree,
  parseHeaderLines,
  parseMimeTree,
  splitHeader,
  type HeaderLine,
  type MimePart,
} from '../message/mime-tree.ts';
import { batches } from '../store/batches.ts';
import { readBlob, type BlobStore } from '../store/blobs/blob-store.ts';
import type { Dialect } from '../store/database.ts';
import type { Database } from '../store/schema.ts';
import { relaxedCommit } from '../store/commit-modes.ts';
import { PreparedQuery, rawSql } from '../store/prepared-query.ts';

export interface MessageMetadata {
  tree: MimePart;
  envelope: Envelope;
  /** Top-level header fields, values decoded (encoded words undone). */
  headers: HeaderLine[];
  sentAt: number | null;
}

export interface MetadataStore {
  db: Kysely<Database>;
  dialect: Dialect;
  blobs: BlobStore;
}

/**
 * Computes and stores the metadata of the content `hash` unless it is there already. A MIME tree and
 * envelope stored by an older version of their parsers (see treeFormat) are computed again and
 * replaced, so that messages stored before a change are answered as new ones are.
 */
export async function ensureMetadata(store: MetadataStore, hash: string, now: number): Promise<void> {
  const stored = await storedTreeStart.first(store.db, { hash });
  if (stored && isCurrentTree(stored.start)) return;
  const source = await readBlob(store.blobs, hash);
  if (!stored) return saveMetadata(store, hash, source, now);
  const { tree, envelope } = computeMetadata(source).metadata;
  await relaxedCommit(store.db, (trx) =>
    replaceStructure.run(trx, { hash, tree: JSON.stringify(tree), envelope: JSON.stringify(envelope) }),
  );
}

/**
 * Stores the metadata of `source` (whose content hash is `hash`). Not fsync'd: it can be computed
 * again, and the delivery that follows it is (its sync covers this commit too).
 */
export async function saveMetadata(store: MetadataStore, hash: string, source: Buffer, now: number): Promise<void> {
  await relaxedCommit(store.db, (trx) => insertMetadata(trx, store.dialect, hash, source, now));
}

/** Stores the metadata of `source` within the caller's transaction (unless it is there already). */
export async function insertMetadata(
  trx: Transaction<Database>,
  dialect: Dialect,
  hash: string,
  source: Buffer,
  now: number,
): Promise<void> {
  await storeMetadata(trx, dialect, hash, computeMetadata(source), now);
}

/** What computeMetadata() found in a content. */
export interface ComputedMetadata {
  metadata: MessageMetadata;
}

/** Stores metadata computed earlier, within the caller's transaction (unless it is there already). */
export async function storeMetadata(
  trx: Transaction<Database>,
  _dialect: Dialect,
  hash: string,
  { metadata }: ComputedMetadata,
  now: number,
): Promise<void> {
  await insertMetadataRow.run(trx, {
    hash,
    tree: JSON.stringify(metadata.tree),
    envelope: JSON.stringify(metadata.envelope),
    headers: JSON.stringify(metadata.headers),
    sentAt: metadata.sentAt,
    now,
  });
}

/**
 * Stores the metadata of several contents, as storeMetadata does each: on PostgreSQL with one
 * statement whatever their number; on SQLite (no round trips) one by one.
 */
export async function storeMetadataOf(
  trx: Transaction<Database>,
  dialect: Dialect,
  items: { hash: string; computed: ComputedMetadata; now: number }[],
): Promise<void> {
  // In hash order: two batches written at once wait for each other's rows in one order (no deadlock).
  const unique = [...new Map(items.map((item) => [item.hash, item])).values()].sort((a, b) =>
    a.hash < b.hash ? -1 : 1,
  );
  if (dialect === 'sqlite' || unique.length < 2) {
    for (const { hash, computed, now } of unique) await storeMetadata(trx, dialect, hash, computed, now);
    return;
  }
  await insertMetadataRows.run(trx, {
    hashes: unique.map((i) => i.hash),
    trees: unique.map((i) => JSON.stringify(i.computed.metadata.tree)),
    envelopes: unique.map((i) => JSON.stringify(i.computed.metadata.envelope)),
    headers: unique.map((i) => JSON.stringify(i.computed.metadata.headers)),
    sentAts: unique.map((i) => i.computed.metadata.sentAt),
    times: unique.map((i) => i.now),
  });
}

/** PostgreSQL only: the rows of storeMetadataOf. */
const insertMetadataRows = new PreparedQuery<
  {
    hashes: string[];
    trees: string[];
    envelopes: string[];
    headers: string[];
    sentAts: (number | null)[];
    times: number[];
  },
  never
>((db, arg) =>
  rawSql(
    db,
    sql`insert into blob_metadata (hash, tree, envelope, headers, sent_at, created_at)
      select * from unnest(${arg('hashes')}::text[], ${arg('trees')}::text[], ${arg('envelopes')}::text[],
        ${arg('headers')}::text[], ${arg('sentAts')}::bigint[], ${arg('times')}::bigint[])
      on conflict (hash) do nothing`,
  ),
);

const insertMetadataRow = new PreparedQuery<
  { hash: string; tree: string; envelope: string; headers: string; sentAt: number | null; now: number },
  never
>((db, arg) =>
  db
    .insertInto('blob_metadata')
    .values({
      hash: arg('hash'),
      tree: arg('tree'),
      envelope: arg('envelope'),
      headers: arg('headers'),
      sent_at: arg('sentAt'),
      created_at: arg('now'),
    })
    .onConflict((oc) => oc.column('hash').doNothing()),
);

export function computeMetadata(source: Buffer): ComputedMetadata {
  const tree = parseMimeTree(source);
  const latin1 = source.toString('latin1');
  const rawHeaders = parseHeaderLines(latin1.slice(0, splitHeader(latin1, 0, latin1.length).headerEnd));
  const headers: HeaderLine[] = rawHeaders.map(([name, value]) => [name, decodeEncodedWords(value)]);
  const date = rawHeaders.find(([name]) => name === 'date')?.[1];
  const sentAt = date ? Date.parse(date.replace(/\s*\([^)]*\)\s*$/, '')) : NaN;
  return {
    metadata: { tree, envelope: parseEnvelope(rawHeaders), headers, sentAt: Number.isFinite(sentAt) ? sentAt : null },
  };
}

/** The first bytes of a stored tree: enough to read its format (isCurrentTree). */
const storedTreeStart = new PreparedQuery<{ hash: string }, { start: string }>((db, arg) =>
  db.selectFrom('blob_metadata').select(sql<string>`substr(tree, 1, 32)`.as('start')).where('hash', '=', arg('hash')),
);
const replaceStructure = new PreparedQuery<{ hash: string; tree: string; envelope: string }, never>((db, arg) =>
  db
    .updateTable('blob_metadata')
    .set({ tree: arg('tree'), envelope: arg('envelope') })
    .where('hash', '=', arg('hash')),
);
const metadataTree = new PreparedQuery<{ hash: string }, { tree: string }>((db, arg) =>
  db.selectFrom('blob_metadata').select('tree').where('hash', '=', arg('hash')),
);

/** The MIME tree of a content (without its envelope and header fields); undefined without metadata. */
export async function loadMimeTree(db: Kysely<Database>, hash: string): Promise<MimePart | undefined> {
  const row = await metadataTree.first(db, { hash });
  return row && JSON.parse(row.tree);
}

/** What SORT and THREAD read of a content: its metadata but the MIME tree. */
export type SortMetadata = Omit<MessageMetadata, 'tree'>;

/**
 * The Subject with encoded words decoded, as RFC 5256 2.1 takes it (the envelope keeps it encoded).
 * Of a message with more than one, the last, as ENVELOPE gives it: the order a client is told
 * agrees with the subjects it shows (Dovecot sorts and threads by the first). IMAP SORT and THREAD
 * and JMAP's subject sort read it.
 */
export function decodedSubject(meta: SortMetadata | undefined): string | null {
  return (
    meta?.headers.reduce<string | null>((last, [name, value]) => (name === 'subject' ? value : last), null) ?? null
  );
}

/**
 * The envelope, header fields and sent date of these contents, in their order: undefined for a
 * content without metadata, or whose envelope an older version stored (see ensureMetadata).
 */
export async function loadMetadata(db: Kysely<Database>, hashes: string[]): Promise<(SortMetadata | undefined)[]> {
  const found = new Map<string, SortMetadata>();
  for (const batch of batches([...new Set(hashes)])) {
    const rows = await db
      .selectFrom('blob_metadata')
      .select(['hash', 'envelope', 'headers', 'sent_at', sql<string>`substr(tree, 1, 32)`.as('treeStart')])
      .where('hash', 'in', batch)
      .execute();
    for (const row of rows) {
      if (!isCurrentTree(row.treeStart)) continue;
      found.set(row.hash, {
        envelope: JSON.parse(row.envelope),
        headers: JSON.parse(row.headers),
        sentAt: row.sent_at === null ? null : Number(row.sent_at),
      });
    }
  }
  return hashes.map((hash) => found.get(hash));
}

/**
 * What `load` gives for these contents (in their order), once the metadata `load` found missing —
 * contents stored before metadata existed, or by an older version of the parsers — has been
 * computed (once, each), so that those are answered as any other.
 */
export async function loadComputingMissing<T>(
  store: MetadataStore & { now(): number },
  hashes: string[],
  load: (hashes: string[]) => Promise<(T | undefined)[]>,
): Promise<(T | undefined)[]> {
  const loaded = await load(hashes);
  const missing = new Set(hashes.filter((_, i) => loaded[i] === undefined));
  if (missing.size === 0) return loaded;
  for (const hash of missing) await ensureMetadata(store, hash, store.now());
  return load(hashes);
}

/**
 * The decoded header fields and sent date (what SEARCH needs; no tree to parse) of the contents of
 * a folder's messages. With `containing`, only contents whose header text contains every one of
 * those strings (ignoring case): the database narrows the folder to the few worth parsing.
 */
export async function loadSearchHeaders(
  store: MetadataStore,
  folderId: number,
  containing: string[] = [],
): Promise<Map<string, Pick<MessageMetadata, 'headers' | 'sentAt'>>> {
  // Headers are stored as JSON: a needle JSON would escape, or (on SQLite, whose LIKE folds ASCII
  // only) a non-ASCII one, cannot be matched on the text; those are checked after parsing only.
  const usable = containing.filter(
    (n) => JSON.stringify(n) === `"${n}"` && (store.dialect === 'postgres' || /^[\x20-\x7e]*$/.test(n)),
  );
  const like = store.dialect === 'sqlite' ? sql.raw('like') : sql.raw('ilike');
  let query = store.db
    .selectFrom('messages')
    .innerJoin('blob_metadata', 'blob_metadata.hash', 'messages.blob_hash')
    .select(['blob_metadata.hash', 'blob_metadata.headers', 'blob_metadata.sent_at'])
    .where('messages.mailbox_id', '=', folderId);
  for (const needle of usable)
    query = query.where(
      sql<boolean>`blob_metadata.headers ${like} ${`%${needle.replace(/[!%_]/g, '!$&')}%`} escape '!'`,
    );
  const out = new Map<string, Pick<MessageMetadata, 'headers' | 'sentAt'>>();
  for (const row of await query.execute()) {
    if (!out.has(row.hash))
      out.set(row.hash, {
        headers: JSON.parse(row.headers),
        sentAt: row.sent_at === null ? null : Number(row.sent_at),
      });
  }
  return out;
}

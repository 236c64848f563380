// SORT and THREAD (RFC 5256): the messages a search finds, ordered by criteria or grouped into
// conversations. Both read the envelope and header fields kept per content at delivery, computed
// again where an older version stored them, as FETCH and SEARCH do.
import {
  decodedSubject,
  loadComputingMissing,
  loadMetadata,
  type SortMetadata,
} from '../../../mailbox/message-metadata.ts';
import type { IndexedMessage } from '../../../mailbox/folder-index.ts';
import {
  formatThreads,
  threadByOrderedSubject,
  threadByReferences,
  type ThreadMessage,
} from '../../../mailbox/threading.ts';
import { asciiCasemap, baseSubject } from '../../../message/base-subject.ts';
import type { EnvelopeAddress } from '../../../message/envelope.ts';
import { ParseError } from '../parser/tokenizer.ts';
import { parseCharset, parseCriteria } from '../parser/search-keys.ts';
import { atom } from '../response/encode.ts';
import type { ImapSession } from '../session.ts';
import type { SelectedCommand } from './index.ts';
import { searchMessages } from './search.ts';

const sortKeys = ['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO'] as const;
type SortKey = (typeof sortKeys)[number];

export const threadAlgorithms = ['ORDEREDSUBJECT', 'REFERENCES'] as const;

export async function sortCommand(command: SelectedCommand) {
  const { session, args, uid, selected } = command;
  const criteria: { key: SortKey; reverse: boolean }[] = [];
  let reverse = false;
  for (const token of args.list('sort criteria')) {
    const word = token.kind === 'atom' ? token.value.toUpperCase() : '';
    if (word === 'REVERSE') {
      reverse = true;
      continue;
    }
    if (!(sortKeys as readonly string[]).includes(word))
      throw new ParseError(
        `Unknown sort criterion ${word || '(not an atom)'}: use ${sortKeys.join(', ')}, each optionally after REVERSE`,
      );
    criteria.push({ key: word as SortKey, reverse });
    reverse = false;
  }
  if (criteria.length === 0 || reverse)
    throw new ParseError('Sort criteria must name at least one key, and REVERSE must precede one');
  const text = parseCharset(args);
  const { matched } = await searchMessages(command, parseCriteria(args, text));
  const metadata = await metadataOf(session, matched);
  const value = (
    { row, meta }: { row: IndexedMessage; meta: SortMetadata | undefined },
    key: SortKey,
  ): string | number => {
    switch (key) {
      case 'ARRIVAL':
        return row.internalDate;
      case 'DATE':
        return sentDate(row, meta);
      case 'SIZE':
        return row.size;
      case 'SUBJECT':
        return baseSubject(decodedSubject(meta)).text;
      case 'FROM':
        return mailbox(meta?.envelope.from);
      case 'TO':
        return mailbox(meta?.envelope.to);
      case 'CC':
        return mailbox(meta?.envelope.cc);
    }
  };
  const sorted = matched
    .map((row, i) => ({ row, meta: metadata[i] }))
    .sort((a, b) => {
      for (const { key, reverse: backwards } of criteria) {
        const [x, y] = [value(a, key), value(b, key)];
        const order = typeof x === 'number' ? x - (y as number) : x < y ? -1 : x > y ? 1 : 0;
        if (order !== 0) return backwards ? -order : order;
      }
      return a.row.uid - b.row.uid; // ties: mailbox order
    });
  session.untagged(atom('SORT'), ...sorted.map(({ row }) => (uid ? row.uid : selected.seqOf(row.uid))));
  return 'SORT completed';
}

export async function threadCommand(command: SelectedCommand) {
  const { session, args, uid } = command;
  const algorithm = args.atom('threading algorithm').toUpperCase();
  if (!(threadAlgorithms as readonly string[]).includes(algorithm))
    throw new ParseError(`Unknown threading algorithm ${algorithm}: use ${threadAlgorithms.join(' or ')}`);
  const text = parseCharset(args);
  const { matched } = await searchMessages(command, parseCriteria(args, text));
  const messages = await threadMessages(command, matched, uid);
  const threads = algorithm === 'REFERENCES' ? threadByReferences(messages) : threadByOrderedSubject(messages);
  session.untagged(atom('THREAD'), ...(threads.length ? [atom(formatThreads(threads))] : []));
  return 'THREAD completed';
}

async function threadMessages(
  { session, selected }: SelectedCommand,
  rows: IndexedMessage[],
  uid: boolean,
): Promise<ThreadMessage[]> {
  const metadata = await metadataOf(session, rows);
  return rows.map((row, i) => {
    const meta = metadata[i];
    const header = (name: string) => meta?.headers.find(([n]) => n === name)?.[1] ?? '';
    const ids = (text: string) => text.match(/<[^<>\s]+>/g) ?? [];
    const references = ids(header('references'));
    return {
      id: uid ? row.uid : selected.seqOf(row.uid),
      messageId: ids(header('message-id'))[0] ?? null,
      references: references.length ? references : ids(header('in-reply-to')).slice(0, 1),
      subject: decodedSubject(meta),
      date: sentDate(row, meta),
    };
  });
}

/** The metadata of each row, in their order. */
function metadataOf(session: ImapSession, rows: IndexedMessage[]): Promise<(SortMetadata | undefined)[]> {
  const { mail } = session.context;
  return loadComputingMissing(
    mail,
    rows.map((r) => r.blobHash),
    (hashes) => loadMetadata(mail.db, hashes),
  );
}

/** The Date header, or the arrival time for a message without one (RFC 5256 §2.2). */
function sentDate(row: IndexedMessage, meta: SortMetadata | undefined): number {
  return meta?.sentAt ?? row.internalDate;
}

/** The local part of the first address, as i;ascii-casemap compares it (RFC 5256: addr-mailbox). */
function mailbox(addresses: EnvelopeAddress[] | null | undefined): string {
  return asciiCasemap(addresses?.[0]?.[2] ?? '');
}

// Email/query's sort properties (RFC 8621 4.4.2): receivedAt and size from the folder index; from,
// to, subject and sentAt from the metadata kept per content (the envelope and the decoded header
// fields, as IMAP SORT reads them); hasKeyword from the message's flags; allInThreadHaveKeyword and
// someInThreadHaveKeyword from the flags of every Email of its thread. Text compares with
// i;unicode-casemap (lower case, then by code point); an Email without the value sorts as the empty
// string. from and to are the first address's name, or its address when it has none; subject is
// the base subject (RFC 5256 2.1: "Re:", "Fwd:" and list tags taken off).
import { decodeEncodedWords } from '../../message/encoded-words.ts';
import type { IndexedMessage } from '../../mailbox/folder-index.ts';
import { decodedSubject, type SortMetadata } from '../../mailbox/message-metadata.ts';
import { baseSubject } from '../../message/base-subject.ts';
import type { EnvelopeAddress } from '../../message/envelope.ts';
import { invalidArguments } from './jmap-errors.ts';
import { flagOf, isKeyword } from './keywords.ts';
import type { Comparator } from './method-arguments.ts';

export const emailSortProperties = [
  'receivedAt',
  'size',
  'from',
  'to',
  'subject',
  'sentAt',
  'hasKeyword',
  'allInThreadHaveKeyword',
  'someInThreadHaveKeyword',
] as const;

const keywordSorts = new Set(['hasKeyword', 'allInThreadHaveKeyword', 'someInThreadHaveKeyword']);
const metadataSorts = new Set(['from', 'to', 'subject', 'sentAt']);
const threadSorts = new Set(['allInThreadHaveKeyword', 'someInThreadHaveKeyword']);

/** The comparators, with the keyword a keyword sort needs checked. */
export function checkEmailSort(comparators: Comparator[]): Comparator[] {
  for (const c of comparators)
    if (keywordSorts.has(c.property) && (typeof c.keyword !== 'string' || !isKeyword(c.keyword)))
      throw invalidArguments(`sorting by ${c.property} needs a "keyword"`);
  return comparators;
}

/** Whether the order depends on the other Emails of each one's thread (the thread keyword sorts). */
export function sortsByThread(comparators: Comparator[]): boolean {
  return comparators.some((c) => threadSorts.has(c.property));
}

/** Whether the order is of properties an Email keeps while it stays in its folder (not keywords). */
export function sortsByFixedProperties(comparators: Comparator[]): boolean {
  return comparators.every((c) => !keywordSorts.has(c.property));
}

/** What a sort needs that the folder index does not hold, for the messages being sorted. */
export interface SortSources {
  metadata(messages: IndexedMessage[]): Promise<(SortMetadata | undefined)[]>;
  threadFlags(): Promise<Map<number, string[][]>>;
}

/**
 * A compare function over messages by these comparators (0 on a tie: the caller breaks ties), with
 * what it needs loaded first for `messages` (compare only those).
 */
export async function emailComparison(
  comparators: Comparator[],
  messages: IndexedMessage[],
  sources: SortSources,
): Promise<(a: IndexedMessage, b: IndexedMessage) => number> {
  const metadata = comparators.some((c) => metadataSorts.has(c.property))
    ? new Map((await sources.metadata(messages)).map((meta, i) => [messages[i]!, meta]))
    : undefined;
  const threads = comparators.some((c) => threadSorts.has(c.property)) ? await sources.threadFlags() : undefined;
  const keys = comparators.map((c) => sortKey(c, metadata, threads));
  return (a, b) => {
    for (const [i, { isAscending }] of comparators.entries()) {
      const [x, y] = [keys[i]!(a), keys[i]!(b)];
      const difference = typeof x === 'number' ? x - (y as number) : x < y ? -1 : x > y ? 1 : 0;
      if (difference) return isAscending ? difference : -difference;
    }
    return 0;
  };
}

type SortValue = (message: IndexedMessage) => number | string;

function sortKey(
  { property, keyword }: Comparator,
  metadata: Map<IndexedMessage, SortMetadata | undefined> | undefined,
  threads: Map<number, string[][]> | undefined,
): SortValue {
  const flag = keyword === undefined ? '' : flagOf(keyword).toLowerCase();
  const hasFlag = (flags: string[]) => flags.some((f) => f.toLowerCase() === flag);
  switch (property) {
    case 'size':
      return (m) => m.size;
    case 'sentAt':
      return (m) => metadata?.get(m)?.sentAt ?? m.internalDate;
    case 'from':
      return (m) => addressKey(metadata?.get(m)?.envelope.from);
    case 'to':
      return (m) => addressKey(metadata?.get(m)?.envelope.to);
    case 'subject':
      return (m) => casemap(baseSubject(decodedSubject(metadata?.get(m))).text);
    // false before true when ascending (RFC 8621 4.4.2).
    case 'hasKeyword':
      return (m) => (hasFlag(m.flags) ? 1 : 0);
    case 'allInThreadHaveKeyword':
      return (m) => ((threads?.get(m.threadId) ?? [m.flags]).every(hasFlag) ? 1 : 0);
    case 'someInThreadHaveKeyword':
      return (m) => ((threads?.get(m.threadId) ?? [m.flags]).some(hasFlag) ? 1 : 0);
    default:
      return (m) => m.internalDate;
  }
}

/** i;unicode-casemap, as far as a sort needs it: the same text in any case compares equal. */
const casemap = (text: string) => text.normalize('NFKD').toLowerCase();

/** The first address's display name, or its address when it has none. */
function addressKey(addresses: EnvelopeAddress[] | null | undefined): string {
  const first = addresses?.[0];
  if (!first) return '';
  const [name, , mailbox, host] = first;
  if (name) return casemap(decodeEncodedWords(name));
  return casemap(mailbox && host ? `${mailbox}@${host}` : (mailbox ?? ''));
}

// SEARCH and UID SEARCH, with ESEARCH's RETURN options, SEARCHRES's SAVE and CONDSTORE's MODSEQ. Flags,
// sizes and dates come from the message rows; header criteria from the decoded headers stored at
// delivery; BODY and TEXT from the decoded body texts (substrings, as RFC 3501 asks).
import { loadComputingMissing, loadSearchHeaders } from '../../../mailbox/message-metadata.ts';
import {
  anyFieldContains,
  fieldContains,
  toSearchHeaders,
  type SearchHeaders,
} from '../../../mailbox/search-headers.ts';
import type { IndexedMessage } from '../../../mailbox/folder-index.ts';
import { inRanges } from '../parser/args.ts';
import { parseSearch, type SearchKey } from '../parser/search-keys.ts';
import { atom, type Value } from '../response/encode.ts';
import type { SelectedCommand } from './index.ts';
import { uidSetText } from './values.ts';

const day = 86_400_000;

export async function searchCommand(command: SelectedCommand) {
  const { session, tag, args, uid, selected } = command;
  const search = parseSearch(args);
  const { matched } = await searchMessages(command, search.key);
  const usesModseq = containsModseq(search.key);
  if (usesModseq) session.enableCondstore();
  const number = (row: IndexedMessage) => (uid ? row.uid : selected.seqOf(row.uid));
  // With a MODSEQ criterion the reply adds the highest MODSEQ of the messages it reports (RFC 7162
  // 3.1.5); none when it reports none.
  const modseqOf = (rows: IndexedMessage[]): Value[] =>
    usesModseq && rows.length ? [atom('MODSEQ'), rows.reduce((max, r) => Math.max(max, r.modseq), 0)] : [];

  const returns = search.returns ?? (session.rev2 ? ['ALL'] : undefined);
  if (!returns) {
    const modseq = modseqOf(matched);
    session.untagged(atom('SEARCH'), ...matched.map(number), ...(modseq.length ? [modseq] : []));
    return 'SEARCH completed';
  }
  // MIN and MAX without ALL or COUNT are about the first and last match only: those are what SAVE
  // keeps (RFC 5182 2.1) and whose MODSEQ is reported (RFC 4731 3.2). Matches are in UID order.
  const [first, last] = [matched[0], matched.at(-1)];
  const extremesOnly =
    !returns.includes('ALL') && !returns.includes('COUNT') && (returns.includes('MIN') || returns.includes('MAX'));
  const reported = extremesOnly
    ? [...new Set([returns.includes('MIN') ? first : undefined, returns.includes('MAX') ? last : undefined])].filter(
        (r) => r !== undefined,
      )
    : matched;
  if (returns.includes('SAVE')) selected.savedUids = reported.map((r) => r.uid);
  // SAVE alone answers nothing but OK (RFC 5182), unless a MODSEQ criterion asks for the MODSEQ, which
  // an ESEARCH response must then carry (RFC 4731 3.2; Dovecot sends it too).
  if (returns.length === 1 && returns[0] === 'SAVE' && !usesModseq) return 'SEARCH completed (result saved)';
  const values: Value[] = [atom('ESEARCH'), [atom('TAG'), tag]];
  if (uid) values.push(atom('UID'));
  if (first && last) {
    if (returns.includes('MIN')) values.push(atom('MIN'), number(first));
    if (returns.includes('MAX')) values.push(atom('MAX'), number(last));
    if (returns.includes('ALL')) values.push(atom('ALL'), atom(uidSetText(matched.map(number))));
  }
  if (returns.includes('COUNT')) values.push(atom('COUNT'), matched.length);
  session.untagged(...values, ...modseqOf(reported));
  return 'SEARCH completed';
}

/**
 * Header substrings every match must contain: the values of header criteria that the whole key
 * requires (itself, or a member of a top-level AND). A message without them cannot match, so a folder
 * too large for the header cache loads only the headers of messages that have them.
 */
function requiredHeaderText(key: SearchKey): string[] {
  const required = key.kind === 'and' ? key.keys : [key];
  return required
    .filter((k) => k.kind === 'header' && k.value !== '')
    .map((k) => (k as Extract<SearchKey, { kind: 'header' }>).value);
}

function containsModseq(key: SearchKey): boolean {
  if (key.kind === 'modseq') return true;
  if (key.kind === 'not') return containsModseq(key.key);
  if (key.kind === 'or' || key.kind === 'and') return key.keys.some(containsModseq);
  return false;
}

/** The messages of the selected folder matching `key` (in UID order). */
export async function searchMessages(command: SelectedCommand, key: SearchKey): Promise<{ matched: IndexedMessage[] }> {
  const { session, selected } = command;
  // The session's view may lag the folder by a command: only the messages it knows count.
  const known = new Set(selected.uids);
  const { db, index } = session.context.mail;
  const rows = (await index.messages(db, selected.folder.id)).filter((row) => known.has(row.uid));
  const matcher = await prepare(command, key, rows);
  return { matched: rows.filter(matcher) };
}

/**
 * Header fields for the criteria, in the order of `hashes`: from memory for folders that fit, else
 * narrowed by the store (undefined for a message that cannot match).
 */
async function searchHeaders(
  { session, selected }: SelectedCommand,
  hashes: string[],
  containing: string[],
): Promise<(SearchHeaders | undefined)[]> {
  const { mail } = session.context;
  if (mail.index.searchHeaders.fits(hashes.length))
    return loadComputingMissing(mail, hashes, (some) => mail.index.searchHeaders.load(mail.db, some));
  const found = await loadSearchHeaders(mail, selected.folder.id, containing);
  return hashes.map((hash) => {
    const headers = found.get(hash);
    return headers && toSearchHeaders(headers.headers, headers.sentAt);
  });
}

/** Loads what the criteria need (headers, text matches) and returns the predicate of `rows[at]`. */
async function prepare(
  command: SelectedCommand,
  key: SearchKey,
  rows: IndexedMessage[],
): Promise<(row: IndexedMessage, at: number) => boolean> {
  const { session, selected } = command;
  const needs = { metadata: false, texts: [] as Extract<SearchKey, { kind: 'text' }>[] };
  /** The header tests of header criteria (and of TEXT, which covers the header too), made once. */
  const headerTests = new Map<SearchKey, (headers: SearchHeaders | undefined) => boolean>();
  const walk = (k: SearchKey) => {
    if (k.kind === 'header' || (k.kind === 'date' && k.field === 'sent')) needs.metadata = true;
    if (k.kind === 'header') headerTests.set(k, fieldContains(k.field, k.value));
    if (k.kind === 'text' && k.where === 'text') headerTests.set(k, anyFieldContains(k.value));
    if (k.kind === 'text') {
      needs.texts.push(k);
      if (k.where === 'text') needs.metadata = true;
    }
    if (k.kind === 'not') walk(k.key);
    if (k.kind === 'or' || k.kind === 'and') k.keys.forEach(walk);
  };
  walk(key);
  const hashes = rows.map((r) => r.blobHash);
  const metadata = needs.metadata ? await searchHeaders(command, hashes, requiredHeaderText(key)) : [];
  const textMatches = new Map<SearchKey, Set<string>>();
  const { mail } = session.context;
  const bodies = {
    blobs: mail.blobs,
    structures: (some: string[]) =>
      loadComputingMissing(mail, some, (them) => mail.index.structures.load(mail.db, them)),
  };
  for (const k of needs.texts)
    textMatches.set(k, await mail.index.bodyTexts.containing(bodies, k.value, hashes, k.where));
  const largestSeq = selected.uids.length;
  const largestUid = selected.uids.at(-1) ?? 0;

  const test = (k: SearchKey, row: IndexedMessage, at: number): boolean => {
    switch (k.kind) {
      case 'all':
        return true;
      case 'none':
        return false;
      case 'seq':
        return k.set.saved
          ? selected.savedUids.includes(row.uid)
          : inRanges(k.set.ranges, selected.seqOf(row.uid), largestSeq);
      case 'uid':
        return k.set.saved ? selected.savedUids.includes(row.uid) : inRanges(k.set.ranges, row.uid, largestUid);
      case 'flag': {
        const has = row.flags.some((f) => f.toLowerCase() === k.flag.toLowerCase());
        return has === k.present;
      }
      case 'recent':
        return selected.recent.has(row.uid) === k.present;
      case 'header':
        return headerTests.get(k)!(metadata[at]);
      case 'text': {
        if (textMatches.get(k)!.has(row.blobHash)) return true;
        // TEXT also covers the header.
        return k.where === 'text' && headerTests.get(k)!(metadata[at]);
      }
      case 'date': {
        const messageDay = k.field === 'internal' ? Math.floor(row.internalDate / day) * day : metadata[at]?.sentDay;
        if (messageDay === undefined) return false;
        return k.op === 'before' ? messageDay < k.day : k.op === 'on' ? messageDay === k.day : messageDay >= k.day;
      }
      case 'size':
        return k.op === 'larger' ? row.size > k.bytes : row.size < k.bytes;
      case 'modseq':
        return row.modseq >= k.modseq;
      case 'not':
        return !test(k.key, row, at);
      case 'or':
        return test(k.keys[0], row, at) || test(k.keys[1], row, at);
      case 'and':
        return k.keys.every((inner) => test(inner, row, at));
    }
  };
  return (row, at) => test(key, row, at);
}

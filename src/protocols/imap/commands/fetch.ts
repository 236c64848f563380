// FETCH and UID FETCH: flags, dates, sizes and MODSEQ from the message rows; ENVELOPE and
// BODYSTRUCTURE from metadata stored at delivery; body sections as byte ranges of the stored content.
// CONDSTORE's CHANGEDSINCE and QRESYNC's VANISHED modifiers are supported. Responses are written
// message by message, waiting for a slow client to read rather than piling them up in memory.
import { loadComputingMissing } from '../../../mailbox/message-metadata.ts';
import type { MessageStructure } from '../../../mailbox/structure-cache.ts';
import { changesSince, messagesByUid, storeFlags, type MessageRow } from '../../../mailbox/messages.ts';
import { readBlob, readBlobRange } from '../../../store/blobs/blob-store.ts';
import { ImapNo } from '../imap-error.ts';
import { Args, inRanges, parseSequenceSet } from '../parser/args.ts';
import { parseFetchItems, type FetchItem, type Section } from '../parser/fetch-items.ts';
import { ParseError } from '../parser/tokenizer.ts';
import { atom, BinaryContent, formatDateTime, StreamedLiteral, type Value } from '../response/encode.ts';
import { bodyStructureValue, envelopeValue } from '../fetch/body-structure.ts';
import {
  applyPartial,
  binaryBytes,
  sectionBytes,
  SectionError,
  sectionPlan,
  selectHeaderFields,
  type MessageContent,
} from '../fetch/sections.ts';
import type { SelectedFolder } from '../selected-folder.ts';
import type { ImapSession } from '../session.ts';
import type { SelectedCommand } from './index.ts';
import { announceNewKeywords } from './sync.ts';
import { flagList, uidSetText } from './values.ts';

const batchSize = 100;

export async function fetchCommand({ session, args, uid, selected }: SelectedCommand) {
  const set = parseSequenceSet(args.atom(uid ? 'UID set' : 'sequence set'));
  const items = parseFetchItems(args.next('fetch items'));
  let changedSince: number | undefined;
  let vanished = false;
  const modifiers = args.optionalList();
  if (modifiers) {
    const m = new Args(modifiers);
    while (m.more()) {
      const name = m.atom('FETCH modifier').toUpperCase();
      if (name === 'CHANGEDSINCE') changedSince = m.number('CHANGEDSINCE value');
      else if (name === 'VANISHED') vanished = true;
      else throw new ParseError(`Unknown FETCH modifier ${name}`);
    }
  }
  args.end();
  if (vanished && (!uid || changedSince === undefined || !session.enabled.has('QRESYNC'))) {
    throw new ParseError('VANISHED needs UID FETCH with CHANGEDSINCE, and QRESYNC enabled');
  }
  const has = (name: string) => items.some((i) => i.kind === 'simple' && i.name === name);
  if (uid && !has('UID')) items.unshift({ kind: 'simple', name: 'UID' });
  if (changedSince !== undefined || has('MODSEQ')) session.enableCondstore();
  if (changedSince !== undefined && !has('MODSEQ')) items.push({ kind: 'simple', name: 'MODSEQ' });

  const { mail } = session.context;
  if (vanished && !set.saved) {
    const gone = (await changesSince(mail.db, selected.folder.id, changedSince!)).expunged.filter(
      (u) => inRanges(set.ranges, u, Number.MAX_SAFE_INTEGER) && !selected.seqOf(u),
    );
    if (gone.length) session.untagged(atom('VANISHED'), atom('(EARLIER)'), atom(uidSetText([...new Set(gone)])));
  }

  const uids = selected.resolve(set, uid);
  const needsContent = items.some(
    (i) => i.kind !== 'simple' || ['RFC822', 'RFC822.HEADER', 'RFC822.TEXT'].includes(i.name),
  );
  // Sections are cut along the MIME tree, so content always comes with it.
  const needsMetadata =
    needsContent || items.some((i) => i.kind === 'simple' && ['ENVELOPE', 'BODYSTRUCTURE', 'BODY'].includes(i.name));
  const setsSeen =
    !selected.readOnly &&
    items.some(
      (i) =>
        (i.kind === 'section' && !i.peek) || (i.kind === 'simple' && (i.name === 'RFC822' || i.name === 'RFC822.TEXT')),
    );

  for (let start = 0; start < uids.length; start += batchSize) {
    const batch = uids.slice(start, start + batchSize);
    // Without content (flags, sizes, dates, envelopes) the folder index has all a row needs.
    let rows = needsContent
      ? await messagesByUid(mail.db, selected.folder.id, batch)
      : await indexedRows(session, selected, batch);
    if (changedSince !== undefined) rows = rows.filter((r) => r.modseq > changedSince!);
    if (rows.length === 0) continue;
    const seenChanged = new Set<number>();
    if (setsSeen) {
      const unseen = rows.filter((r) => !r.flags.includes('\\Seen')).map((r) => r.uid);
      if (unseen.length) {
        const result = await storeFlags(mail, selected.folder, unseen, 'add', ['\\Seen']);
        const updated = new Map(result.updated.map((u) => [u.uid, u]));
        for (const row of rows) {
          const state = updated.get(row.uid);
          if (!state) continue;
          row.flags = state.flags;
          row.modseq = state.modseq;
          seenChanged.add(row.uid);
        }
      }
    }
    const metadata = needsMetadata
      ? await loadComputingMissing(
          mail,
          rows.map((r) => r.blobHash),
          (hashes) => mail.index.structures.load(mail.db, hashes),
        )
      : [];
    // Another session may have set a keyword this client has not been told of yet.
    if (has('FLAGS') || seenChanged.size)
      announceNewKeywords(
        session,
        selected,
        rows.map((r) => r.flags),
      );
    for (const [at, row] of rows.entries()) {
      const seq = selected.seqOf(row.uid);
      if (!seq) continue;
      const meta = metadata[at];
      // A large message is never read whole: its sections are streamed, or read by range.
      const large = needsContent && row.size > streamAbove;
      const sections = !needsContent
        ? noContent
        : large
          ? rangedSections(session, row, meta)
          : inMemorySections(row, meta, await readBlob(mail.blobs, row.blobHash));
      const flags = flagList(selected.flagsFor(row.uid, row.flags));
      const values = await fetchValues(items, row, meta, sections, flags);
      if (seenChanged.has(row.uid) && !has('FLAGS')) values.push(atom('FLAGS'), flags);
      selected.remember(row);
      if (large) await session.untaggedStreamed(seq, atom('FETCH'), values);
      else session.untagged(seq, atom('FETCH'), values);
      await session.drained();
    }
  }
  return 'FETCH completed';
}

/** The folder index's rows of these UIDs (ascending), found by binary search: a FETCH of a few messages costs the same in any folder. */
async function indexedRows(session: ImapSession, selected: SelectedFolder, uids: number[]): Promise<MessageRow[]> {
  const { mail } = session.context;
  const all = await mail.index.messages(mail.db, selected.folder.id);
  const rows: MessageRow[] = [];
  let lo = 0;
  for (const uid of uids) {
    let hi = all.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (all[mid]!.uid < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    const row = all[lo];
    if (row?.uid === uid) rows.push({ ...row, prefix: '' });
  }
  return rows;
}

/** Messages larger than this are streamed section by section rather than read into memory. */
const streamAbove = 256 * 1024;

type Partial = { start: number; length: number } | undefined;

/** Where FETCH gets body sections from: the content in memory, or ranges of the stored content. */
interface SectionSource {
  section(section: Section, partial: Partial): Promise<Value>;
  binary(section: Section, partial: Partial): Promise<Value>;
  binarySize(section: Section): Promise<number>;
}

/** A section asked of a message whose content or MIME tree was not loaded: a bug, logged by the session with its details. */
const unavailable = () => new Error('FETCH asked for message content that was not loaded');
const noContent: SectionSource = {
  section: async () => {
    throw unavailable();
  },
  binary: async () => {
    throw unavailable();
  },
  binarySize: async () => {
    throw unavailable();
  },
};

function inMemorySections(row: MessageRow, metadata: MessageStructure | undefined, blob: Buffer): SectionSource {
  const content = (): MessageContent => {
    if (!metadata) throw unavailable();
    return { prefix: Buffer.from(row.prefix, 'utf8'), blob, tree: metadata.tree };
  };
  return {
    section: async (section, partial) => {
      const bytes = sectionBytes(content(), section);
      return bytes === null ? null : applyPartial(bytes, partial);
    },
    binary: async (section, partial) => {
      const bytes = binaryBytes(content(), section);
      return bytes === null ? null : new BinaryContent(applyPartial(bytes, partial));
    },
    binarySize: async (section) => binaryBytes(content(), section)?.length ?? 0,
  };
}

/** A large message: whole sections and bodies streamed from the blob store, headers read by range. */
function rangedSections(session: ImapSession, row: MessageRow, metadata: MessageStructure | undefined): SectionSource {
  const { blobs } = session.context.mail;
  const prefix = Buffer.from(row.prefix, 'utf8');
  /** Bytes [start, end) of the message as sent: the prefix, then the blob. */
  async function* read(start: number, end: number): AsyncIterable<Buffer> {
    if (start < prefix.length) yield prefix.subarray(start, Math.min(end, prefix.length));
    if (end > prefix.length)
      yield* readBlobRange(blobs, row.blobHash, Math.max(start - prefix.length, 0), end - prefix.length);
  }
  const bytes = async (start: number, end: number) => {
    const parts: Buffer[] = [];
    for await (const chunk of read(start, end)) parts.push(chunk);
    return Buffer.concat(parts);
  };
  let whole: Promise<SectionSource> | undefined;
  const inMemory = () =>
    (whole ??= readBlob(blobs, row.blobHash).then((blob) => inMemorySections(row, metadata, blob)));
  return {
    async section(section, partial) {
      if (!metadata) throw unavailable();
      const plan = sectionPlan(metadata.tree, prefix.length, section);
      if (plan === null) return null;
      if (plan.kind === 'header') {
        const header = await bytes(plan.start, plan.end);
        return applyPartial(
          plan.fields ? selectHeaderFields(header, plan.fields.names, plan.fields.exclude) : header,
          partial,
        );
      }
      const start = partial ? Math.min(plan.start + partial.start, plan.end) : plan.start;
      const end = partial ? Math.min(start + partial.length, plan.end) : plan.end;
      return new StreamedLiteral(end - start, () => read(start, end));
    },
    // Decoding needs the part whole: BINARY of a large message is read into memory.
    binary: async (section, partial) => (await inMemory()).binary(section, partial),
    binarySize: async (section) => (await inMemory()).binarySize(section),
  };
}

async function fetchValues(
  items: FetchItem[],
  row: MessageRow,
  metadata: MessageStructure | undefined,
  sections: SectionSource,
  flags: Value,
): Promise<Value[]> {
  const values: Value[] = [];
  const whole = (specifier: Section['specifier']): Section => ({ path: [], specifier, fields: [] });
  for (const item of items) {
    if (item.kind === 'simple') {
      switch (item.name) {
        case 'UID':
          values.push(atom('UID'), row.uid);
          break;
        case 'FLAGS':
          values.push(atom('FLAGS'), flags);
          break;
        case 'INTERNALDATE':
          values.push(atom('INTERNALDATE'), formatDateTime(row.internalDate));
          break;
        case 'RFC822.SIZE':
          values.push(atom('RFC822.SIZE'), row.size);
          break;
        case 'MODSEQ':
          values.push(atom('MODSEQ'), [row.modseq]);
          break;
        case 'ENVELOPE':
          values.push(atom('ENVELOPE'), envelopeValue(metadata!.envelope));
          break;
        case 'BODYSTRUCTURE':
          values.push(atom('BODYSTRUCTURE'), bodyStructureValue(metadata!.tree, true));
          break;
        case 'BODY':
          values.push(atom('BODY'), bodyStructureValue(metadata!.tree, false));
          break;
        case 'EMAILID':
          values.push(atom('EMAILID'), [atom(`M${row.blobHash.slice(0, 24)}`)]);
          break;
        case 'THREADID':
          values.push(atom('THREADID'), null);
          break;
        case 'RFC822':
          values.push(atom('RFC822'), await sections.section(whole(''), undefined));
          break;
        case 'RFC822.HEADER':
          values.push(atom('RFC822.HEADER'), await sections.section(whole('HEADER'), undefined));
          break;
        case 'RFC822.TEXT':
          values.push(atom('RFC822.TEXT'), await sections.section(whole('TEXT'), undefined));
          break;
      }
      continue;
    }
    try {
      if (item.kind === 'binary-size') {
        values.push(atom(item.label), await sections.binarySize(item.section));
        continue;
      }
      const label = item.partial ? `${item.label}<${item.partial.start}>` : item.label;
      values.push(
        atom(label),
        item.binary
          ? await sections.binary(item.section, item.partial)
          : await sections.section(item.section, item.partial),
      );
    } catch (error) {
      if (error instanceof SectionError) throw new ImapNo(error.message, error.code);
      throw error;
    }
  }
  return values;
}

// Email/parse (RFC 8621 4.9): an uploaded message, a stored one or an attached one (a message/rfc822
// part) shown as an Email without the mailbox's properties (id, mailboxIds, keywords, receivedAt are
// null), parsed in memory by the same code stored messages are. SearchSnippet/get (RFC 8621 5): the
// subject and a piece of the body with what the filter's text, subject and body conditions match
// marked, HTML-escaped.
import libmime from 'libmime';
import { computeMetadata, loadComputingMissing } from '../../mailbox/message-metadata.ts';
import type { Folder } from '../../mailbox/folders.ts';
import { bodyLists, bodyStructure, blobReader, bufferReader, partReadableText } from './email-body.ts';
import { defaultContentProperties, emailRequest, findEmails, renderEmail } from './email-get.ts';
import type { JmapCallContext } from './jmap-context.ts';
import { invalidArguments, MethodError } from './jmap-errors.ts';
import { jmapLimits, maxFilterDepth } from './jmap-limits.ts';
import { readResolved, resolveBlob } from './jmap-blobs.ts';
import { mailCapability, type JmapMethod } from './jmap-request.ts';
import { accountFolders } from './mail-folders.ts';
import { idList, requireAccount } from './method-arguments.ts';
import { partBlobId } from './jmap-ids.ts';
import { orNull } from './set-outcome.ts';

/** Bytes of messages parsed by one Email/parse call at most (each is parsed in memory). */
const maxParsedBytes = 100_000_000;

const emailParse: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const blobIds = idList(args, 'blobIds', 'blob', 'Email/parse');
    const request = emailRequest(args, defaultContentProperties);
    // The id is always asked for by getProperties; an Email/parse answers it null (no Email yet).
    const parsed: Record<string, unknown> = {};
    const notParsable: string[] = [];
    const notFound: string[] = [];
    const maxSize = context.maxSizeUpload ?? jmapLimits.maxSizeUpload;
    let budget = maxParsedBytes;
    for (const blobId of new Set(blobIds)) {
      const blob = await resolveBlob(context, blobId);
      if (!blob) {
        notFound.push(blobId);
        continue;
      }
      if (blob.size > maxSize || blob.size > budget) {
        notParsable.push(blobId);
        continue;
      }
      const source = await readResolved(blob);
      if (!source) {
        notFound.push(blobId);
        continue;
      }
      budget -= source.length;
      const { metadata } = computeMetadata(source);
      parsed[blobId] = await renderEmail(
        {
          read: bufferReader(source),
          prefix: '',
          tree: metadata.tree,
          envelope: metadata.envelope,
          headers: metadata.headers,
          sentAt: metadata.sentAt,
          partBlobId: blob.partBlobId,
          mailbox: {
            id: null,
            blobId,
            threadId: null,
            mailboxIds: null,
            keywords: null,
            size: source.length,
            receivedAt: null,
          },
        },
        request,
      );
    }
    return { accountId, parsed: orNull(parsed), notParsable: orNull(notParsable), notFound: orNull(notFound) };
  },
};

// SearchSnippet/get.

/** The strings of the filter's text, subject and body conditions (not under NOT), checked. */
function filterTerms(filter: unknown): { subject: string[]; body: string[] } {
  const terms = { subject: [] as string[], body: [] as string[] };
  const walk = (value: unknown, depth: number, negated: boolean) => {
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) throw invalidArguments('filter must be an object');
    if (depth > maxFilterDepth)
      throw new MethodError('unsupportedFilter', `filters nest at most ${maxFilterDepth} deep`);
    const object = value as Record<string, unknown>;
    if ('operator' in object) {
      if (!['AND', 'OR', 'NOT'].includes(object.operator as string) || !Array.isArray(object.conditions))
        throw new MethodError('unsupportedFilter', 'a FilterOperator is {operator: AND|OR|NOT, conditions}');
      for (const condition of object.conditions) walk(condition, depth + 1, negated || object.operator === 'NOT');
      return;
    }
    for (const key of ['text', 'subject', 'body'] as const) {
      const term = object[key];
      if (term === undefined) continue;
      if (typeof term !== 'string') throw new MethodError('unsupportedFilter', `${key} must be a string`);
      if (negated || !term.trim()) continue;
      if (key !== 'body') terms.subject.push(term);
      if (key !== 'subject') terms.body.push(term);
    }
  };
  walk(filter, 0, false);
  return terms;
}

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Bytes of a preview snippet at most (RFC 8621 5.1). */
const maxPreviewBytes = 255;

/**
 * The text HTML-escaped with each match of `terms` (substrings, without case, as searching matches)
 * in <mark></mark>; null when nothing matches. With `maxBytes`, a piece of the text around the first
 * match, cut so that the result (tags and entities included) stays within it.
 */
export function highlight(text: string, terms: string[], maxBytes?: number): string | null {
  if (!terms.length || !text) return null;
  const pattern = new RegExp(
    [...new Set(terms)]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join('|'),
    'giu',
  );
  const matches = [...text.matchAll(pattern)].filter((m) => m[0].length > 0);
  if (!matches.length) return null;
  let start = 0;
  if (maxBytes !== undefined) {
    start = Math.max(0, matches[0]!.index! - 40);
    // Begin at a word.
    if (start > 0) {
      const space = text.indexOf(' ', start);
      if (space !== -1 && space < matches[0]!.index!) start = space + 1;
    }
  }
  let out = '';
  let bytes = 0;
  let at = start;
  const fits = (piece: string, reserve: number) =>
    maxBytes === undefined || bytes + Buffer.byteLength(piece) + reserve <= maxBytes;
  const append = (piece: string) => {
    out += piece;
    bytes += Buffer.byteLength(piece);
  };
  /** Characters of text[from, to) escaped, as many as fit; false when it stopped short. */
  const appendText = (from: number, to: number, reserve: number) => {
    for (const char of text.slice(from, to)) {
      const escaped = escapeHtml(char);
      if (!fits(escaped, reserve)) return false;
      append(escaped);
    }
    return true;
  };
  for (const match of matches) {
    const index = match.index!;
    if (index < at) continue;
    if (!appendText(at, index, 0)) return out;
    if (!fits('<mark></mark>', 0)) return out;
    append('<mark>');
    const complete = appendText(index, index + match[0].length, '</mark>'.length);
    append('</mark>');
    if (!complete) return out;
    at = index + match[0].length;
  }
  appendText(at, text.length, 0);
  return out;
}

const searchSnippetGet: JmapMethod<JmapCallContext> = {
  capability: mailCapability,
  async run(args, context) {
    const accountId = requireAccount(args, context);
    const emailIds = idList(args, 'emailIds', 'Email', 'SearchSnippet/get');
    const terms = filterTerms(args.filter);
    const { mail } = context;
    const { folders } = await accountFolders(mail.db, context.principal, mail.now());
    const { found, notFound } = await findEmails(context, folders as Folder[], emailIds);
    const hashes = found.map((e) => e.row.blobHash);
    const wantsBody = terms.body.length > 0;
    const wantsSubject = terms.subject.length > 0;
    const structures =
      wantsBody || wantsSubject
        ? await loadComputingMissing(mail, hashes, (some) => mail.index.structures.load(mail.db, some))
        : [];
    const list: Record<string, unknown>[] = [];
    for (const [i, { id, row }] of found.entries()) {
      const structure = structures[i];
      let subject: string | null = null;
      let preview: string | null = null;
      if (structure && wantsSubject) {
        const raw = structure.envelope.subject;
        const decoded = raw === null ? '' : decodeSubject(raw);
        subject = highlight(decoded, terms.subject);
      }
      if (structure && wantsBody) {
        const lists = bodyLists(bodyStructure(structure.tree, (part) => partBlobId(row.emailId, part)));
        const read = blobReader(mail.blobs, row.blobHash);
        for (const part of lists.textBody.filter((p) => p.type.startsWith('text/')).slice(0, 10)) {
          const text = (await partReadableText(read, part.mime)).replace(/\s+/g, ' ').trim();
          preview = highlight(text, terms.body, maxPreviewBytes);
          if (preview !== null) break;
        }
      }
      list.push({ emailId: id, subject, preview });
    }
    return { accountId, list, notFound: notFound.length ? notFound : null };
  },
};

function decodeSubject(raw: string): string {
  try {
    return libmime.decodeWords(raw.replace(/\r?\n(?=[ \t])/g, '')).trim();
  } catch {
    return raw;
  }
}

export const emailParseMethod: [string, JmapMethod<JmapCallContext>] = ['Email/parse', emailParse];
export const searchSnippetMethod: [string, JmapMethod<JmapCallContext>] = ['SearchSnippet/get', searchSnippetGet];

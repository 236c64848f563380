// What makes an imported message "the same message" on a later run: its Message-ID, internal date
// (to the second) and size, as the task of moving a mailbox has it (imapsync and Exchange's
// migration do the same). The key is the message row's delivery key, so the folder's unique
// (mailbox_id, delivery_key) index is what makes a re-run add nothing, also when two runs overlap.
//
// A message without a Message-ID (drafts, some old or machine-made mail) is named by a hash of its
// whole header section instead: its Date, From, Received and Subject lines tell it apart from
// others as well as an ID would. Two messages identical in all of this (the same mail twice in one
// source folder) are both kept: the second in a folder gets "#2", the third "#3", in source order.
import { createHash } from 'node:crypto';
import { parseHeaderSection, headerValue } from '../message/headers.ts';

export interface KeyInput {
  /** The Message-ID header's value as written (unfolded), if the message has one. */
  messageId: string | undefined;
  /** The header section's bytes, used only when there is no Message-ID. */
  header?: Buffer;
  internalDate: number;
  size: number;
}

/** The key before duplicates are counted (see KeyCounter). */
export function baseImportKey(input: KeyInput): string {
  const messageId = input.messageId?.trim().replace(/\s+/g, ' ');
  const identity = messageId
    ? `id:${messageId}`
    : `header:${createHash('sha256')
        .update(input.header ?? Buffer.alloc(0))
        .digest('hex')}`;
  const digest = createHash('sha256')
    .update(`${identity}\n${Math.floor(input.internalDate / 1000)}\n${input.size}`)
    .digest('hex');
  return `import:${digest.slice(0, 40)}`;
}

/** Counts repeats of a key within one source folder, in source order. */
export class KeyCounter {
  private readonly seen = new Map<string, number>();

  next(base: string): string {
    const n = (this.seen.get(base) ?? 0) + 1;
    this.seen.set(base, n);
    return n === 1 ? base : `${base}#${n}`;
  }
}

/** The Message-ID of a header section (CRLF or LF lines), or undefined. */
export function messageIdOf(header: Buffer): string | undefined {
  const value = headerValue(parseHeaderSection(header.toString('latin1')), 'message-id');
  return value ? value : undefined;
}

/** The header section of message bytes: up to and including the first empty line, or all of them. */
export function headerSection(bytes: Buffer): Buffer {
  const crlf = bytes.indexOf('\r\n\r\n');
  const lf = bytes.indexOf('\n\n');
  const ends = [crlf >= 0 ? crlf + 4 : -1, lf >= 0 ? lf + 2 : -1].filter((n) => n >= 0);
  return ends.length ? bytes.subarray(0, Math.min(...ends)) : bytes;
}

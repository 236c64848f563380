// Reading an mbox file message by message as it streams past: each message comes out as its own
// stream of bytes (mboxrd quoting undone, the mbox state fields taken out and read as flags, lines
// ending in CRLF as IMAP has them), so a large message is never held whole and a large file never
// read into memory.
import { invalid } from '../errors.ts';
import { parseHeaderSection } from '../message/headers.ts';
import { isBlankLine, linePieces, withCrlf, type LinePiece } from './line-pieces.ts';
import { flagsFromStateFields, mboxStateFields, parseFromLine, quotedFromLine } from './mbox-format.ts';

export interface MboxMessage {
  /** 1 for the file's first message. */
  position: number;
  /** From the From_ line. */
  sender: string | undefined;
  date: number | undefined;
  /** The message; read it whole before asking for the next message (an unread rest is skipped). */
  content: AsyncIterable<Buffer>;
  /** Flags from the state fields; complete once `content` has been read. */
  flags: string[];
}

/** Header sections longer than this are passed on as they are (their state fields stay). */
const maxStateHeader = 1024 * 1024;

export async function* readMbox(chunks: AsyncIterable<Uint8Array>, name: string): AsyncIterable<MboxMessage> {
  const pieces = linePieces(chunks)[Symbol.asyncIterator]();
  let pushedBack: LinePiece | undefined;
  const next = async (): Promise<LinePiece | undefined> => {
    if (pushedBack) {
      const piece = pushedBack;
      pushedBack = undefined;
      return piece;
    }
    const step = await pieces.next();
    return step.done ? undefined : step.value;
  };

  // Blank lines before the first From_ line are allowed; anything else means this is no mbox.
  let first = await next();
  while (first && isBlankLine(first)) first = await next();
  if (!first) return;
  const firstLine = first.bytes.toString('latin1');
  if (!firstLine.startsWith('From ')) {
    throw invalid(
      'not-mbox',
      `${name} is not an mbox file: it does not begin with a "From " line (found ${JSON.stringify(firstLine.slice(0, 40))})`,
    );
  }
  let separator: string | undefined = firstLine;
  let position = 0;
  while (separator !== undefined) {
    const from = parseFromLine(separator) ?? { sender: undefined, date: undefined };
    const flags: string[] = [];
    let ended = false;
    let following: string | undefined;
    // The next piece of this message, or undefined at the next From_ line (kept in `following`).
    const nextOfMessage = async (): Promise<LinePiece | undefined> => {
      if (ended) return undefined;
      const piece = await next();
      if (piece?.lineStart && piece.bytes[0] === 0x46 /* F */) {
        const text = piece.bytes.toString('latin1');
        if (text.startsWith('From ') && parseFromLine(text)) following = text;
      }
      if (!piece || following !== undefined) ended = true;
      return ended ? undefined : piece;
    };
    // One message's lines, without the blank line before the next From_ line.
    async function* lines(): AsyncIterable<LinePiece> {
      let held: LinePiece | undefined;
      for (let piece = await nextOfMessage(); piece; piece = await nextOfMessage()) {
        if (held) yield held;
        held = undefined;
        if (isBlankLine(piece)) held = piece;
        else yield unquoted(piece);
      }
    }
    yield { position: ++position, ...from, content: crlfPieces(withoutStateFields(lines(), flags)), flags };
    // Whatever the caller did not read of this message (it failed half-way, or skipped it) is skipped.
    while (await nextOfMessage());
    separator = following;
  }
}

/** mboxrd: a line of ">"s then "From " loses one ">". */
function unquoted(piece: LinePiece): LinePiece {
  if (!piece.lineStart || piece.bytes[0] !== 0x3e /* > */) return piece;
  return quotedFromLine.test(piece.bytes.subarray(0, 80).toString('latin1'))
    ? { bytes: piece.bytes.subarray(1), lineStart: true }
    : piece;
}

async function* crlfPieces(pieces: AsyncIterable<LinePiece>): AsyncIterable<Buffer> {
  for await (const piece of pieces) yield withCrlf(piece.bytes);
}

/**
 * The header section without its mbox state fields (and their continuation lines), whose flags go
 * into `flags`; the body unchanged.
 */
async function* withoutStateFields(pieces: AsyncIterable<LinePiece>, flags: string[]): AsyncIterable<LinePiece> {
  const header: LinePiece[] = [];
  let size = 0;
  let inHeader = true;
  for await (const piece of pieces) {
    if (!inHeader) {
      yield piece;
      continue;
    }
    if (isBlankLine(piece)) {
      yield* filterHeader(header, flags);
      yield piece;
      inHeader = false;
      continue;
    }
    header.push(piece);
    size += piece.bytes.length;
    if (size > maxStateHeader) {
      yield* header;
      inHeader = false;
    }
  }
  if (inHeader) yield* filterHeader(header, flags);
}

function* filterHeader(header: LinePiece[], flags: string[]): Iterable<LinePiece> {
  // Group the pieces into fields: a field is a line and the continuation lines after it.
  const fields: LinePiece[][] = [];
  for (const piece of header) {
    const continues = !piece.lineStart || piece.bytes[0] === 0x20 || piece.bytes[0] === 0x09;
    const last = fields.at(-1);
    if (continues && last) last.push(piece);
    else fields.push([piece]);
  }
  const state: { name: string; value: string }[] = [];
  for (const field of fields) {
    const text = Buffer.concat(field.map((p) => p.bytes)).toString('latin1');
    const parsed = parseHeaderSection(text)[0];
    if (parsed && mboxStateFields.has(parsed.name)) state.push(parsed);
    else yield* field;
  }
  flags.push(...flagsFromStateFields(state));
}

// Reading message bytes line by line without holding a line whole: mbox quoting, From_ lines and
// line endings are decided at the start and end of lines, but a line may be megabytes of base64
// without a break, so a long line comes out in pieces of bounded size.
export interface LinePiece {
  bytes: Buffer;
  /** Whether this piece begins a line (a long line's later pieces do not). */
  lineStart: boolean;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits chunks into pieces that end at each LF (the LF included) or at `maxPiece` bytes; memory held
 * is one chunk plus at most one piece.
 */
export async function* linePieces(chunks: AsyncIterable<Uint8Array>, maxPiece = 64 * 1024): AsyncIterable<LinePiece> {
  let pending = Buffer.alloc(0);
  let lineStart = true;
  for await (const raw of chunks) {
    const data = pending.length ? Buffer.concat([pending, raw]) : Buffer.from(raw.buffer, raw.byteOffset, raw.length);
    let at = 0;
    for (;;) {
      const lf = data.indexOf(LF, at);
      if (lf >= 0 && lf - at < maxPiece) {
        yield { bytes: data.subarray(at, lf + 1), lineStart };
        lineStart = true;
        at = lf + 1;
        continue;
      }
      if (data.length - at <= maxPiece) break;
      // A CR is never parted from the LF that may follow it: line-end handling sees CRLF whole.
      let end = at + maxPiece;
      if (data[end - 1] === CR) end--;
      yield { bytes: data.subarray(at, end), lineStart };
      lineStart = false;
      at = end;
    }
    pending = Buffer.from(data.subarray(at));
  }
  if (pending.length) yield { bytes: pending, lineStart };
}

/** A piece with its line ending as IMAP needs it: a bare LF becomes CRLF. */
export function withCrlf(piece: Buffer): Buffer {
  const n = piece.length;
  if (n === 0 || piece[n - 1] !== LF || (n > 1 && piece[n - 2] === CR)) return piece;
  return Buffer.concat([piece.subarray(0, n - 1), Buffer.from('\r\n')]);
}

/** A piece with its line ending as mbox files on Unix have it: CRLF becomes LF. */
export function withLf(piece: Buffer): Buffer {
  const n = piece.length;
  if (n > 1 && piece[n - 1] === LF && piece[n - 2] === CR)
    return Buffer.concat([piece.subarray(0, n - 2), Buffer.from('\n')]);
  return piece;
}

/** Whether a piece is an empty line (the end of a header section, the blank line before a From_ line). */
export function isBlankLine(piece: LinePiece): boolean {
  const b = piece.bytes;
  return piece.lineStart && (b.equals(Buffer.from('\n')) || b.equals(Buffer.from('\r\n')));
}

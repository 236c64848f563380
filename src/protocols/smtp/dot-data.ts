// The content of DATA (RFC 5321 §4.1.1.4, §4.5.2) decoded as it arrives, chunk by chunk: a line
// holding only "." ends it, and the leading "." of any other line is removed (dot-unstuffing).
// Pure: no I/O; whatever the chunk boundaries, the same bytes give the same content.
//
// Only <CRLF>.<CRLF> ends the data (not <LF>.<CRLF>, <LF>.<LF> or <CR>.<CR><LF>). A bare LF in the content is stored as CRLF, as Postfix's smtpd
// does (smtpd_forbid_bare_newline = normalize): a message carrying "\n.\r\n" or "\n.\n" must not
// become, at a next hop that reads LF as a line end, the end of the data followed by commands
// (SMTP smuggling, 2023). Normalized, such a line is an ordinary "." line, dot-stuffed on the way out.
// A bare CR stays as it is.

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const crlf = Buffer.from('\r\n');
const dot = Buffer.from('.');
const cr = Buffer.from('\r');

export interface DecodedChunk {
  /** Message content, in order (pieces of the input where possible: nothing is copied). */
  content: Buffer[];
  /** Set when the end of the data was found: the input after it (pipelined commands). */
  rest?: Buffer;
}

export class DotDecoder {
  /** At the start of a line: nothing of it has been passed on yet. */
  private lineStart = true;
  /** What the line began with, while it may still be the terminator or a stuffed dot: "", "." or ".\r". */
  private lead: '' | '.' | '.\r' = '';
  /** The last byte passed on was a CR (so an LF at the start of the next chunk ends a proper line). */
  private afterCr = false;
  /** The line began after a CRLF (or at the start of the data), not after a bare LF: only such a "." line ends the data. */
  private afterCrlf = true;
  private ended = false;

  get done(): boolean {
    return this.ended;
  }

  feed(chunk: Buffer): DecodedChunk {
    const content: Buffer[] = [];
    // Adjacent pieces of the chunk are passed on as one.
    let runStart = -1;
    let runEnd = -1;
    const take = (from: number, to: number) => {
      if (from === to) return;
      if (runEnd === from) runEnd = to;
      else {
        if (runStart >= 0) content.push(chunk.subarray(runStart, runEnd));
        runStart = from;
        runEnd = to;
      }
    };
    const add = (bytes: Buffer) => {
      if (runStart >= 0) content.push(chunk.subarray(runStart, runEnd));
      runStart = runEnd = -1;
      content.push(bytes);
    };
    const finish = (rest?: Buffer): DecodedChunk => {
      if (runStart >= 0) content.push(chunk.subarray(runStart, runEnd));
      return { content, rest };
    };

    let i = 0;
    while (i < chunk.length) {
      if (this.ended) return finish(chunk.subarray(i));
      const byte = chunk[i]!;
      if (this.lineStart) {
        if (this.lead === '') {
          if (byte === DOT) {
            this.lead = '.';
            i++;
          } else this.lineStart = false;
        } else if (this.lead === '.') {
          if (byte === CR) {
            this.lead = '.\r';
            i++;
          } else if (byte === LF) {
            // ".\n": not the end (only CRLF.CRLF is).
            this.dotLine(add, false);
            i++;
          } else {
            // A stuffed (or just leading) dot: removed; the rest of the line follows.
            this.lead = '';
            this.lineStart = false;
          }
        } else if (byte === LF && this.afterCrlf) {
          this.ended = true;
          this.lead = '';
          i++;
        } else if (byte === LF) {
          // ".\r\n" after a bare LF: not the end either.
          this.dotLine(add, true);
          i++;
        } else {
          // ".\r" and more: the dot is removed, the CR is content.
          add(cr);
          this.lead = '';
          this.lineStart = false;
          this.afterCr = true;
        }
        continue;
      }
      const lf = chunk.indexOf(LF, i);
      if (lf < 0) {
        take(i, chunk.length);
        this.afterCr = chunk[chunk.length - 1] === CR;
        break;
      }
      const properLineEnd = lf > i ? chunk[lf - 1] === CR : this.afterCr;
      if (properLineEnd) take(i, lf + 1);
      else {
        take(i, lf);
        add(crlf);
      }
      this.afterCrlf = properLineEnd;
      this.afterCr = false;
      this.lineStart = true;
      i = lf + 1;
    }
    return finish(this.ended && i < chunk.length ? chunk.subarray(i) : undefined);
  }

  /** A line holding only a dot that does not end the data: content, as "." CRLF. */
  private dotLine(add: (bytes: Buffer) => void, endedByCrlf: boolean) {
    add(dot);
    add(crlf);
    this.lead = '';
    this.afterCr = false;
    this.afterCrlf = endedByCrlf;
  }
}

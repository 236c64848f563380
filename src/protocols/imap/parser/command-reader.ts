// Frames the bytes a client sends into whole commands: lines, and the literals ({n}, {n+}, ~{n}) that
// continue them. Bounded: a line longer than `maxLine` is refused and skipped without being kept, a
// literal is only read after the session has accepted its size, knowing how much of the command came
// before it (for a synchronising literal, before the client sends it; an oversized non-synchronising
// literal is skipped byte by byte, never buffered, or ends the reading if the session says so).
//
// The reader knows nothing of commands; the session decides what each frame means.

export interface CommandFrame {
  /** Line text and literal contents in the order they came: text, literal, text, literal, text... */
  parts: (string | Buffer)[];
}

export interface LiteralDecision {
  /** Accept the literal (for a synchronising one, the reader asks the client to send it). */
  accept: boolean;
  /** Why not, sent as the tagged reply when the literal is refused. */
  reason?: string;
  /** Refused and not worth skipping: the reader stops and the session closes the connection. */
  close?: boolean;
}

export interface CommandReaderEvents {
  frame(frame: CommandFrame): void;
  /** A literal was announced; `firstLine` is the command's first line, to know which command it is. */
  literal(size: number, synchronizing: boolean, firstLine: string, totalSoFar: number): LiteralDecision;
  /** The client may send a synchronising literal now. */
  proceed(): void;
  /**
   * A command was refused while being read (too long, refused literal): tagged BAD/NO with this
   * text. With `close`, the reader has stopped and the session is to end the connection.
   */
  refused(tag: string | null, reply: string, close: boolean): void;
}

const literalAtEnd = /~?\{(\d{1,20})(\+)?\}$/;

export class CommandReader {
  private pending: Buffer = Buffer.alloc(0);
  private parts: (string | Buffer)[] = [];
  private size = 0;
  private literalLeft = 0;
  private literalChunks: Buffer[] = [];
  /** Skipping a refused command: its rest is dropped up to the end of its line (after any literal). */
  private skipping = false;
  private skippingLine = false;
  /** Stopped: whatever arrives from now on is dropped. */
  private stopped = false;

  constructor(
    private readonly events: CommandReaderEvents,
    private readonly maxLine = 64 * 1024,
  ) {}

  /** Drops what is buffered and everything that arrives later (the stream changes under it: STARTTLS, COMPRESS). */
  stop() {
    this.stopped = true;
    this.pending = Buffer.alloc(0);
    this.literalLeft = 0;
    this.resetCommand();
  }

  push(chunk: Buffer) {
    if (this.stopped) return;
    let data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (data.length && !this.stopped) {
      if (this.literalLeft > 0) {
        const take = Math.min(this.literalLeft, data.length);
        if (!this.skipping) this.literalChunks.push(data.subarray(0, take));
        this.literalLeft -= take;
        data = data.subarray(take);
        if (this.literalLeft === 0 && !this.skipping) {
          this.parts.push(Buffer.concat(this.literalChunks));
          this.literalChunks = [];
        }
        continue;
      }
      const newline = data.indexOf(10);
      if (newline < 0) {
        if (data.length > this.maxLine) {
          // Too long to be a command line: refuse it and drop what comes until its end.
          if (!this.skippingLine && !this.skipping)
            this.events.refused(
              this.tagOf(data.toString('utf8', 0, 64)),
              `Command line too long (more than ${this.maxLine} bytes)`,
              false,
            );
          this.skippingLine = true;
          this.resetCommand();
          return;
        }
        this.pending = Buffer.from(data);
        return;
      }
      const lineBytes = data.subarray(0, newline > 0 && data[newline - 1] === 13 ? newline - 1 : newline);
      data = data.subarray(newline + 1);
      if (this.skippingLine) {
        this.skippingLine = false;
        continue;
      }
      if (lineBytes.length > this.maxLine) {
        this.events.refused(
          this.tagOf(lineBytes.toString('utf8', 0, 64)),
          `Command line too long (more than ${this.maxLine} bytes)`,
          false,
        );
        this.resetCommand();
        continue;
      }
      this.line(lineBytes.toString('utf8'));
    }
  }

  private line(text: string) {
    const literal = literalAtEnd.exec(text);
    if (this.skipping) {
      // The rest of a refused command: follow its non-synchronising literals, drop everything.
      if (literal?.[2]) this.literalLeft = Number(literal[1]);
      else if (!literal) this.resetCommand();
      return;
    }
    this.parts.push(text);
    this.size += text.length;
    if (!literal) {
      const frame = { parts: this.parts };
      this.resetCommand();
      this.events.frame(frame);
      return;
    }
    const size = Number(literal[1]);
    const synchronizing = !literal[2];
    const firstLine = this.parts[0] as string;
    const decision = this.events.literal(size, synchronizing, firstLine, this.size);
    if (decision.accept) {
      this.size += size;
      this.literalLeft = size;
      if (size === 0) this.parts.push(Buffer.alloc(0));
      if (synchronizing) this.events.proceed();
      return;
    }
    const close = decision.close === true;
    if (close) this.stop();
    this.events.refused(this.tagOf(firstLine), decision.reason ?? 'Literal refused', close);
    if (close) return;
    if (synchronizing) {
      // The client will not send it; the command is over.
      this.resetCommand();
    } else {
      this.skipping = true;
      this.literalLeft = size;
      this.parts = [];
    }
  }

  private resetCommand() {
    this.parts = [];
    this.size = 0;
    this.skipping = false;
    this.literalChunks = [];
  }

  private tagOf(line: string): string | null {
    const space = line.indexOf(' ');
    const tag = space < 0 ? line : line.slice(0, space);
    return /^[\x21-\x7e]+$/.test(tag) && !/[(){%*"\\+]/.test(tag) ? tag : null;
  }
}

// What the client sends, read on demand by the session: a command line, a counted number of octets
// (BDAT), or dot-terminated data (DATA). Pull rather than push, because where a command ends and
// message content begins depends on the command: the session asks for what it expects next.
//
// Memory is bounded: bytes not yet asked for are held up to `highWater`, then the socket is paused
// until the session takes them (a client that pipelines without end, or sends a message faster than
// it is stored, is held back by TCP). An over-long command line is skipped up to its end, never held.
// Every wait for the client runs `beforeWait` first (the session sends its pending replies there)
// and is bounded by the timeout the session gives.
import type { Socket } from 'node:net';
import type { DotDecoder } from './dot-data.ts';

const LF = 0x0a;

/** Why a wait for the client ended without input. */
export class InputStopped extends Error {
  constructor(readonly reason: 'timeout' | 'interrupted') {
    super(`input ${reason}`);
  }
}

export type LineResult = { line: string } | { tooLong: true } | { closed: true };

/** Takes a piece of message content; returns a promise when the consumer wants no more for now. */
export type Sink = (content: Buffer) => Promise<void> | void;

export interface InputOptions {
  highWater: number;
  /** Called before each wait for the client. */
  beforeWait(): void;
  /** How long the next wait may last, in ms. */
  waitLimit(): number;
}

export class SmtpInput {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Everything the client sent so far, for the session's accounting (early talkers). */
  received = 0;
  private socket: Socket | undefined;
  private paused = false;
  private ended = false;
  private wake: (() => void) | undefined;
  private stop: InputStopped | undefined;
  private readonly onData = (chunk: Buffer) => this.push(chunk);
  private readonly onEnd = () => {
    this.ended = true;
    this.wake?.();
  };

  constructor(private readonly options: InputOptions) {}

  /** Reads from `socket` from now on (at start, and after STARTTLS with the TLS socket). */
  attach(socket: Socket) {
    this.socket = socket;
    this.paused = false;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
  }

  /**
   * Stops reading from the socket and forgets everything received and not yet read. At STARTTLS
   * this drops what the client pipelined in plain text behind the command (RFC 3207 §4.2), which
   * would otherwise run as if it had come over TLS (CVE-2011-0411).
   */
  detach() {
    const socket = this.socket;
    if (socket) {
      socket.off('data', this.onData);
      socket.off('end', this.onEnd);
      socket.off('close', this.onEnd);
    }
    this.socket = undefined;
    this.chunks = [];
    this.buffered = 0;
  }

  /** Ends the current or next wait for the client with InputStopped('interrupted') (server shutdown). */
  interrupt() {
    this.stop = new InputStopped('interrupted');
    this.wake?.();
  }

  /** The next line without its line end (CRLF, or a bare LF), as UTF-8; longer than maxLength is refused, skipped to its end. */
  async line(maxLength: number): Promise<LineResult> {
    let skipping = false;
    for (;;) {
      const first = this.chunks[0];
      let end = first ? first.indexOf(LF) : -1;
      if (end < 0 && this.chunks.length > 1) {
        this.chunks = [Buffer.concat(this.chunks)];
        end = this.chunks[0]!.indexOf(LF);
      }
      if (end >= 0) {
        const line = this.take(end + 1);
        if (skipping || end > maxLength + 1) return { tooLong: true };
        return { line: line.toString('utf8', 0, end > 0 && line[end - 1] === 0x0d ? end - 1 : end) };
      }
      if (this.buffered > maxLength + 1) {
        skipping = true;
        this.take(this.buffered);
      }
      if (!(await this.more())) return { closed: true };
    }
  }

  /** Passes exactly `count` octets to `sink` (BDAT). False if the client left before they all came. */
  async exact(count: number, sink: Sink): Promise<boolean> {
    let remaining = count;
    while (remaining > 0) {
      if (!this.buffered && !(await this.more())) return false;
      const piece = this.take(Math.min(remaining, this.chunks[0]!.length));
      remaining -= piece.length;
      await sink(piece);
    }
    return true;
  }

  /** Passes the content of DATA to `sink` up to its terminator. False if the client left first. */
  async dotData(decoder: DotDecoder, sink: Sink): Promise<boolean> {
    while (!decoder.done) {
      if (!this.buffered && !(await this.more())) return false;
      const chunk = this.take(this.chunks[0]!.length);
      const { content, rest } = decoder.feed(chunk);
      if (rest?.length) this.unshift(rest);
      for (const piece of content) await sink(piece);
    }
    return true;
  }

  private push(chunk: Buffer) {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.received += chunk.length;
    if (this.buffered >= this.options.highWater && this.socket && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    this.wake?.();
  }

  private unshift(chunk: Buffer) {
    this.chunks.unshift(chunk);
    this.buffered += chunk.length;
  }

  /** Removes and returns the first `count` buffered bytes. */
  private take(count: number): Buffer {
    let first = this.chunks[0]!;
    if (count > first.length) this.chunks = [(first = Buffer.concat(this.chunks))];
    const taken = count === first.length ? first : first.subarray(0, count);
    if (count === first.length) this.chunks.shift();
    else this.chunks[0] = first.subarray(count);
    this.buffered -= count;
    if (this.paused && this.buffered < this.options.highWater / 2) {
      this.paused = false;
      this.socket?.resume();
    }
    return taken;
  }

  /** Waits for more input: true when some came, false when the client is gone. */
  private async more(): Promise<boolean> {
    if (this.stop) throw this.stop;
    if (this.ended) return false;
    this.options.beforeWait();
    // A paused socket delivers nothing: it was paused because enough is buffered, which the caller reads first.
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    try {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        timer = setTimeout(
          () => {
            timedOut = true;
            resolve();
          },
          Math.max(0, this.options.waitLimit()),
        );
      });
    } finally {
      this.wake = undefined;
      clearTimeout(timer);
    }
    if (this.buffered) return true;
    if (this.stop) throw this.stop;
    if (timedOut) throw new InputStopped('timeout');
    return !this.ended;
  }
}

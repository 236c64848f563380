// The flow control the IMAP and POP3 sessions share. Commands are queued as they are read and run
// one at a time, in order. Reading pauses while too many wait, and each command first waits until the
// client has read the answers so far: a client that pipelines commands and never reads its answers
// gets no more written for it, its queue fills and reading from it stops. Nothing is buffered for it
// without bound, on either side.
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';

/** Commands queued beyond this many, or this many bytes, pause reading from the client until they are done. */
const maxQueued = 64;
const maxQueuedBytes = 1024 * 1024;
/**
 * Commands run back to back before the session lets other connections' work in: a client that
 * pipelines thousands of cheap commands (NOOP) must not hold the event loop for the whole run.
 */
const commandsPerTurn = 64;

export interface CommandQueueEvents<T> {
  run(command: T): Promise<void>;
  /** Resolves once the client has read what was written so far (or the connection is gone). */
  drained(): Promise<void>;
  closed(): boolean;
}

export class CommandQueue<T> {
  private readonly waiting: { command: T; bytes: number }[] = [];
  private bytes = 0;
  private running = false;

  constructor(
    private input: Readable,
    private readonly events: CommandQueueEvents<T>,
  ) {}

  push(command: T, bytes: number) {
    this.waiting.push({ command, bytes });
    this.bytes += bytes;
    if (this.waiting.length >= maxQueued || this.bytes >= maxQueuedBytes) this.input.pause();
    void this.pump();
  }

  /**
   * Drops the commands waiting and reads from `input` from now on. At STARTTLS (or COMPRESS) nothing
   * the client sent before the switch may run after it (RFC 3207 §4.2, RFC 2595 §3.1): plain text
   * pipelined behind STARTTLS would otherwise run inside the TLS session.
   */
  restart(input: Readable) {
    this.waiting.length = 0;
    this.bytes = 0;
    this.input = input;
  }

  /** Reads now whatever waits (a running command needs the client's next line). */
  resumeInput() {
    this.input.resume();
  }

  pauseInput() {
    this.input.pause();
  }

  private async pump() {
    if (this.running) return;
    this.running = true;
    try {
      let ranThisTurn = 0;
      while (this.waiting.length && !this.events.closed()) {
        await this.events.drained();
        if (++ranThisTurn > commandsPerTurn) {
          await new Promise((resolve) => setImmediate(resolve));
          ranThisTurn = 0;
        }
        const next = this.waiting.shift();
        if (!next) break; // dropped meanwhile
        this.bytes -= next.bytes;
        if (this.waiting.length < maxQueued / 2 && this.bytes < maxQueuedBytes / 2) this.input.resume();
        await this.events.run(next.command);
      }
    } finally {
      this.running = false;
    }
  }
}

/** Resolves when `stream` (the socket, or a compressor writing into it) takes writes again, or the socket closes. */
export function whenWritable(stream: Writable, socket: Socket): Promise<void> {
  if (!stream.writableNeedDrain || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    socket.once('close', done);
  });
}

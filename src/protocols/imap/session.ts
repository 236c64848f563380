// One IMAP connection: reads framed commands, runs them one at a time in order, writes responses,
// and keeps the selected folder in step with the store. Command logic lives in commands/; this file
// is the connection's plumbing: states, TLS and compression, continuation requests, timeouts and
// flow control (../command-queue.ts: a client that sends faster than it reads is paused, never
// buffered for).
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
import { constants as zlibConstants, createDeflateRaw, createInflateRaw, type DeflateRaw } from 'node:zlib';
import type { Principal } from '../../directory/directory.ts';
import { SessionCheck } from '../../directory/session-check.ts';
import type { Logger } from '../../logging/logger.ts';
import type { ImapContext } from './imap-context.ts';
import { ImapNo } from './imap-error.ts';
import { isStoreUnavailable } from '../../store/store-unavailable.ts';
import { Args } from './parser/args.ts';
import { CommandReader, type CommandFrame } from './parser/command-reader.ts';
import { decideLiteral } from './parser/literal-limits.ts';
import { ParseError, tokenizeCommand } from './parser/tokenizer.ts';
import { atom, encode, StreamedLiteral, type Value } from './response/encode.ts';
import type { SelectedFolder } from './selected-folder.ts';
import { commandTable, dispatch } from './commands/index.ts';
import { syncSelected } from './commands/sync.ts';
import { capabilities } from './capabilities.ts';
import { CommandQueue, whenWritable } from '../command-queue.ts';

/** The states of RFC 9051 section 3, each with what commands in it use. */
export type SessionState =
  | { name: 'not-authenticated' }
  | { name: 'authenticated'; principal: Principal }
  | { name: 'selected'; principal: Principal; selected: SelectedFolder };

export class ImapSession {
  readonly id = randomUUID().slice(0, 8);
  state: SessionState = { name: 'not-authenticated' };
  readonly enabled = new Set<string>();
  secure: boolean;
  readonly log: Logger;
  private socket: Socket;
  private reader!: CommandReader;
  private readonly queue: CommandQueue<CommandFrame>;
  /** A running command waiting for a client line (IDLE's DONE, an AUTHENTICATE response). */
  private continuation?: (frame: CommandFrame) => void;
  private deflate?: DeflateRaw;
  private output: Buffer[] = [];
  private outputBytes = 0;
  private closed = false;
  /** A command is running (IDLE included, while it waits for DONE). */
  private running = false;
  /** Re-reads the sign-in now and then: a disabled account, new password or kick ends the session. */
  private signIn?: SessionCheck;
  /** Called when the connection closes (IDLE listeners unsubscribe). */
  readonly onClose: (() => void)[] = [];

  constructor(
    readonly context: ImapContext,
    socket: Socket,
    readonly listener: { name: 'imap' | 'imaps'; secureContext: SecureContext },
  ) {
    this.socket = socket;
    this.queue = new CommandQueue(socket, {
      run: (frame) => this.run(frame),
      drained: () => this.drained(),
      closed: () => this.closed,
    });
    socket.setNoDelay(true);
    this.secure = listener.name === 'imaps';
    this.log = context.log.child({ session: this.id, client: socket.remoteAddress });
    this.attach(socket);
  }

  // For code that runs in any state; commands get these from their state (commands/index.ts dispatch).
  get principal(): Principal | undefined {
    return this.state.name === 'not-authenticated' ? undefined : this.state.principal;
  }

  get selected(): SelectedFolder | undefined {
    return this.state.name === 'selected' ? this.state.selected : undefined;
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? 'unknown';
  }

  /** 8-bit text may be sent quoted and folder names are UTF-8 (IMAP4rev2 or UTF8=ACCEPT enabled). */
  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT') || this.enabled.has('IMAP4REV2');
  }

  /** MODSEQ is reported in FETCH responses (CONDSTORE or QRESYNC enabled, or used). */
  get condstore(): boolean {
    return this.enabled.has('CONDSTORE') || this.enabled.has('QRESYNC');
  }

  /**
   * A CONDSTORE enabling command ran (RFC 7162 3.1: FETCH or SEARCH with MODSEQ, STORE with
   * UNCHANGEDSINCE, ENABLE...): MODSEQ is reported from now on. The first one while a folder is
   * selected also gives the folder's HIGHESTMODSEQ, as the RFC asks (and Dovecot sends).
   */
  enableCondstore() {
    if (this.condstore) return;
    this.enabled.add('CONDSTORE');
    if (this.selected)
      this.untagged(atom('OK'), atom(`[HIGHESTMODSEQ ${this.selected.highestModseq}]`), atom('Highest'));
  }

  get rev2(): boolean {
    return this.enabled.has('IMAP4REV2');
  }

  start() {
    this.setTimeout(this.context.config.loginTimeoutMs);
    this.send(`* OK [CAPABILITY ${capabilities(this).join(' ')}] Holdfast IMAP ready`);
    this.flush();
  }

  private attach(socket: Socket, previous?: Socket) {
    this.readCommandsFrom(socket, previous);
    socket.on('error', (error) => this.log.debug({ err: error }, 'imap: connection error'));
    socket.on('close', () => this.cleanup());
    socket.on('timeout', () => {
      this.send('* BYE Autologout; idle for too long');
      this.end();
    });
  }

  /**
   * Reads commands from `input` (the socket, or the inflater once COMPRESS is active) with a fresh
   * reader. Whatever was read from the previous input and not yet run is dropped (CommandQueue.restart).
   */
  private readCommandsFrom(input: Readable, previous?: Readable) {
    this.reader?.stop();
    previous?.off('data', this.onData);
    this.queue.restart(input);
    this.reader = new CommandReader({
      frame: (frame) => this.onFrame(frame),
      literal: (size, synchronizing, firstLine, totalSoFar) => {
        const command = firstLine.split(' ', 3)[1]?.toUpperCase();
        return decideLiteral(
          { size, synchronizing, command, totalSoFar },
          { loggedIn: this.state.name !== 'not-authenticated', appendLimit: this.context.config.appendLimit },
        );
      },
      proceed: () => {
        this.send('+ Ready for literal data');
        this.flush();
      },
      refused: (tag, reply, close) => this.refused(tag, reply, close),
    });
    input.on('data', this.onData);
  }

  private refused(tag: string | null, reply: string, close: boolean) {
    // RFC 7888 §4: a non-synchronising literal too big to take is answered BAD [TOOBIG]; the rest of
    // the stream cannot be framed without reading it, so the connection ends.
    this.send(`${tag ?? '*'} ${reply.startsWith('[TOOBIG]') && !close ? 'NO' : 'BAD'} ${reply}`);
    if (close) {
      this.queue.pauseInput();
      this.send('* BYE Closing the connection: the command was refused and its data cannot be skipped safely');
      this.end();
    } else this.flush();
  }

  private readonly onData = (chunk: Buffer) => {
    try {
      this.reader.push(chunk);
    } catch (error) {
      this.log.error({ err: error }, 'imap: reader failed');
      this.end();
    }
  };

  private onFrame(frame: CommandFrame) {
    if (this.continuation) {
      const resume = this.continuation;
      this.continuation = undefined;
      resume(frame);
      return;
    }
    this.queue.push(
      frame,
      frame.parts.reduce((sum, part) => sum + part.length, 0),
    );
  }

  private async run(frame: CommandFrame) {
    if (this.signIn && !(await this.signIn.holds())) return;
    let tag = '*';
    this.running = true;
    try {
      const command = tokenizeCommand(frame);
      tag = command.tag;
      const args = new Args(command.args);
      let name = command.name;
      let uid = false;
      if (name === 'UID') {
        uid = true;
        name = `UID ${args.atom('UID command').toUpperCase()}`;
      }
      const entry = commandTable[name];
      if (!entry) throw new ParseError(`Unknown command ${name}`);
      const text = await dispatch(entry, name, { session: this, tag, args, uid });
      if (this.state.name === 'selected' && entry.sync !== 'none') await syncSelected(this, entry.sync === 'full');
      if (text !== undefined) this.send(`${tag} OK ${text}`);
    } catch (error) {
      if (error instanceof ParseError) this.send(`${error.tag ?? tag} ${error.status} ${error.message}`);
      else if (error instanceof ImapNo) this.send(`${tag} NO ${error.message}`);
      // A database failover or restart: the command did nothing, and the session stays for the retry.
      else if (isStoreUnavailable(error)) {
        this.log.warn({ err: error }, 'imap: mail store unavailable');
        this.send(`${tag} NO [UNAVAILABLE] The mail store is unavailable for the moment; try again shortly`);
      } else {
        this.log.error({ err: error }, 'imap: command failed');
        this.send(`${tag} NO [SERVERBUG] Internal error; the command was not completed`);
      }
    }
    this.running = false;
    this.flush();
  }

  /** Sends one untagged response: `* ` followed by the values, space-separated. */
  untagged(...values: Value[]) {
    const parts = this.encodeUntagged(values);
    if (parts.some((p) => p instanceof StreamedLiteral)) throw new Error('a streamed literal needs untaggedStreamed()');
    this.write(Buffer.concat(parts as Buffer[]));
  }

  /** Like untagged(), with streamed literals read and sent chunk by chunk, waiting for a slow client. */
  async untaggedStreamed(...values: Value[]) {
    for (const part of this.encodeUntagged(values)) {
      if (!(part instanceof StreamedLiteral)) {
        this.write(part);
        continue;
      }
      let sent = 0;
      try {
        for await (const chunk of part.chunks()) {
          if (this.closed) return;
          this.write(chunk);
          sent += chunk.length;
          await this.drained();
        }
        if (sent !== part.length) throw new Error(`stored content ended after ${sent} of ${part.length} bytes`);
      } catch (error) {
        // Part of a literal is out: nothing sensible can follow on this connection.
        this.flush();
        this.socket.destroy();
        throw error;
      }
    }
  }

  private encodeUntagged(values: Value[]): (Buffer | StreamedLiteral)[] {
    const parts: (Buffer | StreamedLiteral)[] = [Buffer.from('* ')];
    values.forEach((value, i) => {
      if (i) parts.push(Buffer.from(' '));
      parts.push(...encode(value, { utf8: this.utf8 }));
    });
    parts.push(Buffer.from('\r\n'));
    return parts;
  }

  /** Sends a line as it is (CRLF added). */
  send(line: string) {
    this.write(Buffer.from(`${line}\r\n`, 'utf8'));
  }

  /**
   * Responses are gathered and sent together when the command ends (one segment for the untagged
   * data and the tagged reply, instead of small writes that Nagle and delayed ACKs would hold up).
   */
  write(data: Buffer) {
    if (this.closed) return;
    this.output.push(data);
    this.outputBytes += data.length;
    if (this.outputBytes >= 64 * 1024) this.writeOut();
  }

  private writeOut() {
    const [first] = this.output;
    if (!first) return;
    const data = this.output.length === 1 ? first : Buffer.concat(this.output);
    this.output = [];
    this.outputBytes = 0;
    if (this.deflate) {
      this.deflate.write(data);
      this.unflushed = true;
    } else this.socket.write(data);
  }

  /**
   * Ends a burst of responses: sends what was gathered (and flushes compression) so the client sees
   * it now. An empty flush sends nothing: right after COMPRESS, even an empty deflate block could
   * reach the client in the same read as the OK, which clients rightly refuse.
   */
  flush() {
    this.writeOut();
    if (this.deflate && this.unflushed) {
      this.unflushed = false;
      this.deflate.flush(zlibConstants.Z_SYNC_FLUSH);
    }
  }

  /**
   * Waits while the client is slow to read what was sent (a large FETCH). Small responses keep
   * gathering: a FETCH of flags for fifty messages is one write, not fifty.
   */
  async drained() {
    if (this.outputBytes >= 16 * 1024) this.writeOut();
    if (!this.closed) await whenWritable(this.deflate ?? this.socket, this.socket);
  }

  /** Asks the client for more (a continuation request) and waits for its next line. */
  continueWith(prompt: string): Promise<CommandFrame> {
    return new Promise((resolve) => {
      this.continuation = resolve;
      this.send(`+ ${prompt}`);
      this.flush();
      this.queue.resumeInput();
    });
  }

  /** Waits for the client's next line without prompting (IDLE: the "+ idling" was sent already). */
  nextLine(): Promise<CommandFrame> {
    return new Promise((resolve) => {
      this.continuation = resolve;
    });
  }

  /** Leaves the selected state (CLOSE, UNSELECT, SELECT of another folder, DELETE of this one). */
  deselect() {
    if (this.state.name === 'selected') this.state = { name: 'authenticated', principal: this.state.principal };
  }

  loggedIn(principal: Principal) {
    this.state = { name: 'authenticated', principal };
    this.setTimeout(this.context.config.idleTimeoutMs);
    this.context.sessionOpened(this);
    this.signIn = new SessionCheck(this.context.mail, principal, {
      log: this.log,
      // Between commands, or in IDLE: never in the middle of an answer.
      waiting: () => !this.running || this.continuation !== undefined,
      revoke: (reason) => {
        this.queue.pauseInput();
        this.send(`* BYE Signed out: ${reason}`);
        this.end();
      },
    });
  }

  setTimeout(ms: number) {
    this.socket.setTimeout(ms);
  }

  /** STARTTLS: the rest of the conversation is over TLS; anything the client pipelined in plain text is dropped. */
  startTls() {
    this.flush();
    const plain = this.socket;
    plain.removeAllListeners('timeout');
    plain.removeAllListeners('close');
    const secure = new TLSSocket(plain, { isServer: true, secureContext: this.listener.secureContext });
    this.socket = secure;
    this.secure = true;
    this.attach(secure, plain);
    secure.setTimeout(this.context.config.loginTimeoutMs);
  }

  /**
   * COMPRESS=DEFLATE: everything after the tagged OK is compressed both ways. The socket is piped
   * into the inflater, so a few compressed bytes that inflate to megabytes (a deflate bomb) are
   * inflated only as fast as the commands in them run: pausing the inflater's output stops zlib,
   * whose full input buffer then pauses the socket.
   */
  startCompression() {
    this.flush();
    const inflate = createInflateRaw();
    const deflate = createDeflateRaw({ windowBits: 15 });
    inflate.on('error', () => this.end());
    this.readCommandsFrom(inflate, this.socket);
    this.socket.pipe(inflate);
    deflate.pipe(this.socket);
    this.deflate = deflate;
  }

  /** Compressed output written since the last sync flush. */
  private unflushed = false;

  get compressed(): boolean {
    return this.deflate !== undefined;
  }

  end() {
    if (this.closed) return;
    this.flush();
    if (this.deflate) this.deflate.end();
    else this.socket.end();
    this.closed = true;
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  destroy() {
    this.socket.destroy();
  }

  private cleanup() {
    this.closed = true;
    this.signIn?.stop();
    for (const listener of this.onClose.splice(0)) listener();
    this.context.sessionClosed(this);
  }
}

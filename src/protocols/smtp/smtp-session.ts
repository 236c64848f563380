// One SMTP connection (RFC 5321) and its states: greeting, EHLO, STARTTLS (RFC 3207), AUTH (RFC 4954),
// the mail transaction (MAIL, RCPT, then DATA or BDAT chunks of RFC 3030), RSET and QUIT. Thin over
// flow/intake: every decision about senders, recipients and messages is intake's; a refusal it
// throws (SmtpReply) is sent as it is. The wire itself decides only syntax, order and size.
//
// Commands run one at a time in the order they came. Replies are collected and written together
// when the session is about to wait for the client (RFC 2920 §3.2: pipelined commands get their
// replies in one write, and no reply is held back while the client waits for it). A client that
// does not read its replies is not read from either: the next command waits until the socket drains.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
import { isStoreUnavailable } from '../../store/store-unavailable.ts';
import type { Intake, IntakeSource } from '../../flow/intake/intake.ts';
import { SmtpReply } from '../../flow/intake/smtp-reply.ts';
import type { Logger } from '../../logging/logger.ts';
import { SessionCheck, type SessionCheckDeps } from '../../directory/session-check.ts';
import { whenWritable } from '../command-queue.ts';
import { isSyntaxError, maxCommandLength, parseCommand, type MailParams, type SmtpCommand } from './command-line.ts';
import { DotDecoder } from './dot-data.ts';
import { decodeLoginResponse, decodePlain, saslMechanisms, temporaryAuthFailure } from './sasl.ts';
import { InputStopped, SmtpInput } from './smtp-input.ts';
import { formatReply, reply, type Reply } from './smtp-reply.ts';

/** How early a timer may end a wait before Date.now() says its time has come. */
const deadlineSlackMs = 20;

/** What the session needs of flow/intake. */
export type SmtpIntake = Pick<Intake, 'connect' | 'update' | 'login' | 'mailFrom' | 'rcptTo' | 'data' | 'close'>;

export interface SmtpSessionConfig {
  source: IntakeSource;
  /** The connection arrived in TLS (port 465). */
  implicitTls: boolean;
  hostname: string;
  maxMessageSize: number;
  /** Wait this long before the greeting; a client that talks meanwhile is refused (MX only). */
  greetingDelayMs: number;
  /** How long the session waits for the client's next bytes. */
  idleTimeoutMs: number;
  /** How long one connection may last in all. */
  maxSessionMs: number;
  secureContext: SecureContext;
}

export interface SmtpSessionContext {
  intake: SmtpIntake;
  log: Logger;
  sessions: Set<SmtpSession>;
  /** Where a signed-in session re-reads its account (directory/session-check.ts). */
  signIns: SessionCheckDeps;
}

/** Bytes read ahead of the session before the socket is paused; more than one command line. */
const inputHighWater = 64 * 1024;
/** Replies held for a pipelining client before they are written anyway. */
const maxHeldOutput = 16 * 1024;
/** Commands run back to back before other connections get a turn. */
const commandsPerTurn = 64;
/** After the server ends a connection, how long the client has to close its side. */
const closeGraceMs = 5_000;
/** Unrecognized or unauthenticated commands tolerated before the connection is closed. */
const maxBadCommands = 10;

interface Transaction {
  params: MailParams;
  recipients: number;
  /** The message being received in BDAT chunks. */
  chunked?: IncomingMessage;
}

interface IncomingMessage {
  stream: PassThrough;
  /** Octets of content so far (BDAT: announced by the chunks so far). */
  bytes: number;
  /** BDAT: the chunks announce their sizes, so the octets are not counted again as they pass. */
  chunked: boolean;
  /** What the client is told once all of the message was read. */
  verdict: Promise<Reply>;
  /** Set when the wire refused the message itself and ended its stream: this is the reply. */
  refused?: Reply;
}

export class SmtpSession {
  readonly id = BigInt(`0x${randomBytes(10).toString('hex')}`)
    .toString(32)
    .padStart(16, '0');
  private socket: Socket;
  private readonly raw: Socket;
  private readonly input: SmtpInput;
  private readonly clientIp: string;
  private readonly log: Logger;
  private secure: boolean;
  private helo: string | undefined;
  private user: string | undefined;
  private transaction: Transaction | undefined;
  private output: string[] = [];
  private outputBytes = 0;
  private unrecognized = 0;
  private unauthenticated = 0;
  private connected = false;
  private closing = false;
  private ended = false;
  private stopping = false;
  private waitingForCommand = false;
  private readonly deadline: number;
  private closeTimer: NodeJS.Timeout | undefined;
  private signIn: SessionCheck | undefined;
  /** Why the sign-in no longer holds, once an administrator revoked it. */
  private signedOut: string | undefined;

  constructor(
    private readonly context: SmtpSessionContext,
    private readonly config: SmtpSessionConfig,
    socket: Socket,
  ) {
    this.socket = this.raw = socket;
    this.secure = config.implicitTls;
    this.clientIp = (socket.remoteAddress ?? 'unknown').replace(/^::ffff:/i, '').toLowerCase();
    this.log = context.log.child({ session: this.id, client: this.clientIp });
    this.deadline = Date.now() + config.maxSessionMs;
    this.input = new SmtpInput({
      highWater: inputHighWater,
      beforeWait: () => this.flush(),
      waitLimit: () => Math.min(this.config.idleTimeoutMs, this.deadline - Date.now()),
    });
  }

  /** AUTH is offered on submission once the connection is in TLS (and never on the MX port). */
  private get authOffered(): boolean {
    return this.config.source === 'submission' && this.secure && !this.user;
  }

  async start() {
    const socket = this.socket;
    socket.setNoDelay(true); // replies are written whole; Nagle would hold them for the client's delayed ACK
    socket.on('error', (error) => this.log.debug({ err: error }, 'smtp: connection error'));
    socket.once('close', () => this.closed());
    this.input.attach(socket);
    try {
      const counting = this.context.intake.connect({
        id: this.id,
        source: this.config.source,
        clientIp: this.clientIp,
        clientHostname: `[${this.clientIp}]`,
        secure: this.secure,
      });
      // Only with machine-wide limits (--workers): the client may have gone while the primary answered.
      if (counting) await counting;
      if (this.ended) return this.context.intake.close(this.id);
      this.connected = true;
    } catch (error) {
      this.send(this.refusal(error, 'connect'));
      return this.end();
    }
    if (this.config.greetingDelayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, this.config.greetingDelayMs));
      // RFC 5321 §4.3.1: the client waits for the greeting; one that talks first is a spam engine.
      if (this.input.received > 0) {
        this.send(reply(421, '4.4.2', `${this.config.hostname} You talk too soon`));
        return this.end();
      }
    }
    if (this.ended) return;
    this.send(reply(220, undefined, `${this.config.hostname} ESMTP Holdfast`));
    await this.run();
  }

  /** Server shutdown: a session waiting for a command is told at once, a busy one after its command. */
  shutdown() {
    this.stopping = true;
    if (this.waitingForCommand) this.input.interrupt();
  }

  /** The end of the grace period: the connection goes, whatever it was doing. */
  destroy() {
    this.socket.destroy();
    this.raw.destroy();
  }

  private async run() {
    let ranThisTurn = 0;
    try {
      while (!this.closing) {
        if (this.stopping) throw new InputStopped('interrupted');
        this.waitingForCommand = true;
        const read = await this.input.line(maxCommandLength).finally(() => (this.waitingForCommand = false));
        if ('closed' in read) break;
        if ('tooLong' in read) this.unrecognizedCommand(reply(500, '5.5.2', 'Error: line too long'));
        else await this.command(read.line);
        if (++ranThisTurn >= commandsPerTurn) {
          ranThisTurn = 0;
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (this.outputBytes >= maxHeldOutput || this.socket.writableNeedDrain) {
          this.flush();
          await whenWritable(this.socket, this.socket);
        }
      }
    } catch (error) {
      if (error instanceof InputStopped) this.send(this.stopReply(error));
      else {
        this.log.error({ err: error }, 'smtp: internal error');
        this.send(reply(421, '4.3.0', 'Internal server error, closing transmission channel'));
      }
    }
    this.end();
  }

  private stopReply(stopped: InputStopped): Reply {
    if (this.signedOut !== undefined) return this.signedOutReply();
    if (stopped.reason === 'interrupted') return reply(421, '4.3.2', 'Server shutting down');
    // The wait that ends at the deadline is a timer on Node's monotonic clock, which can fire a
    // millisecond or two before Date.now() reaches the deadline: a wait ended that close to it ended
    // at the session's limit.
    if (Date.now() >= this.deadline - deadlineSlackMs)
      return reply(421, '4.4.2', 'Session time limit reached - closing connection');
    return reply(421, '4.4.2', 'Timeout - closing connection');
  }

  private async command(line: string) {
    const parsed = parseCommand(line);
    const { verb } = parsed;
    if (verb === 'HTTP') return this.send(reply(421, '4.4.2', 'HTTP requests not allowed'));
    if (verb === 'UNKNOWN') return this.unrecognizedCommand();
    if (verb === 'AUTH' && !this.authOffered && !this.user)
      return this.unrecognizedCommand(
        // RFC 3207 4: the reply that says what to do on submission; Postfix's wording on the MX port.
        this.config.source === 'submission'
          ? reply(530, '5.7.0', 'Must issue a STARTTLS command first')
          : reply(503, '5.5.1', 'Error: authentication not enabled'),
      );
    if (this.authOffered && verb !== 'AUTH' && ++this.unauthenticated >= maxBadCommands)
      return this.send(reply(421, '4.4.2', 'Error: too many unauthenticated commands'));
    if (!this.helo && (verb === 'MAIL' || verb === 'RCPT' || verb === 'DATA' || verb === 'AUTH'))
      return this.send(reply(503, '5.5.1', 'Error: send HELO/EHLO first'));
    if (this.config.source === 'submission' && !this.user && (verb === 'MAIL' || verb === 'RCPT' || verb === 'DATA')) {
      return this.send(reply(530, '5.7.0', 'Authentication required'));
    }
    if (isSyntaxError(parsed)) {
      if (verb === 'BDAT') this.closing = true; // the end of its chunk cannot be found
      return this.send(parsed.refusal);
    }
    if (this.signIn && !(await this.signIn.holds())) return this.send(this.signedOutReply());
    await this.handle(parsed);
  }

  /** The account was disabled, its password changed or `holdfast user kick` run: no more mail from here. */
  private signedOutReply(): Reply {
    return reply(421, '4.7.0', `Signed out: ${this.signedOut ?? 'the sign-in no longer holds'}`);
  }

  private async handle(command: SmtpCommand) {
    switch (command.verb) {
      case 'EHLO':
      case 'HELO':
        return this.hello(command.verb, command.domain);
      case 'MAIL':
        return this.mail(command.address, command.params);
      case 'RCPT':
        return this.rcpt(command);
      case 'DATA':
        return this.data();
      case 'BDAT':
        return this.bdat(command.size, command.last);
      case 'AUTH':
        return this.auth(command.mechanism, command.initial);
      case 'STARTTLS':
        return this.startTls();
      case 'RSET':
        this.abandonTransaction();
        return this.send(reply(250, '2.0.0', 'Flushed'));
      case 'NOOP':
        return this.send(reply(250, '2.0.0', 'OK'));
      case 'HELP':
        return this.send(reply(214, '2.0.0', 'See https://tools.ietf.org/html/rfc5321 for details'));
      case 'VRFY':
        return this.send(reply(252, '2.1.5', 'Try to send something. No promises though'));
      case 'QUIT':
        this.send(reply(221, '2.0.0', 'Bye'));
        this.closing = true;
        return;
      default:
        return this.unrecognizedCommand();
    }
  }

  private hello(verb: 'EHLO' | 'HELO', domain: string) {
    this.helo = domain.toLowerCase();
    this.abandonTransaction(); // EHLO is effectively the same as RSET (RFC 5321 §4.1.4)
    this.context.intake.update(this.id, { helo: this.helo });
    const greeting = `${this.config.hostname} Nice to meet you, [${this.clientIp}]`;
    if (verb === 'HELO') return this.send(reply(250, undefined, greeting));
    const extensions = ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'DSN'];
    if (this.authOffered) extensions.push(`AUTH ${saslMechanisms.join(' ')}`);
    if (!this.secure) extensions.push('STARTTLS');
    extensions.push(`SIZE ${this.config.maxMessageSize}`, 'CHUNKING');
    this.send(reply(250, undefined, [greeting, ...extensions]));
  }

  private async mail(address: string, params: MailParams) {
    if (this.transaction) return this.send(reply(503, '5.5.1', 'Error: nested MAIL command'));
    // RFC 1870: a declared size over the limit is refused before any of the message is sent.
    if (params.size !== undefined && params.size > this.config.maxMessageSize) return this.send(this.tooLarge());
    const refused = await this.attempt('mail', () =>
      this.context.intake.mailFrom(this.id, address, { size: params.size }),
    );
    if (refused) return this.send(refused);
    this.transaction = { params, recipients: 0 };
    this.send(reply(250, '2.1.0', 'Accepted'));
  }

  private async rcpt({ address, params }: Extract<SmtpCommand, { verb: 'RCPT' }>) {
    const transaction = this.transaction;
    if (!transaction) return this.send(reply(503, '5.5.1', 'Error: need MAIL command'));
    // The chunks already sent went to intake with the recipients known then.
    if (transaction.chunked)
      return this.send(reply(503, '5.5.1', 'Error: RCPT is not allowed after BDAT in the same transaction'));
    const refused = await this.attempt('rcpt', () =>
      this.context.intake.rcptTo(this.id, address, { orcpt: params.orcpt, notify: params.notify }),
    );
    if (refused) return this.send(refused);
    transaction.recipients++;
    this.send(reply(250, '2.1.5', 'Accepted'));
  }

  private async data() {
    const transaction = this.transaction;
    if (!transaction?.recipients) return this.send(reply(503, '5.5.1', 'Error: need RCPT command'));
    // RFC 3030 §3: DATA and BDAT do not mix within one transaction.
    if (transaction.chunked)
      return this.send(reply(503, '5.5.1', 'DATA is not allowed after BDAT in the same transaction'));
    this.send(reply(354, undefined, 'End data with <CR><LF>.<CR><LF>'));
    const message = this.receive(transaction.params, false);
    if (
      await this.read(
        message,
        this.input.dotData(new DotDecoder(), (piece) => this.write(message, piece)),
      )
    )
      await this.finish(message);
  }

  /**
   * One BDAT chunk. Its octets are always read, whatever the answer: a refused chunk is read and
   * dropped, so its content can never be taken for commands.
   */
  private async bdat(size: number, last: boolean) {
    const transaction = this.transaction;
    if (!transaction?.recipients) {
      if (await this.input.exact(size, () => {})) this.send(reply(503, '5.5.1', 'Error: need RCPT command'));
      else this.closing = true;
      return;
    }
    const message = (transaction.chunked ??= this.receive(transaction.params, true));
    message.bytes += size;
    // A message announced past the limit is refused at this chunk, not after all of it arrived.
    if (message.bytes > this.config.maxMessageSize) this.refuse(message, this.tooLarge());
    if (
      !(await this.read(
        message,
        this.input.exact(size, message.refused ? () => {} : (piece) => this.write(message, piece)),
      ))
    )
      return;
    if (message.refused || last) return this.finish(message);
    this.send(reply(250, '2.0.0', `${size} octets received`));
  }

  /** Waits for the message's octets to be read; false (the message abandoned) if the client left or timed out first. */
  private async read(message: IncomingMessage, reading: Promise<boolean>): Promise<boolean> {
    const complete = await reading.catch((error: unknown) => {
      this.abandon(message);
      throw error;
    });
    if (!complete) {
      this.abandon(message);
      this.closing = true;
    }
    return complete;
  }

  /** A new message stream, handed to intake at once; its verdict is awaited after the last byte. */
  private receive(params: MailParams, chunked: boolean): IncomingMessage {
    const stream = new PassThrough();
    const message: IncomingMessage = { stream, bytes: 0, chunked, verdict: Promise.resolve(reply(250, '2.0.0', 'OK')) };
    message.verdict = (async () => {
      try {
        const text = await this.context.intake.data(this.id, stream, { envid: params.envid, ret: params.ret });
        return reply(250, undefined, text);
      } catch (error) {
        if (!message.refused) return this.refusal(error, 'data');
        this.log.info({ step: 'data', reply: formatReply(message.refused).trimEnd() }, 'smtp: refused');
        return message.refused;
      } finally {
        // Whatever a refusal left unread is drained, so the rest of the message can still arrive.
        if (!stream.destroyed) stream.resume();
      }
    })();
    return message;
  }

  /** Passes DATA content on, counting it; past the size limit the message is refused and the rest dropped. */
  private write(message: IncomingMessage, piece: Buffer): Promise<void> | void {
    if (message.refused) return;
    if (!message.chunked) {
      message.bytes += piece.length;
      if (message.bytes > this.config.maxMessageSize) return this.refuse(message, this.tooLarge());
    }
    const stream = message.stream;
    if (stream.destroyed || stream.writableEnded || stream.write(piece)) return;
    return new Promise((resolve) => {
      const go = () => {
        stream.off('drain', go);
        stream.off('close', go);
        resolve();
      };
      stream.once('drain', go);
      stream.once('close', go);
    });
  }

  private refuse(message: IncomingMessage, refusal: Reply) {
    message.refused = refusal;
    message.stream.destroy(new Error('the message was refused by the SMTP wire'));
  }

  /** The message is all in: its reply, and the transaction is over. */
  private async finish(message: IncomingMessage) {
    if (!message.refused) message.stream.end();
    this.send(await message.verdict);
    this.transaction = undefined;
    this.unrecognized = 0;
  }

  /** A transaction given up before its message was complete (RSET, EHLO, a closed connection). */
  private abandonTransaction() {
    if (this.transaction?.chunked) this.abandon(this.transaction.chunked);
    this.transaction = undefined;
  }

  private abandon(message: IncomingMessage) {
    const { stream } = message;
    if (stream.writableEnded || stream.destroyed) return;
    stream.destroy(Object.assign(new Error('The message ended before its end'), { code: 'ECONNECTION' }));
  }

  private tooLarge(): Reply {
    return reply(552, '5.3.4', `Message size exceeds fixed maximum message size (${this.config.maxMessageSize} bytes)`);
  }

  private async auth(mechanism: string, initial: string | undefined) {
    if (this.user) return this.send(reply(503, '5.5.1', 'Error: No identity changes permitted'));
    // RFC 4954 §4: not during a mail transaction.
    if (this.transaction)
      return this.send(reply(503, '5.5.1', 'Error: AUTH is not permitted during a mail transaction'));
    if (!(saslMechanisms as readonly string[]).includes(mechanism))
      return this.send(reply(504, '5.5.4', 'Error: Unrecognized authentication type'));
    let username: string;
    let password: string;
    if (mechanism === 'PLAIN') {
      const response = initial ?? (await this.challenge(''));
      if (response === undefined) return;
      const credentials = decodePlain(response);
      if (credentials === 'mismatch') return this.send(reply(535, '5.7.8', 'Authentication credentials invalid'));
      if ('refusal' in credentials)
        return this.send(reply(501, credentials.refusal.enhanced, credentials.refusal.text));
      ({ username, password } = credentials);
    } else {
      const first = initial ?? (await this.challenge('VXNlcm5hbWU6')); // "Username:"
      if (first === undefined) return;
      const name = decodeLoginResponse(first, 'username');
      if (typeof name !== 'string') return this.send(reply(501, name.refusal.enhanced, name.refusal.text));
      const second = await this.challenge('UGFzc3dvcmQ6'); // "Password:"
      if (second === undefined) return;
      const secret = decodeLoginResponse(second, 'password');
      if (typeof secret !== 'string') return this.send(reply(501, secret.refusal.enhanced, secret.refusal.text));
      [username, password] = [name, secret];
    }
    try {
      const principal = await this.context.intake.login(this.id, username, password);
      this.user = principal.address;
      this.unauthenticated = 0;
      this.signIn = new SessionCheck(this.context.signIns, principal, {
        log: this.log,
        waiting: () => this.waitingForCommand,
        revoke: (reason) => {
          this.signedOut = reason;
          this.input.interrupt();
        },
      });
      this.send(reply(235, '2.7.0', 'Authentication successful'));
    } catch (error) {
      const busy = temporaryAuthFailure(error);
      this.send(busy ? reply(454, '4.7.0', busy) : this.refusal(error, 'auth', { user: username }));
    }
  }

  /** Sends a 334 prompt and reads the client's response line; undefined if the exchange ended (answered). */
  private async challenge(prompt: string): Promise<string | undefined> {
    this.send(reply(334, undefined, prompt));
    const read = await this.input.line(maxCommandLength);
    if ('closed' in read) {
      this.closing = true;
      return undefined;
    }
    if ('tooLong' in read) return void this.send(reply(500, '5.5.2', 'Error: line too long'));
    const response = read.line.trim();
    if (response === '*') return void this.send(reply(501, '5.5.4', 'Authentication aborted'));
    return response;
  }

  /**
   * RFC 3207: after the 220 the conversation starts over in TLS. Nothing the client sent in plain
   * text after STARTTLS is read (the input forgets it), and nothing learned before counts: the
   * client says EHLO again.
   */
  private async startTls() {
    if (this.secure) return this.send(reply(503, '5.5.1', 'Error: TLS already active'));
    this.send(reply(220, '2.0.0', 'Ready to start TLS'));
    this.flush();
    this.input.detach();
    const secured = new TLSSocket(this.socket, { isServer: true, secureContext: this.config.secureContext });
    secured.on('error', (error) => this.log.debug({ err: error }, 'smtp: TLS error'));
    this.socket = secured;
    const established = await new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), this.config.idleTimeoutMs);
      secured.once('secure', () => done(true));
      secured.once('close', () => done(false));
    });
    if (!established) {
      this.closing = true;
      return this.destroy();
    }
    this.secure = true;
    this.helo = undefined;
    this.abandonTransaction();
    this.context.intake.update(this.id, { secure: true });
    this.input.attach(secured);
  }

  private unrecognizedCommand(refusal = reply(500, '5.5.2', 'Error: command not recognized')) {
    if (++this.unrecognized >= maxBadCommands)
      return this.send(reply(421, '4.4.2', 'Error: too many unrecognized commands'));
    this.send(refusal);
  }

  /** Runs an intake step; its refusal, if any. */
  private async attempt(step: string, work: () => Promise<unknown>): Promise<Reply | undefined> {
    try {
      await work();
      return undefined;
    } catch (error) {
      return this.refusal(error, step);
    }
  }

  /** What the client is told about an error of intake; `fields` add what the step was about (never a password). */
  private refusal(error: unknown, step: string, fields: Record<string, unknown> = {}): Reply {
    if (error instanceof SmtpReply) {
      this.log.info({ step, ...fields, reply: error.reply }, 'smtp: refused');
      return reply(error.responseCode, undefined, error.message);
    }
    if (isStoreUnavailable(error)) {
      // A database failover or restart: nothing was stored, and the client's retry will find it back.
      this.log.warn({ err: error, step }, 'smtp: mail store unavailable');
      if (step === 'auth')
        return reply(454, '4.7.0', 'Temporary authentication failure: the mail store is unavailable');
      return reply(451, '4.3.0', 'Mail store unavailable; please try again later');
    }
    if ((error as { code?: string }).code === 'ECONNECTION')
      this.log.info({ step }, 'smtp: message abandoned by the client before its end');
    else this.log.error({ err: error, step }, 'smtp: internal error');
    return reply(451, '4.3.0', 'Temporary server error; please try again later');
  }

  private send(answer: Reply) {
    const text = formatReply(answer);
    this.output.push(text);
    this.outputBytes += text.length;
    if (answer.code === 421) this.closing = true; // RFC 5321 §3.8: 421 closes the channel
  }

  private flush() {
    if (!this.output.length) return;
    const text = this.output.join('');
    this.output = [];
    this.outputBytes = 0;
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(text);
  }

  /** Ends the connection from this side: replies go out, nothing more is read. */
  private end() {
    if (this.ended) return;
    this.ended = this.closing = true;
    this.flush();
    this.input.detach();
    this.socket.end();
    // A client that never closes its side would hold the connection: it gets a few seconds.
    this.socket.resume();
    this.closeTimer = setTimeout(() => this.destroy(), closeGraceMs);
    this.closeTimer.unref();
  }

  private closed() {
    clearTimeout(this.closeTimer);
    this.signIn?.stop();
    this.ended = this.closing = true;
    this.abandonTransaction();
    if (this.connected) this.context.intake.close(this.id);
    this.connected = false;
    this.context.sessions.delete(this);
  }
}

// One POP3 connection (RFC 1939, CAPA and response codes of RFC 2449, STLS of RFC 2595, AUTH PLAIN of
// RFC 5034) over the INBOX of the same mailbox model IMAP uses. At login the session takes a
// snapshot of the INBOX and locks it against other POP3 sessions; DELE only marks, and the marked
// messages are removed when the client says QUIT (never on a dropped connection).
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Principal } from '../../directory/directory.ts';
import { temporarySignInFailure } from '../../directory/kdf-queue.ts';
import type { LoginOutcome } from '../../directory/login-limiter.ts';
import { isStoreUnavailable } from '../../store/store-unavailable.ts';
import { SessionCheck } from '../../directory/session-check.ts';
import { ensureDefaultFolders, findFolder, type Folder } from '../../mailbox/folders.ts';
import { deleteMessages, listMessageStates, messagesByUid, type MessageRow } from '../../mailbox/messages.ts';
import { openStoredMessage } from '../../message/stored-message.ts';
import type { Logger } from '../../logging/logger.ts';
import { CommandQueue, whenWritable } from '../command-queue.ts';
import type { Pop3Context } from './pop3-context.ts';

const maxLine = 1024;

interface Maildrop {
  folder: Folder;
  messages: MessageRow[];
  deleted: Set<number>;
}

/** The states of RFC 1939 section 3; the transaction state holds the INBOX snapshot its commands use. */
type State = { name: 'authorization' } | { name: 'transaction'; maildrop: Maildrop } | { name: 'closed' };

type Handler<Extra extends unknown[]> = (args: string[], ...extra: Extra) => Promise<void> | void;

export class Pop3Session {
  private socket: Socket;
  private buffer = Buffer.alloc(0);
  /** Each command read: a line to handle, or the refusal of one too long. */
  private readonly queue: CommandQueue<() => Promise<void> | void>;
  private state: State = { name: 'authorization' };
  private user: string | undefined;
  private principal: Principal | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Set while AUTH PLAIN waits for the client's response line. */
  private awaitingSasl = false;
  /** A command is being answered (a RETR may be streaming). */
  private running = false;
  /** Re-reads the sign-in now and then: a disabled account, new password or kick ends the session. */
  private signIn?: SessionCheck;
  readonly log: Logger;

  constructor(
    private readonly context: Pop3Context,
    socket: Socket,
    private secure: boolean,
    private readonly secureContext: SecureContext,
  ) {
    this.socket = socket;
    this.queue = new CommandQueue(socket, {
      run: async (command) => command(),
      drained: () => whenWritable(this.socket, this.socket),
      closed: () => this.state.name === 'closed',
    });
    this.log = context.log.child({ client: socket.remoteAddress });
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? 'unknown';
  }

  start() {
    this.attach(this.socket);
    this.reply(`+OK Holdfast POP3 server ready`);
  }

  private attach(socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.log.debug({ err: error }, 'pop3: connection error'));
    socket.on('close', () => this.closed());
    this.touch();
  }

  /** RFC 1939 §3: an idle session is closed after at least ten minutes, without UPDATE. */
  private touch() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.reply('-ERR Autologout: idle for too long');
      this.socket.end();
    }, this.context.idleTimeoutMs);
    this.timer.unref();
  }

  private onData(chunk: Buffer) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf('\n');
      if (end < 0) break;
      const line = this.buffer.subarray(0, end).toString('utf8').replace(/\r$/, '');
      this.buffer = this.buffer.subarray(end + 1);
      if (line.length > maxLine)
        this.queue.push(() => this.reply(`-ERR Command line longer than ${maxLine} characters`), end);
      else this.queue.push(() => this.handle(line), end);
    }
    if (this.buffer.length > maxLine) {
      this.reply(`-ERR Command line longer than ${maxLine} characters; closing`);
      this.socket.destroy();
    }
  }

  private async handle(line: string) {
    if (this.signIn && !(await this.signIn.holds())) return;
    if (this.state.name === 'closed') return;
    this.touch();
    this.running = true;
    try {
      if (this.awaitingSasl) {
        this.awaitingSasl = false;
        await this.saslPlain(line);
        return;
      }
      const [verb = '', ...args] = line.split(' ');
      const command = verb.toUpperCase();
      const { state } = this;
      if (state.name === 'authorization' && this.handlers.authorization[command])
        await this.handlers.authorization[command](args);
      else if (state.name === 'transaction' && this.handlers.transaction[command])
        await this.handlers.transaction[command](args, state.maildrop);
      else {
        const elsewhere = Object.values(this.handlers).some((table) => table[command]);
        this.reply(
          elsewhere
            ? `-ERR ${command} is not allowed ${state.name === 'authorization' ? 'before logging in' : 'after logging in'}`
            : `-ERR Unknown command ${command.slice(0, 40)}`,
        );
      }
    } catch (error) {
      // A database failover or restart: the command did nothing, and the session stays for the retry.
      if (isStoreUnavailable(error)) {
        this.log.warn({ err: error }, 'pop3: mail store unavailable');
        this.reply('-ERR [SYS/TEMP] The mail store is unavailable for the moment; try again shortly');
      } else {
        this.log.error({ err: error }, 'pop3: command failed');
        this.reply('-ERR [SYS/TEMP] Internal error; try again');
      }
    } finally {
      // Also after the AUTH PLAIN continuation: a session left "running" would never be re-checked while idle.
      this.running = false;
    }
  }

  private readonly handlers: {
    authorization: Record<string, Handler<[]>>;
    transaction: Record<string, Handler<[Maildrop]>>;
  } = {
    authorization: {
      CAPA: () => this.capa(),
      STLS: () => this.stls(),
      USER: (args) => {
        if (!this.loginAllowed()) return this.reply('-ERR [AUTH] Log in over TLS: use STLS first, or port 995');
        this.user = args.join(' ');
        this.reply(this.user ? '+OK Send the password with PASS' : '-ERR USER needs a name');
      },
      PASS: async (args) => {
        if (!this.user) return this.reply('-ERR Send USER first');
        await this.logIn(this.user, args.join(' '));
      },
      AUTH: async (args) => {
        const [mechanism = '', initial] = args;
        if (mechanism.toUpperCase() !== 'PLAIN')
          return this.reply(`-ERR Unsupported mechanism ${mechanism}: use PLAIN`);
        if (!this.loginAllowed()) return this.reply('-ERR [AUTH] Log in over TLS: use STLS first, or port 995');
        if (initial === undefined) {
          this.awaitingSasl = true;
          return this.reply('+ ');
        }
        await this.saslPlain(initial);
      },
      QUIT: () => this.quit(),
      NOOP: () => this.reply('+OK'),
    },
    transaction: {
      CAPA: () => this.capa(),
      STAT: (_, maildrop) => {
        const live = this.live(maildrop);
        this.reply(`+OK ${live.length} ${live.reduce((sum, [, m]) => sum + m.size, 0)}`);
      },
      LIST: (args, maildrop) => this.listing(maildrop, args, 'LIST', (m) => String(m.size)),
      UIDL: (args, maildrop) => this.listing(maildrop, args, 'UIDL', (m) => uniqueId(maildrop, m)),
      RETR: async (args, maildrop) => {
        const message = this.message(maildrop, args[0]);
        if (!message) return;
        this.reply(`+OK ${message.size} octets`);
        await this.sendContent(message, Infinity);
      },
      TOP: async (args, maildrop) => {
        const message = this.message(maildrop, args[0]);
        if (!message) return;
        const lines = Number(args[1]);
        if (!/^\d+$/.test(args[1] ?? '')) return this.reply('-ERR TOP needs a message number and a number of lines');
        this.reply('+OK Top of message follows');
        await this.sendContent(message, lines);
      },
      DELE: (args, maildrop) => {
        const message = this.message(maildrop, args[0]);
        if (!message) return;
        maildrop.deleted.add(message.uid);
        this.reply(`+OK Message ${args[0]} deleted`);
      },
      RSET: (_, maildrop) => {
        maildrop.deleted.clear();
        this.reply(`+OK ${maildrop.messages.length} messages`);
      },
      NOOP: () => this.reply('+OK'),
      QUIT: () => this.quit(),
    },
  };

  private loginAllowed(): boolean {
    return this.secure || this.context.plaintextLogin;
  }

  private capa() {
    const lines = [
      '+OK Capability list follows',
      'TOP',
      'UIDL',
      'RESP-CODES',
      'AUTH-RESP-CODE',
      'PIPELINING',
      'EXPIRE NEVER',
      'IMPLEMENTATION Holdfast',
    ];
    if (this.state.name === 'authorization') {
      if (!this.secure) lines.push('STLS');
      if (this.loginAllowed()) lines.push('USER', 'SASL PLAIN');
    }
    this.reply([...lines, '.'].join('\r\n'));
  }

  private stls() {
    if (this.secure) return this.reply('-ERR Already using TLS');
    this.reply('+OK Begin TLS negotiation');
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secured = new TLSSocket(plain, { isServer: true, secureContext: this.secureContext });
    this.socket = secured;
    this.secure = true;
    this.buffer = Buffer.alloc(0); // nothing sent before the handshake may be carried into TLS
    this.queue.restart(secured);
    this.attach(secured);
  }

  private async saslPlain(response: string) {
    if (response === '*') return this.reply('-ERR Authentication cancelled');
    const parts = /^[A-Za-z0-9+/]*={0,2}$/.test(response)
      ? Buffer.from(response, 'base64').toString('utf8').split('\0')
      : [];
    if (parts.length !== 3)
      return this.reply('-ERR Malformed PLAIN response (expected authzid NUL authcid NUL password in base64)');
    const [authzid, authcid, password] = parts as [string, string, string];
    if (authzid && authzid.toLowerCase() !== authcid.toLowerCase())
      return this.reply('-ERR [AUTH] Logging in as another user is not supported');
    await this.logIn(authcid, password);
  }

  private async logIn(user: string, password: string) {
    const { context } = this;
    let outcome: LoginOutcome<Principal>;
    try {
      outcome = await context.logins.attempt(this.remoteAddress, user, () =>
        context.directory.authenticate(user, password),
      );
    } catch (error) {
      // Too many sign-ins wait for the password KDF: a temporary refusal (RFC 3206), not wrong credentials.
      const busy = temporarySignInFailure(error);
      if (!busy) throw error;
      this.user = undefined;
      return this.reply(`-ERR [SYS/TEMP] ${busy.message}`);
    }
    if (!outcome.ok) {
      this.log.info({ user, throttled: outcome.throttled }, 'pop3: login failed');
      this.user = undefined;
      // RFC 3206: SYS/TEMP is a temporary refusal worth retrying later; AUTH says the credentials are wrong.
      return this.reply(
        outcome.throttled ? `-ERR [SYS/TEMP] ${outcome.message}` : '-ERR [AUTH] Invalid user name or password',
      );
    }
    const { principal } = outcome;
    if (!context.lock(principal.id, this))
      return this.reply('-ERR [IN-USE] The mailbox is open in another POP3 session; close that one first');
    this.principal = principal;
    this.signIn = new SessionCheck(context.mail, principal, {
      log: this.log,
      waiting: () => !this.running,
      // Like a dropped connection: what DELE marked stays (only QUIT deletes).
      revoke: (reason) => this.end(`Signed out: ${reason}`),
    });
    const { db, now } = context.mail;
    await ensureDefaultFolders(db, principal, now());
    const folder = (await findFolder(db, principal.id, 'INBOX'))!;
    const uids = (await listMessageStates(db, folder.id)).map((m) => m.uid);
    const maildrop = { folder, messages: await messagesByUid(db, folder.id, uids), deleted: new Set<number>() };
    this.state = { name: 'transaction', maildrop };
    this.log.info({ user: principal.address, messages: uids.length }, 'pop3: logged in');
    const live = this.live(maildrop);
    this.reply(
      `+OK ${principal.address} has ${live.length} messages (${live.reduce((sum, [, m]) => sum + m.size, 0)} octets)`,
    );
  }

  /** Messages not marked deleted, with their message numbers. */
  private live({ messages, deleted }: Maildrop): [number, MessageRow][] {
    return messages.map((m, i) => [i + 1, m] as [number, MessageRow]).filter(([, m]) => !deleted.has(m.uid));
  }

  private message({ messages, deleted }: Maildrop, arg: string | undefined): MessageRow | undefined {
    const n = /^\d+$/.test(arg ?? '') ? Number(arg) : NaN;
    const message = messages[n - 1];
    if (!message || deleted.has(message.uid)) {
      this.reply(`-ERR No message ${arg ?? '(missing number)'}${message ? ' (deleted)' : ''}`);
      return undefined;
    }
    return message;
  }

  private listing(maildrop: Maildrop, args: string[], name: string, value: (m: MessageRow) => string) {
    if (args[0] !== undefined) {
      const message = this.message(maildrop, args[0]);
      if (message) this.reply(`+OK ${args[0]} ${value(message)}`);
      return;
    }
    const live = this.live(maildrop);
    this.reply(
      [`+OK ${name} follows (${live.length} messages)`, ...live.map(([n, m]) => `${n} ${value(m)}`), '.'].join('\r\n'),
    );
  }

  /** The message, dot-stuffed (RFC 1939 §3); with a line limit, the header and that many body lines (TOP). */
  private async sendContent(message: MessageRow, bodyLines: number) {
    const stream = openStoredMessage(this.context.mail.blobs, message);
    let pending = '';
    let inBody = false;
    let bodyCount = 0;
    let done = false;
    const out: string[] = [];
    const emit = (line: string) => out.push(line.startsWith('.') ? `.${line}` : line);
    for await (const chunk of stream) {
      pending += (chunk as Buffer).toString('latin1'); // bytes through unchanged
      let end: number;
      while (!done && (end = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, end).replace(/\r$/, '');
        pending = pending.slice(end + 1);
        if (inBody) {
          if (bodyCount >= bodyLines) {
            done = true;
            break;
          }
          bodyCount++;
        } else if (line === '') inBody = true;
        emit(line);
      }
      if (out.length > 256) {
        this.write(
          out
            .splice(0)
            .map((l) => `${l}\r\n`)
            .join(''),
          'latin1',
        );
        await whenWritable(this.socket, this.socket); // a large message goes out as fast as the client reads it
      }
      if (done) {
        stream.destroy();
        break;
      }
    }
    if (!done && pending && !(inBody && bodyCount >= bodyLines)) emit(pending.replace(/\r$/, ''));
    out.push('.');
    this.write(out.map((l) => `${l}\r\n`).join(''), 'latin1');
  }

  private async quit() {
    if (this.state.name === 'transaction') {
      const { folder, deleted } = this.state.maildrop;
      const removed = await deleteMessages(this.context.mail, folder, [...deleted]);
      this.log.info({ user: this.principal?.address, removed }, 'pop3: session ended, deletions applied');
      this.reply(`+OK Holdfast POP3 server signing off (${removed} messages deleted)`);
    } else {
      this.reply('+OK Holdfast POP3 server signing off');
    }
    this.state = { name: 'closed' };
    this.socket.end();
  }

  private reply(text: string) {
    this.write(`${text}\r\n`);
  }

  /** Replies are UTF-8 text; message content goes as latin1 so that its bytes pass unchanged. */
  private write(text: string, encoding: BufferEncoding = 'utf8') {
    if (!this.socket.destroyed) this.socket.write(Buffer.from(text, encoding));
  }

  /** Ends the session at shutdown: nothing marked is deleted (that needs QUIT). */
  end(message: string) {
    if (this.state.name !== 'closed') this.reply(`-ERR ${message}`);
    this.socket.end();
  }

  destroy() {
    this.socket.destroy();
  }

  private closed() {
    clearTimeout(this.timer);
    this.signIn?.stop();
    this.state = { name: 'closed' };
    this.context.sessionClosed(this, this.principal?.id);
  }
}

/** Stable across sessions as long as the INBOX keeps its UIDVALIDITY. */
function uniqueId(maildrop: Maildrop, message: MessageRow): string {
  return `${maildrop.folder.uidvalidity}.${message.uid}`;
}

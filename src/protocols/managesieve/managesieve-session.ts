// One ManageSieve connection (RFC 5804): the capability greeting, STARTTLS, AUTHENTICATE PLAIN (the
// same sign-in and limiter as IMAP and POP3, and after TLS only unless [imap] plaintext_login), then
// the user's scripts (sieve/sieve-scripts.ts): LISTSCRIPTS, GETSCRIPT, PUTSCRIPT, CHECKSCRIPT,
// SETACTIVE, DELETESCRIPT, RENAMESCRIPT, HAVESPACE; NOOP, CAPABILITY, LOGOUT, and UNAUTHENTICATE
// (RFC 5804 2.14.1: back to the state after the greeting, on the same connection and TLS).
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import type { Kysely } from 'kysely';
import type { Directory, Principal } from '../../directory/directory.ts';
import { temporarySignInFailure } from '../../directory/kdf-queue.ts';
import type { LoginLimiter, LoginOutcome } from '../../directory/login-limiter.ts';
import { SessionCheck } from '../../directory/session-check.ts';
import { HoldfastError } from '../../errors.ts';
import type { Logger } from '../../logging/logger.ts';
import { type CompileLimits, defaultCompileLimits, sieveExtensions } from '../../sieve/compile.ts';
import { defaultSieveLimits, type SieveLimits } from '../../sieve/interpreter.ts';
import {
  activateScript,
  checkScript,
  checkScriptName,
  deleteScript,
  getScript,
  listScripts,
  maxScriptsPerUser,
  putScript,
  renameScript,
} from '../../sieve/sieve-scripts.ts';
import type { Database } from '../../store/schema.ts';
import { isStoreUnavailable } from '../../store/store-unavailable.ts';
import { CommandQueue, whenWritable } from '../command-queue.ts';
import { encodeString, type Parsed, parseCommand, type Word } from './managesieve-parser.ts';

export interface ManageSieveContext {
  db: Kysely<Database>;
  now(): number;
  directory: Directory;
  logins: LoginLimiter;
  plaintextLogin: boolean;
  /** The bounds of scripts ([sieve] in the configuration); without them, sieve/'s defaults. */
  sieve?: { compile: CompileLimits; run: SieveLimits };
  log: Logger;
  sessions: Set<ManageSieveSession>;
}

const idleTimeoutMs = 30 * 60_000;

type State = 'unauthenticated' | 'authenticated' | 'closed';

export class ManageSieveSession {
  private socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  /** Bytes the buffer must hold before parsing is worth trying again (a literal still arriving). */
  private need = 0;
  private readonly queue: CommandQueue<Word[] | { error: string }>;
  private state: State = 'unauthenticated';
  private principal: Principal | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Set while AUTHENTICATE waits for the client's response. */
  private awaitingSasl = false;
  private running = false;
  private signIn?: SessionCheck;
  private readonly compileLimits: CompileLimits;
  /** A command line and a literal (a script with room for its command) at most. */
  private readonly lineLimits: { maxLine: number; maxLiteral: number };
  readonly log: Logger;

  constructor(
    private readonly context: ManageSieveContext,
    socket: Socket,
    private secure: boolean,
    private readonly secureContext: SecureContext,
  ) {
    this.socket = socket;
    this.queue = new CommandQueue(socket, {
      run: async (command) => this.handle(command),
      drained: () => whenWritable(this.socket, this.socket),
      closed: () => this.state === 'closed',
    });
    this.log = context.log.child({ client: socket.remoteAddress });
    this.compileLimits = context.sieve?.compile ?? defaultCompileLimits;
    this.lineLimits = { maxLine: 8 * 1024, maxLiteral: this.compileLimits.maxScriptBytes + 1024 };
  }

  start() {
    this.attach(this.socket);
    this.capabilities('Holdfast ManageSieve ready');
  }

  private attach(socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.log.debug({ err: error }, 'managesieve: connection error'));
    socket.on('close', () => this.closed());
    this.touch();
  }

  private touch() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.write('BYE "Idle for too long"\r\n');
      this.socket.end();
    }, idleTimeoutMs);
    this.timer.unref();
  }

  private onData(chunk: Buffer) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    while (this.buffer.length >= this.need) {
      const parsed: Parsed = parseCommand(this.buffer, this.lineLimits);
      if (parsed.kind === 'incomplete') {
        this.need = parsed.need;
        return;
      }
      this.need = 0;
      if (parsed.kind === 'error' && parsed.fatal) {
        this.write(`BYE ${encodeString(parsed.message)}\r\n`);
        this.socket.destroy();
        return;
      }
      this.buffer = this.buffer.subarray(parsed.length);
      this.queue.push(parsed.kind === 'command' ? parsed.words : { error: parsed.message }, parsed.length);
    }
  }

  private async handle(command: Word[] | { error: string }) {
    if (this.signIn && !(await this.signIn.holds())) return;
    if (this.state === 'closed') return;
    this.touch();
    this.running = true;
    try {
      if ('error' in command) return this.no(command.error);
      if (this.awaitingSasl) {
        this.awaitingSasl = false;
        const [response] = command;
        if (command.length !== 1 || response?.kind !== 'string')
          return this.no('Expected the PLAIN response as a string');
        return await this.saslPlain(response.value);
      }
      const [verb, ...args] = command;
      if (verb?.kind !== 'atom') return this.no('A command starts with its name');
      await this.run(verb.value, args);
    } catch (error) {
      if (error instanceof HoldfastError) return this.no(error.message, codeOf(error));
      if (isStoreUnavailable(error)) {
        this.log.warn({ err: error }, 'managesieve: store unavailable');
        return this.no('The store is unavailable for the moment; try again shortly', 'TRYLATER');
      }
      this.log.error({ err: error }, 'managesieve: command failed');
      this.no('Internal error; try again', 'TRYLATER');
    } finally {
      this.running = false;
    }
  }

  private async run(verb: string, args: Word[]) {
    const strings = (count: number, optional = 0): string[] | undefined => {
      if (args.length < count || args.length > count + optional || args.some((a) => a.kind !== 'string')) {
        this.no(
          `${verb} takes ${count}${optional ? ` or ${count + optional}` : ''} string argument${count + optional === 1 ? '' : 's'}`,
        );
        return undefined;
      }
      return args.map((a) => (a as { value: string }).value);
    };
    switch (verb) {
      case 'CAPABILITY':
        return this.capabilities('Capability completed');
      case 'NOOP': {
        // RFC 5804 2.15: a string given is echoed back in a TAG response code.
        const tag = args[0]?.kind === 'string' ? args[0].value : undefined;
        return this.ok('Done', tag === undefined ? undefined : `TAG ${encodeString(tag)}`);
      }
      case 'LOGOUT':
        this.ok('Logout completed');
        this.state = 'closed';
        this.socket.end();
        return;
      case 'STARTTLS':
        return this.startTls();
      case 'AUTHENTICATE':
        return this.authenticate(args);
      case 'UNAUTHENTICATE':
        return this.unauthenticate(args);
    }
    const principal = this.principal;
    if (this.state !== 'authenticated' || !principal) {
      const known = [
        'LISTSCRIPTS',
        'GETSCRIPT',
        'PUTSCRIPT',
        'CHECKSCRIPT',
        'SETACTIVE',
        'DELETESCRIPT',
        'RENAMESCRIPT',
        'HAVESPACE',
      ];
      return this.no(
        known.includes(verb) ? `${verb} needs AUTHENTICATE first` : `Unknown command ${verb.slice(0, 40)}`,
      );
    }
    const { db, now } = this.context;
    switch (verb) {
      case 'LISTSCRIPTS': {
        if (args.length) return this.no('LISTSCRIPTS takes no arguments');
        const scripts = await listScripts(db, principal.id);
        this.write(scripts.map((s) => `${encodeString(s.name)}${s.active ? ' ACTIVE' : ''}\r\n`).join(''));
        return this.ok('Listscripts completed');
      }
      case 'GETSCRIPT': {
        const [name] = strings(1) ?? [];
        if (name === undefined) return;
        const script = await getScript(db, principal.id, name);
        this.write(`{${Buffer.byteLength(script.content)}}\r\n${script.content}\r\n`);
        return this.ok('Getscript completed');
      }
      case 'PUTSCRIPT': {
        const [name, content] = strings(2) ?? [];
        if (name === undefined || content === undefined) return;
        await putScript(db, principal.id, name, content, now(), this.compileLimits);
        return this.ok('Putscript completed');
      }
      case 'CHECKSCRIPT': {
        const [content] = strings(1) ?? [];
        if (content === undefined) return;
        const problem = checkScript(content, this.compileLimits);
        return problem ? this.no(problem) : this.ok('Checkscript completed');
      }
      case 'SETACTIVE': {
        const [name] = strings(1) ?? [];
        if (name === undefined) return;
        await activateScript(db, principal.id, name === '' ? null : name, now());
        return this.ok(name === '' ? 'No script is active' : 'Setactive completed');
      }
      case 'DELETESCRIPT': {
        const [name] = strings(1) ?? [];
        if (name === undefined) return;
        await deleteScript(db, principal.id, name);
        return this.ok('Deletescript completed');
      }
      case 'RENAMESCRIPT': {
        const [from, to] = strings(2) ?? [];
        if (from === undefined || to === undefined) return;
        await renameScript(db, principal.id, from, to, now());
        return this.ok('Renamescript completed');
      }
      case 'HAVESPACE': {
        const [name, size] = args;
        if (name?.kind !== 'string' || size?.kind !== 'number')
          return this.no('HAVESPACE takes a script name and a size');
        checkScriptName(name.value);
        if (size.value > this.compileLimits.maxScriptBytes)
          return this.no(`A script is at most ${this.compileLimits.maxScriptBytes} octets`, 'QUOTA/MAXSIZE');
        const scripts = await listScripts(db, principal.id);
        if (scripts.length >= maxScriptsPerUser && !scripts.some((s) => s.name === name.value))
          return this.no(`A user keeps at most ${maxScriptsPerUser} scripts`, 'QUOTA/MAXSCRIPTS');
        return this.ok('Putscript would succeed');
      }
      default:
        return this.no(`Unknown command ${verb.slice(0, 40)}`);
    }
  }

  private loginAllowed(): boolean {
    return this.secure || this.context.plaintextLogin;
  }

  /** The capability listing (RFC 5804 1.7), then OK with `text`. */
  private capabilities(text: string) {
    const lines = [
      `"IMPLEMENTATION" "Holdfast"`,
      `"SASL" "${this.state === 'unauthenticated' && this.loginAllowed() ? 'PLAIN' : ''}"`,
      `"SIEVE" "${sieveExtensions.join(' ')}"`,
      ...(this.secure ? [] : ['"STARTTLS"']),
      '"UNAUTHENTICATE"',
      `"MAXREDIRECTS" "${(this.context.sieve?.run ?? defaultSieveLimits).maxRedirects}"`,
      ...(this.principal ? [`"OWNER" ${encodeString(this.principal.address)}`] : []),
      `"VERSION" "1.0"`,
    ];
    this.write(lines.map((l) => `${l}\r\n`).join(''));
    this.ok(text);
  }

  private startTls() {
    if (this.secure) return this.no('TLS is in use already');
    this.ok('Begin TLS negotiation now');
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secured = new TLSSocket(plain, { isServer: true, secureContext: this.secureContext });
    this.socket = secured;
    this.secure = true;
    // Nothing sent before the handshake is carried into TLS.
    this.buffer = Buffer.alloc(0);
    this.need = 0;
    this.queue.restart(secured);
    this.attach(secured);
    // RFC 5804 2.2: the capabilities again, as they are over TLS (written once the handshake is done).
    this.capabilities('TLS negotiation successful');
  }

  private async authenticate(args: Word[]) {
    if (this.state !== 'unauthenticated') return this.no('Already authenticated');
    const [mechanism, initial] = args;
    if (mechanism?.kind !== 'string' || mechanism.value.toUpperCase() !== 'PLAIN')
      return this.no('Only the PLAIN mechanism is offered');
    if (!this.loginAllowed()) return this.no('Log in over TLS: use STARTTLS first', 'ENCRYPT-NEEDED');
    if (initial === undefined) {
      this.awaitingSasl = true;
      this.write('""\r\n');
      return;
    }
    if (initial.kind !== 'string') return this.no('The initial response is a string');
    await this.saslPlain(initial.value);
  }

  /** RFC 5804 2.14.1: the session forgets its user and may AUTHENTICATE again (as anyone). */
  private unauthenticate(args: Word[]) {
    if (args.length) return this.no('UNAUTHENTICATE takes no arguments');
    if (this.state !== 'authenticated' || !this.principal) return this.no('Not authenticated');
    this.signIn?.stop();
    this.signIn = undefined;
    this.log.info({ user: this.principal.address }, 'managesieve: unauthenticated');
    this.principal = undefined;
    this.state = 'unauthenticated';
    this.ok('Unauthenticate completed');
  }

  private async saslPlain(response: string) {
    if (response === '*') return this.no('Authentication cancelled');
    const parts = /^[A-Za-z0-9+/]*={0,2}$/.test(response)
      ? Buffer.from(response, 'base64').toString('utf8').split('\0')
      : [];
    if (parts.length !== 3) return this.no('Malformed PLAIN response (authzid NUL authcid NUL password, in base64)');
    const [authzid, user, password] = parts as [string, string, string];
    if (authzid && authzid.toLowerCase() !== user.toLowerCase())
      return this.no('Logging in as another user is not supported', 'AUTH-TOO-WEAK');
    const { context } = this;
    let outcome: LoginOutcome<Principal>;
    try {
      outcome = await context.logins.attempt(this.remoteAddress, user, () =>
        context.directory.authenticate(user, password),
      );
    } catch (error) {
      const busy = temporarySignInFailure(error);
      if (!busy) throw error;
      return this.no(busy.message, 'TRYLATER');
    }
    if (!outcome.ok) {
      this.log.info({ user, throttled: outcome.throttled }, 'managesieve: login failed');
      return outcome.throttled ? this.no(outcome.message, 'TRYLATER') : this.no('Invalid user name or password');
    }
    this.principal = outcome.principal;
    this.state = 'authenticated';
    this.signIn = new SessionCheck(context, outcome.principal, {
      log: this.log,
      waiting: () => !this.running,
      revoke: (reason) => this.end(`Signed out: ${reason}`),
    });
    this.log.info({ user: outcome.principal.address }, 'managesieve: logged in');
    this.ok('Authenticated');
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? 'unknown';
  }

  private ok(text: string, code?: string) {
    this.write(`OK${code ? ` (${code})` : ''} ${encodeString(text)}\r\n`);
  }

  private no(text: string, code?: string) {
    this.write(`NO${code ? ` (${code})` : ''} ${encodeString(text)}\r\n`);
  }

  private write(text: string) {
    if (!this.socket.destroyed) this.socket.write(Buffer.from(text, 'utf8'));
  }

  /** Ends the session (shutdown, a revoked sign-in). */
  end(message: string) {
    if (this.state !== 'closed') this.write(`BYE ${encodeString(message)}\r\n`);
    this.state = 'closed';
    this.socket.end();
  }

  destroy() {
    this.socket.destroy();
  }

  private closed() {
    clearTimeout(this.timer);
    this.signIn?.stop();
    this.state = 'closed';
    this.context.sessions.delete(this);
  }
}

/** RFC 5804 response codes for the store's refusals. */
function codeOf(error: HoldfastError): string | undefined {
  switch (error.code) {
    case 'no-such-sieve-script':
      return 'NONEXISTENT';
    case 'sieve-script-active':
      return 'ACTIVE';
    case 'sieve-script-exists':
      return 'ALREADYEXISTS';
    case 'too-many-sieve-scripts':
      return 'QUOTA/MAXSCRIPTS';
    default:
      return undefined;
  }
}

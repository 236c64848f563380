// SMTP client transactions to remote servers (nodemailer's SMTPConnection): connect, opportunistic
// STARTTLS, optional AUTH (relay routes), the envelope and the message, with every reply kept so the
// queue can decide per recipient. Connections are kept open for a few seconds after a transaction and
// reused (RSET) for the next message to the same server, as Postfix's connection cache does. A
// connection is ready for the next message as soon as its transaction ends (the next send waits for
// its RSET), and one retired after maxUsesPerConnection is closed before the send returns: a server
// that counts connections (Exchange Online's limit per resource forest) never sees a new one open
// while the one it replaces still counts.
import type { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';

export interface SmtpTarget {
  host: string;
  port: number;
  /** Implicit TLS (smtps://); otherwise STARTTLS when offered. */
  secure: boolean;
  auth?: { user: string; pass: string };
  /** Name for the TLS certificate check and logs (the MX host name). */
  servername?: string;
}

export interface SmtpSendResult {
  accepted: string[];
  /** Recipients refused, with the server's reply for each. */
  rejected: { recipient: string; reply: string; code: number }[];
  response: string;
}

export class SmtpDeliveryError extends Error {
  constructor(
    readonly reply: string,
    /** SMTP reply code, or 0 when the connection itself failed. */
    readonly code: number,
    readonly stage: 'connect' | 'auth' | 'transaction',
  ) {
    super(reply);
  }
}

export interface SendInput {
  helo: string;
  from: string;
  to: string[];
  size: number;
  message: () => Readable;
  dsn?: { ret?: string | null; envid?: string | null; notify?: string | null; orcpt?: string | null };
  timeoutMs?: number;
  /** The destination whose concurrency the delivery counts against (its idle connections: idleFor). */
  destination?: string;
}

interface CachedConnection {
  connection: SMTPConnection;
  uses: number;
  idleTimer?: NodeJS.Timeout;
  /** Resolves to whether the RSET after the last transaction succeeded. */
  ready?: Promise<boolean>;
  destination?: string;
}

const idleMs = 5_000;
const maxUsesPerConnection = 100;
const maxIdlePerTarget = 20;
/** How long a send waits for a retired connection to close. */
const closeWaitMs = 2_000;

export class SmtpClient {
  private readonly idle = new Map<string, CachedConnection[]>();

  /** Sends one message; a cached connection that turns out to be dead is replaced once. */
  async send(target: SmtpTarget, input: SendInput): Promise<SmtpSendResult> {
    const key = `${target.secure ? 'smtps' : 'smtp'}://${target.auth?.user ?? ''}@${target.host}:${target.port}|${input.helo}`;
    const cached = this.take(key);
    if (cached && !(await cached.ready)) this.discard(cached);
    else if (cached) {
      try {
        return await this.transaction(key, cached, input);
      } catch (error) {
        // A server may close an idle connection at any time; only then try a fresh one.
        if (!(error instanceof SmtpDeliveryError) || error.code !== 0) throw error;
      }
    }
    return this.transaction(key, { connection: await connect(target, input), uses: 0 }, input);
  }

  close() {
    for (const list of this.idle.values()) for (const c of list) this.discard(c);
    this.idle.clear();
  }

  /** Connections kept open, idle, for the next message to a destination. */
  idleFor(destination: string): number {
    let count = 0;
    for (const list of this.idle.values()) for (const c of list) if (c.destination === destination) count++;
    return count;
  }

  /** Closes up to `count` idle connections to a destination, and waits (briefly) until the server has closed them. */
  async closeIdle(destination: string, count: number): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, list] of this.idle)
      for (const cached of [...list]) {
        if (closing.length >= count) break;
        if (cached.destination !== destination) continue;
        list.splice(list.indexOf(cached), 1);
        if (list.length === 0) this.idle.delete(key);
        closing.push(this.retire(cached));
      }
    await Promise.all(closing);
  }

  private async transaction(key: string, cached: CachedConnection, input: SendInput): Promise<SmtpSendResult> {
    cached.destination = input.destination;
    let reusable = false;
    try {
      const result = await transact(cached.connection, input);
      reusable = true;
      return result;
    } finally {
      cached.uses++;
      if (reusable && cached.uses < maxUsesPerConnection) this.keep(key, cached);
      else if (reusable) await this.retire(cached);
      else this.discard(cached);
    }
  }

  private take(key: string): CachedConnection | undefined {
    const list = this.idle.get(key);
    const cached = list?.pop();
    if (list && list.length === 0) this.idle.delete(key);
    if (cached) clearTimeout(cached.idleTimer);
    return cached;
  }

  private keep(key: string, cached: CachedConnection) {
    // RSET so the next transaction starts clean (the next send waits for it); a connection that
    // cannot is dropped.
    const list = this.idle.get(key) ?? [];
    if (list.length >= maxIdlePerTarget) return this.discard(cached);
    cached.ready = new Promise((resolve) => {
      // nodemailer calls back only with the server's reply: a connection lost meanwhile ends it too.
      const lost = () => finish(false);
      const finish = (ok: boolean) => {
        cached.connection.off('end', lost).off('error', lost);
        resolve(ok);
      };
      cached.connection.once('end', lost).once('error', lost);
      cached.connection.reset((error) => finish(!error));
    });
    void cached.ready.then((ok) => {
      if (!ok) this.drop(key, cached);
    });
    cached.idleTimer = setTimeout(() => this.drop(key, cached), idleMs);
    cached.idleTimer.unref();
    list.push(cached);
    this.idle.set(key, list);
  }

  /** Takes a connection out of the idle list, if it is still there, and closes it. */
  private drop(key: string, cached: CachedConnection) {
    const current = this.idle.get(key);
    const index = current?.indexOf(cached) ?? -1;
    if (current && index >= 0) current.splice(index, 1);
    if (current?.length === 0) this.idle.delete(key);
    if (index >= 0) this.discard(cached);
  }

  /** QUIT, and wait (briefly) until the server has closed the connection. */
  private async retire(cached: CachedConnection) {
    const closed = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, closeWaitMs);
      timer.unref();
      cached.connection.once('end', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.discard(cached);
    await closed;
  }

  private discard(cached: CachedConnection) {
    clearTimeout(cached.idleTimer);
    try {
      cached.connection.quit();
    } catch {
      cached.connection.close();
    }
  }
}

async function connect(target: SmtpTarget, input: SendInput): Promise<SMTPConnection> {
  const timeout = input.timeoutMs ?? 60_000;
  const connection = new SMTPConnection({
    host: target.host,
    port: target.port,
    secure: target.secure,
    name: input.helo,
    opportunisticTLS: !target.secure,
    // Opportunistic TLS to MX hosts cannot demand a valid certificate (RFC 7435); MTA-STS/DANE later.
    tls: { rejectUnauthorized: false, servername: target.servername },
    connectionTimeout: Math.min(timeout, 30_000),
    greetingTimeout: Math.min(timeout, 30_000),
    socketTimeout: timeout,
    allowInternalNetworkInterfaces: true,
  });
  connection.on('error', () => {}); // reported through the callbacks
  await new Promise<void>((resolve, reject) => {
    connection.connect(() => resolve());
    connection.once('error', (error) => reject(toDeliveryError(error, 'connect')));
  });
  if (target.auth) {
    await new Promise<void>((resolve, reject) =>
      connection.login(target.auth!, (error) => (error ? reject(toDeliveryError(error, 'auth')) : resolve())),
    ).catch((error) => {
      connection.close();
      throw error;
    });
  }
  return connection;
}

// nodemailer's SMTPConnection.send is typed without DSN options and with an untyped result and error.
/* biome-ignore-start lint/suspicious/noExplicitAny: see above */
async function transact(connection: SMTPConnection, input: SendInput): Promise<SmtpSendResult> {
  const info = await new Promise<any>((resolve, reject) =>
    connection.send(
      {
        from: input.from,
        to: input.to,
        size: input.size,
        use8BitMime: true,
        dsn: input.dsn
          ? {
              ret: input.dsn.ret ?? undefined,
              envid: input.dsn.envid ?? undefined,
              notify: input.dsn.notify ?? undefined,
              orcpt: input.dsn.orcpt ?? undefined,
            }
          : undefined,
      } as any,
      input.message(),
      (error: any, result: any) =>
        error && !error.rejectedErrors?.length
          ? reject(toDeliveryError(error, 'transaction'))
          : resolve(error ? { ...error, accepted: [], rejected: input.to } : result),
    ),
  );
  const rejectedErrors: any[] = info.rejectedErrors ?? [];
  return {
    accepted: (info.accepted ?? []).map(String),
    rejected: rejectedErrors.map((e) => ({
      recipient: String(e.recipient),
      reply: cleanReply(e.response ?? e.message),
      code: Number(e.responseCode ?? 0),
    })),
    response: cleanReply(info.response ?? ''),
  };
}

function toDeliveryError(error: any, stage: SmtpDeliveryError['stage']): SmtpDeliveryError {
  const code = Number(error?.responseCode ?? 0);
  const reply = code
    ? cleanReply(error.response ?? error.message)
    : `${error?.code ?? 'ECONNECTION'}: ${error?.message ?? 'connection failed'}`;
  return new SmtpDeliveryError(reply, code, stage);
}
/* biome-ignore-end lint/suspicious/noExplicitAny: see above */

const cleanReply = (text: string) => String(text).replace(/\s+/g, ' ').trim();

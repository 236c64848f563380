// One SMTP client transaction to a remote server (nodemailer's SMTPConnection): connect, opportunistic
// STARTTLS, optional AUTH (relay routes), the envelope and the message, with every reply kept so the
// queue can decide per recipient.
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
}

export async function sendOverSmtp(target: SmtpTarget, input: SendInput): Promise<SmtpSendResult> {
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
  connection.on('error', () => {}); // reported through the callbacks below
  try {
    await new Promise<void>((resolve, reject) => {
      connection.connect(() => resolve());
      connection.once('error', (error) => reject(toDeliveryError(error, 'connect')));
    });
    if (target.auth) {
      await new Promise<void>((resolve, reject) => connection.login(target.auth!, (error) => (error ? reject(toDeliveryError(error, 'auth')) : resolve())));
    }
    const info = await new Promise<any>((resolve, reject) =>
      connection.send(
        {
          from: input.from,
          to: input.to,
          size: input.size,
          use8BitMime: true,
          dsn: input.dsn ? { ret: input.dsn.ret ?? undefined, envid: input.dsn.envid ?? undefined, notify: input.dsn.notify ?? undefined, orcpt: input.dsn.orcpt ?? undefined } : undefined,
        } as any,
        input.message(),
        (error: any, result: any) => (error && !error.rejectedErrors?.length ? reject(toDeliveryError(error, 'transaction')) : resolve(error ? { ...error, accepted: [], rejected: input.to } : result)),
      ),
    );
    const rejectedErrors: any[] = info.rejectedErrors ?? [];
    return {
      accepted: (info.accepted ?? []).map(String),
      rejected: rejectedErrors.map((e) => ({ recipient: String(e.recipient), reply: cleanReply(e.response ?? e.message), code: Number(e.responseCode ?? 0) })),
      response: cleanReply(info.response ?? ''),
    };
  } finally {
    try {
      connection.quit();
    } catch {
      connection.close();
    }
  }
}

function toDeliveryError(error: any, stage: SmtpDeliveryError['stage']): SmtpDeliveryError {
  const code = Number(error?.responseCode ?? 0);
  const reply = code ? cleanReply(error.response ?? error.message) : `${error?.code ?? 'ECONNECTION'}: ${error?.message ?? 'connection failed'}`;
  return new SmtpDeliveryError(reply, code, stage);
}

const cleanReply = (text: string) => String(text).replace(/\s+/g, ' ').trim();

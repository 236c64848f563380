// rspamd over its HTTP protocol: /checkv2 on the normal worker (a verdict for one message, with the
// envelope and connection passed as request headers, https://rspamd.com/doc/developers/protocol.html)
// and, on the controller, learn_spam / learn_ham (Bayes) and fuzzy_add / fuzzy_del (a fuzzy storage's
// hashes, https://rspamd.com/doc/modules/fuzzy_check.html). Node's own http client (a request is one
// message and one JSON answer; fetch's streams and objects cost about twice its CPU per scan), and
// every request carries a deadline, so a hung scanner costs the timeout and no more. rspamd closes each
// connection after its answer (`Connection: close`), so there is no connection to keep between scans.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** rspamd's answers are a few kilobytes of JSON; more than this is not rspamd. */
const maxAnswerBytes = 4 * 1024 * 1024;

/** What intake knows about a message besides its bytes. */
export interface ScanEnvelope {
  clientIp: string;
  helo?: string;
  /** The client's host name (its PTR), when intake knows it. */
  hostname?: string;
  /** "" for the null sender. */
  sender: string;
  recipients: string[];
  /** The authenticated user (submission). */
  user?: string;
  queueId?: string;
}

/** The part of rspamd's /checkv2 answer Holdfast reads. */
export interface RspamdResult {
  action: 'no action' | 'greylist' | 'add header' | 'rewrite subject' | 'soft reject' | 'reject' | string;
  score: number;
  requiredScore: number;
  /** Symbols with a score, highest first (what made the verdict), as NAME(score). */
  symbols: string[];
  /** rspamd's reply text for the client, when a rule set one (`messages.smtp_message`). */
  smtpMessage?: string;
  /** The subject rspamd would write for "rewrite subject". */
  subject?: string;
}

export class ScannerFailure extends Error {
  constructor(
    readonly engine: 'rspamd' | 'clamd',
    message: string,
  ) {
    super(message);
  }
}

export class RspamdClient {
  constructor(private readonly settings: { url?: URL; controllerUrl?: URL; password?: string; timeoutMs: number }) {}

  async check(message: Buffer, envelope: ScanEnvelope): Promise<RspamdResult> {
    const headers: Record<string, string> = { IP: envelope.clientIp, From: envelope.sender || '<>' };
    if (envelope.helo) headers.Helo = envelope.helo;
    if (envelope.hostname) headers.Hostname = envelope.hostname;
    if (envelope.user) headers.User = envelope.user;
    if (envelope.queueId) headers['Queue-Id'] = envelope.queueId;
    const body = await this.post(this.settings.url!, '/checkv2', message, headers, envelope.recipients);
    return parseCheck(body);
  }

  /** Teaches rspamd's Bayes classifier (the controller's learn_spam or learn_ham). */
  async learn(kind: 'spam' | 'ham', message: Buffer): Promise<void> {
    await this.post(this.settings.controllerUrl!, `/learn${kind}`, message, this.passwordHeader());
  }

  /**
   * Adds the message's fuzzy hashes to the storage of the fuzzy_check rule whose fuzzy_map has `flag`
   * (the controller's fuzzy_add): `weight` is added to what a hash already holds, so reports add up.
   * False when rspamd found nothing to hash (no text part, nothing long enough).
   */
  fuzzyAdd(message: Buffer, flag: number, weight: number): Promise<boolean> {
    return this.fuzzy('/fuzzyadd', message, { Flag: String(flag), Weight: String(weight) });
  }

  /** Deletes the message's fuzzy hashes under `flag` (the controller's fuzzy_del), whatever they held. */
  fuzzyDelete(message: Buffer, flag: number): Promise<boolean> {
    return this.fuzzy('/fuzzydel', message, { Flag: String(flag) });
  }

  private async fuzzy(path: string, message: Buffer, headers: Record<string, string>): Promise<boolean> {
    const url = new URL(path, this.settings.controllerUrl!);
    const { status, text } = await this.request(url, 'POST', { ...this.passwordHeader(), ...headers }, message);
    // rspamd 3.4 answers 404 both for a message with nothing to hash, which is no failure, and for a
    // flag no rule can learn ("No fuzzy rules matched for flag 7"), which is a configuration's.
    if (status === 404 && text.includes('No content to generate fuzzy')) return false;
    if (status < 200 || status > 299)
      throw new ScannerFailure('rspamd', `rspamd answered ${path} with ${status}: ${text.slice(0, 200)}`);
    return true;
  }

  private passwordHeader(): Record<string, string> {
    return this.settings.password ? { Password: this.settings.password } : {};
  }

  /** rspamd's /ping on the worker: for service health. */
  async ping(url = this.settings.url!): Promise<void> {
    const { status, text } = await this.request(new URL('/ping', url), 'GET', {});
    if (status !== 200 || !text.startsWith('pong'))
      throw new ScannerFailure('rspamd', `rspamd answered /ping with ${status}`);
  }

  private async post(base: URL, path: string, message: Buffer, headers: Record<string, string>, rcpts: string[] = []) {
    // One Rcpt header per recipient, as rspamd reads them.
    const all: Record<string, string | string[]> = rcpts.length ? { ...headers, Rcpt: rcpts } : headers;
    const { status, text } = await this.request(new URL(path, base), 'POST', all, message);
    if (status < 200 || status > 299)
      throw new ScannerFailure('rspamd', `rspamd answered ${path} with ${status}: ${text.slice(0, 200)}`);
    return text;
  }

  /** One request with the deadline: the status and the answer's text, or the ScannerFailure saying why not. */
  private request(
    url: URL,
    method: 'GET' | 'POST',
    headers: Record<string, string | string[]>,
    body?: Buffer,
  ): Promise<{ status: number; text: string }> {
    const { timeoutMs } = this.settings;
    return new Promise((resolve, reject) => {
      const failed = (reason: string) =>
        reject(new ScannerFailure('rspamd', `rspamd at ${url.host} could not be reached: ${reason}`));
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const request = send(url, {
        method,
        headers: body ? { ...headers, 'Content-Length': String(body.length) } : headers,
      });
      const timer = setTimeout(() => {
        request.destroy();
        failed(`no answer within ${timeoutMs} ms`);
      }, timeoutMs);
      let noContent: IncomingMessage | undefined;
      request.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        // rspamd answers a learn its learn conditions refuse (Bayes is already sure of the message)
        // with "204 <reason>" and a JSON body, which HTTP does not allow after a 204: Node's parser
        // takes the body for data after the answer and fails the request. The answer stands.
        if (noContent) resolve({ status: 204, text: noContent.statusMessage ?? '' });
        else failed(error.code ?? error.message);
      });
      request.on('response', (response: IncomingMessage) => {
        if (response.statusCode === 204) noContent = response;
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxAnswerBytes) {
            clearTimeout(timer);
            request.destroy();
            reject(
              new ScannerFailure('rspamd', `rspamd at ${url.host} answered with more than ${maxAnswerBytes} bytes`),
            );
          } else chunks.push(chunk);
        });
        response.on('end', () => {
          clearTimeout(timer);
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        response.on('error', (error: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          failed(error.code ?? error.message);
        });
      });
      request.end(body);
    });
  }
}

/** Reads /checkv2's JSON; anything unexpected is the scanner's failure, never a verdict. */
export function parseCheck(text: string): RspamdResult {
  let json: {
    action?: unknown;
    score?: unknown;
    required_score?: unknown;
    symbols?: Record<string, { score?: number }>;
    messages?: { smtp_message?: unknown };
    subject?: unknown;
  };
  try {
    json = JSON.parse(text);
  } catch {
    throw new ScannerFailure('rspamd', `rspamd's answer is not JSON: ${text.slice(0, 100)}`);
  }
  if (typeof json.action !== 'string' || typeof json.score !== 'number')
    throw new ScannerFailure('rspamd', 'rspamd answered without an action and a score');
  const symbols = Object.entries(json.symbols ?? {})
    .filter(([, s]) => typeof s.score === 'number' && s.score !== 0)
    .sort(([, a], [, b]) => Math.abs(b.score!) - Math.abs(a.score!))
    .map(([name, s]) => `${name}(${Math.round(s.score! * 100) / 100})`);
  return {
    action: json.action,
    score: json.score,
    requiredScore: typeof json.required_score === 'number' ? json.required_score : 0,
    symbols,
    smtpMessage: typeof json.messages?.smtp_message === 'string' ? json.messages.smtp_message : undefined,
    subject: typeof json.subject === 'string' ? json.subject : undefined,
  };
}

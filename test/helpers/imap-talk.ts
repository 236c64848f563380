// A raw IMAP conversation over a socket, for asserting exact responses (codes, untagged data, literal
// handling) that client libraries hide.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export class ImapTalk {
  private buffer = '';
  private waiters: (() => void)[] = [];
  closed = false;
  private counter = 0;

  private constructor(private socket: Socket | TLSSocket) {
    this.attach(socket);
  }

  private attach(socket: Socket | TLSSocket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer += d;
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on('error', () => {});
  }

  static async open(port: number, options: { tls?: boolean } = {}): Promise<{ talk: ImapTalk; greeting: string }> {
    const socket = options.tls ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }) : connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const talk = new ImapTalk(socket);
    return { talk, greeting: await talk.line() };
  }

  /** Waits until `done` finds what it wants in the buffer; returns and consumes that much. */
  private async until(find: (buffer: string) => number, what: string, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = find(this.buffer);
      if (end >= 0) {
        const out = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end);
        return out;
      }
      if (this.closed) return `${this.buffer}(connection closed)`;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; have: ${this.buffer.slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  /** One line (without CRLF). */
  async line(timeoutMs?: number): Promise<string> {
    const text = await this.until((b) => (b.indexOf('\r\n') >= 0 ? b.indexOf('\r\n') + 2 : -1), 'a line', timeoutMs);
    return text.replace(/\r\n$/, '');
  }

  /** Sends a command with a fresh tag; returns everything up to and including its tagged response. */
  async command(text: string, timeoutMs?: number): Promise<string> {
    const tag = `t${++this.counter}`;
    this.write(`${tag} ${text}\r\n`);
    return this.response(tag, timeoutMs);
  }

  /** Everything up to and including the tagged response for `tag`. */
  async response(tag: string, timeoutMs?: number): Promise<string> {
    const text = await this.until((b) => {
      const match = new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r]*\\r\\n`).exec(b);
      return match ? match.index + match[0].length : -1;
    }, `the response to ${tag}`, timeoutMs);
    return text.replace(/\r\n$/, '');
  }

  /** After "OK Begin TLS": the rest of the conversation over TLS. */
  async startTls() {
    const secure = tlsConnect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket.removeAllListeners('data');
    this.socket = secure;
    this.attach(secure);
  }

  write(text: string | Buffer) {
    this.socket.write(text);
  }

  async login(user: string, password: string) {
    const reply = await this.command(`LOGIN "${user}" "${password}"`);
    if (!/ OK /.test(reply)) throw new Error(`login failed: ${reply}`);
  }

  close() {
    this.socket.destroy();
  }
}

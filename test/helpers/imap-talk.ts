// A raw IMAP conversation over a socket, for asserting exact responses (codes, untagged data, literal
// handling) that client libraries hide.
import { SocketTalk } from './socket-talk.ts';

export class ImapTalk extends SocketTalk {
  private counter = 0;

  static async open(port: number, options: { tls?: boolean } = {}): Promise<{ talk: ImapTalk; greeting: string }> {
    const talk = new ImapTalk(await SocketTalk.connect(port, options), 'latin1');
    return { talk, greeting: await talk.line() };
  }

  /** One line (without CRLF). */
  async line(timeoutMs?: number): Promise<string> {
    const { text, closed } = await this.until(
      (b) => (b.indexOf('\r\n') >= 0 ? b.indexOf('\r\n') + 2 : -1),
      'a line',
      timeoutMs,
    );
    return closed ? `${text}(connection closed)` : text.replace(/\r\n$/, '');
  }

  /** Sends a command with a fresh tag; returns everything up to and including its tagged response. */
  async command(text: string, timeoutMs?: number): Promise<string> {
    const tag = `t${++this.counter}`;
    this.write(`${tag} ${text}\r\n`);
    return this.response(tag, timeoutMs);
  }

  /** Everything up to and including the tagged response for `tag`. */
  async response(tag: string, timeoutMs?: number): Promise<string> {
    const { text, closed } = await this.until(
      (b) => {
        const match = new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r]*\\r\\n`).exec(b);
        return match ? match.index + match[0].length : -1;
      },
      `the response to ${tag}`,
      timeoutMs,
    );
    return closed ? `${text}(connection closed)` : text.replace(/\r\n$/, '');
  }

  /** After "OK Begin TLS": the rest of the conversation over TLS. */
  async startTls() {
    await this.upgradeToTls();
  }

  async login(user: string, password: string) {
    const reply = await this.command(`LOGIN "${user}" "${password}"`);
    if (!/ OK /.test(reply)) throw new Error(`login failed: ${reply}`);
  }
}

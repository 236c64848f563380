// A plain SMTP conversation over a socket, for asserting exact replies (codes, enhanced codes, texts)
// that client libraries would hide. Multi-line replies are returned joined with "\n".
import { SocketTalk, type TalkOptions } from './socket-talk.ts';

export class SmtpTalk extends SocketTalk {
  static async open(port: number, options: TalkOptions = {}): Promise<{ talk: SmtpTalk; greeting: string }> {
    const talk = new SmtpTalk(await SocketTalk.connect(port, options), 'utf8');
    return { talk, greeting: await talk.reply() };
  }

  /**
   * Reads one complete reply. The wait only detects a server that never answers: on a loaded
   * machine a PostgreSQL commit behind 20 sessions has taken over 5 s, so it is generous.
   */
  async reply(timeoutMs = 60_000): Promise<string> {
    const { text, closed } = await this.until(
      (buffer) => {
        const lines = buffer.split('\r\n');
        let length = 0;
        for (let i = 0; i < lines.length - 1; i++) {
          length += lines[i]!.length + 2;
          if (/^\d{3}( |$)/.test(lines[i]!)) return length;
        }
        return -1;
      },
      'an SMTP reply',
      timeoutMs,
    );
    if (closed) return text ? text : '(connection closed)';
    return text.replace(/\r\n$/, '').split('\r\n').join('\n');
  }

  async send(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  /** Reads the next `count` replies (the answers to pipelined commands). */
  async replies(count: number): Promise<string[]> {
    const replies: string[] = [];
    for (let i = 0; i < count; i++) replies.push(await this.reply());
    return replies;
  }

  /** Sends DATA and the message (dot-stuffed), returns the final reply. */
  async data(message: string): Promise<string> {
    const start = await this.send('DATA');
    if (!start.startsWith('354')) return start;
    const body = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    this.socket.write(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
    return this.reply();
  }

  async startTls(): Promise<void> {
    const reply = await this.send('STARTTLS');
    if (!reply.startsWith('220')) throw new Error(`STARTTLS refused: ${reply}`);
    await this.upgradeToTls();
  }
}

export const plainAuth = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`).toString('base64');

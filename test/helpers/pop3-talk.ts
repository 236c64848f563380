// A plain POP3 conversation over a socket, for asserting exact replies and multi-line responses
// (including dot-stuffing) that poplib would undo.
import { SocketTalk } from './socket-talk.ts';

export class Pop3Talk extends SocketTalk {
  static async open(port: number, options: { tls?: boolean } = {}): Promise<{ talk: Pop3Talk; greeting: string }> {
    const talk = new Pop3Talk(await SocketTalk.connect(port, options), 'latin1');
    return { talk, greeting: await talk.line() };
  }

  /** One reply line, without its CRLF. */
  async line(): Promise<string> {
    const { text, closed } = await this.until(
      (buffer) => (buffer.includes('\r\n') ? buffer.indexOf('\r\n') + 2 : -1),
      'a POP3 reply line',
    );
    return closed && !text ? '(connection closed)' : text.replace(/\r\n$/, '');
  }

  /** A multi-line response as sent, up to and including the terminating ".". */
  async multiline(): Promise<string> {
    const { text } = await this.until(
      (buffer) => (buffer.includes('\r\n.\r\n') ? buffer.indexOf('\r\n.\r\n') + 5 : -1),
      'a POP3 multi-line response',
    );
    return text;
  }

  async send(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.line();
  }

  async startTls(): Promise<string> {
    const reply = await this.send('STLS');
    if (reply.startsWith('+OK')) await this.upgrade();
    return reply;
  }

  /** After "+OK Begin TLS": the rest of the conversation over TLS. */
  async upgrade() {
    await this.upgradeToTls();
  }
}

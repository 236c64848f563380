// An IMAP client in IDLE on one node, noting when the server tells it of new mail (EXISTS). Written
// against the wire directly: what the drill checks is exactly what the server sends unasked.
import { connect, type TLSSocket } from 'node:tls';

export class IdleWatch {
  readonly existsAt: number[] = [];
  closedAt: number | undefined;
  private socket: TLSSocket | undefined;
  private buffer = '';

  constructor(
    readonly node: string,
    private readonly port: number,
    private readonly user: string,
    private readonly password: string,
  ) {}

  async open(): Promise<this> {
    const socket = connect({ host: '127.0.0.1', port: this.port, rejectUnauthorized: false });
    this.socket = socket;
    socket.setEncoding('latin1');
    const lines: string[] = [];
    let wake: (() => void) | undefined;
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end = this.buffer.indexOf('\r\n');
      while (end >= 0) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        if (/^\* \d+ EXISTS/.test(line)) this.existsAt.push(Date.now());
        lines.push(line);
        wake?.();
        end = this.buffer.indexOf('\r\n');
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closedAt = Date.now();
      wake?.();
    });
    const until = async (pattern: RegExp) => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const found = lines.findIndex((l) => pattern.test(l));
        if (found >= 0) return lines.splice(0, found + 1).at(-1)!;
        if (this.closedAt || Date.now() > deadline) throw new Error(`IMAP on ${this.node}: no ${pattern}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 500);
        });
      }
    };
    await until(/^\* OK/);
    socket.write(`a LOGIN "${this.user}" "${this.password}"\r\n`);
    if (!/^a OK/.test(await until(/^a (OK|NO|BAD)/))) throw new Error(`IMAP login on ${this.node} failed`);
    socket.write('b SELECT INBOX\r\n');
    await until(/^b OK/);
    socket.write('c IDLE\r\n');
    await until(/^\+ /);
    return this;
  }

  /** Whether the server announced new mail after `since`. */
  sawMailAfter(since: number): boolean {
    return this.existsAt.some((t) => t > since);
  }

  close() {
    this.socket?.end('DONE\r\nz LOGOUT\r\n');
    this.socket?.destroy();
  }
}

// A raw conversation over a socket for protocol tests: what arrives is buffered, and `until` waits
// for a complete response and consumes it. SmtpTalk and ImapTalk add their protocol's framing.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface TalkOptions {
  tls?: boolean;
  localAddress?: string;
}

export class SocketTalk {
  private buffer = '';
  private waiters: (() => void)[] = [];
  protected closed = false;

  protected constructor(
    protected socket: Socket | TLSSocket,
    private readonly encoding: BufferEncoding,
  ) {
    this.attach(socket);
  }

  private attach(socket: Socket | TLSSocket) {
    socket.setEncoding(this.encoding);
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

  /** `localAddress`: another loopback address (127.0.0.2, …) to connect from, a client of its own to per-address limits. */
  protected static async connect(port: number, options: TalkOptions = {}): Promise<Socket | TLSSocket> {
    const from = options.localAddress ? { localAddress: options.localAddress } : {};
    const socket = options.tls
      ? tlsConnect({ host: '127.0.0.1', port, ...from, rejectUnauthorized: false })
      : connect({ host: '127.0.0.1', port, ...from });
    await new Promise<void>((resolve, reject) => {
      socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return socket;
  }

  /**
   * Waits until `find` reports where a complete response ends in what has arrived; returns and
   * consumes it. When the connection closes first, returns what there is.
   */
  protected async until(
    find: (buffer: string) => number,
    what: string,
    timeoutMs = 10_000,
  ): Promise<{ text: string; closed: boolean }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = find(this.buffer);
      if (end >= 0) {
        const text = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end);
        return { text, closed: false };
      }
      if (this.closed) return { text: this.buffer, closed: true };
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; have: ${this.buffer.slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  /** Continues the conversation over TLS (after the server agreed to STARTTLS). */
  protected async upgradeToTls() {
    this.socket.removeAllListeners('data');
    const secure = tlsConnect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  write(text: string | Buffer) {
    this.socket.write(text);
  }

  /** Stops reading what the server sends (a client that never reads its answers). */
  stopReading() {
    this.socket.pause();
  }

  get isClosed() {
    return this.closed;
  }

  close() {
    this.socket.destroy();
  }
}

// The "remote" mail server of the drill: Holdfast relays mail for remote.example here. It answers
// each message after a pause, like a distant server, so that deliveries are in flight when a node or
// the database dies; it counts the SMTP transactions per Message-ID, which shows how many messages a
// crash made Holdfast send twice (the window issue 17 item 5 asks to keep as small as it can be).
import { SMTPServer } from 'smtp-server';

export class RemoteSink {
  readonly transactions = new Map<string, number>();
  private server: SMTPServer | undefined;

  constructor(private readonly delayMs: number) {}

  async start(): Promise<number> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, _session, callback) => {
        let head = '';
        stream.on('data', (chunk: Buffer) => {
          if (head.length < 8192) head += chunk.toString('latin1');
        });
        stream.on('end', () => {
          // Counted at the end of the data, as a real server commits before it answers: a sender that
          // dies before it hears the 250 has still delivered.
          const id = /^Message-ID:\s*(<[^>]+>)/im.exec(head)?.[1] ?? 'none';
          this.transactions.set(id, (this.transactions.get(id) ?? 0) + 1);
          setTimeout(() => callback(), this.delayMs);
        });
      },
    });
    server.on('error', () => {});
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.server.address() as { port: number }).port;
  }

  /** Accepted messages the sink never received, and those it received more than once. */
  compare(accepted: string[]): { missing: string[]; twice: string[] } {
    return {
      missing: accepted.filter((id) => !this.transactions.has(id)),
      twice: [...this.transactions].filter(([, n]) => n > 1).map(([id]) => id),
    };
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

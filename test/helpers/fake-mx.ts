// A remote mail server on loopback (smtp-server), scripted per recipient or for the whole
// connection, recording what it accepts. It stands for "the internet" in delivery tests.
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  data: string;
}

export interface FakeMxScript {
  /** Reply to the connection itself (e.g. 421 at greeting), or undefined to accept it. */
  connect?: () => { code: number; message: string } | undefined;
  /** Reply to one recipient, or undefined to accept it. */
  rcpt?: (address: string) => { code: number; message: string } | undefined;
  /** Reply to the message, or undefined to accept it. */
  data?: () => { code: number; message: string } | undefined;
}

export class FakeMx {
  readonly received: ReceivedMail[] = [];
  connections = 0;
  script: FakeMxScript = {};
  private server: SMTPServer;
  port = 0;

  constructor(options: { auth?: { user: string; pass: string } } = {}) {
    const err = (r: { code: number; message: string }) => Object.assign(new Error(r.message), { responseCode: r.code });
    this.server = new SMTPServer({
      logger: false,
      disableReverseLookup: true,
      authOptional: !options.auth,
      allowInsecureAuth: true,
      // The scripted replies carry their own enhanced codes ("4.7.1 greylisted"); smtp-server would
      // put one of its own in front of each.
      hideENHANCEDSTATUSCODES: true,
      hideDSN: false,
      onConnect: (_session, callback) => {
        this.connections++;
        const reply = this.script.connect?.();
        callback(reply ? err(reply) : undefined);
      },
      onAuth: (auth, _session, callback) => {
        if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass)
          return callback(null, { user: auth.username });
        callback(err({ code: 535, message: '5.7.8 bad credentials' }));
      },
      onRcptTo: (address, _session, callback) => {
        const reply = this.script.rcpt?.(address.address);
        callback(reply ? err(reply) : undefined);
      },
      onData: (stream, session, callback) => {
        let data = '';
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => (data += d));
        stream.on('end', () => {
          const reply = this.script.data?.();
          if (reply) return callback(err(reply));
          this.received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            data,
          });
          callback(null, 'Ok: queued at the fake MX');
        });
      },
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.server.address() as { port: number }).port;
    return this;
  }

  /** Closes every open connection, as an overloaded server does (clients must reconnect). */
  dropConnections() {
    for (const connection of (this.server as unknown as { connections: Set<{ close(): void }> }).connections)
      connection.close();
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

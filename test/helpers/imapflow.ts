// An imapflow client as the tests use it: implicit TLS to loopback (the test certificate is
// self-signed), no logging, and connection errors left to the calls that meet them.
import { ImapFlow } from 'imapflow';

export function imapflowClient(port: number, user: string, pass: string): ImapFlow {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
    logger: false,
  });
  client.on('error', () => {});
  return client;
}

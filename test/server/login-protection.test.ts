// Sign-in protection seen from outside, over real sockets from several loopback source addresses
// (127.0.0.1, 127.0.0.2, …: all of 127/8 reaches the server on Linux): failures are throttled per
// source and per (source, account), never for everyone; an unknown user takes as long to refuse as
// a wrong password.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { adminPassword, startTestNode, type TestNode } from '../helpers/node.ts';

const admin = 'admin@test.example';

/** What arrives on `socket`, and a way to wait for a pattern in it. */
function reader(socket: TLSSocket) {
  let received = '';
  const waiters = new Set<() => void>();
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => ((received += d), waiters.forEach((w) => w())));
  socket.on('close', () => waiters.forEach((w) => w()));
  return (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(received);
        if (match) return waiters.delete(check), resolve(match[0]);
        if (socket.closed) waiters.delete(check), reject(new Error(`connection closed after: ${received}`));
      };
      waiters.add(check);
      check();
    });
}

/** One IMAP LOGIN over TLS from `source`; the tagged reply line. */
async function imapLogin(port: number, user: string, password: string, source = '127.0.0.1'): Promise<string> {
  const socket = tlsConnect({ socket: netConnect({ host: '127.0.0.1', port, localAddress: source }), rejectUnauthorized: false });
  socket.on('error', () => {});
  const waitFor = reader(socket);
  try {
    await waitFor(/^\* OK[^\r]*\r\n/);
    socket.write(`a LOGIN "${user}" "${password}"\r\n`);
    return await waitFor(/^a (OK|NO|BAD)[^\r]*/m);
  } finally {
    socket.destroy();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

for (const name of backendNames) {
  describe(`sign-in protection on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    before(async () => {
      t = await startTestNode(name);
    });
    after(() => t?.stop());

    it('takes as long to refuse an unknown user as a wrong password (account existence is not told by timing)', async () => {
      const imaps = t.port('imaps');
      const source = '127.0.0.9';
      const wrong: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 3; i++) {
        wrong.push(await timed(() => imapLogin(imaps, admin, `not-the-password-${i}`, source)));
        unknown.push(await timed(() => imapLogin(imaps, `nobody${i}@test.example`, 'whatever-password', source)));
      }
      assert.ok(median(wrong) > 20, `a wrong password costs a password check (${median(wrong)} ms)`);
      assert.ok(median(unknown) > median(wrong) * 0.6, `unknown user ${median(unknown).toFixed(1)} ms vs wrong password ${median(wrong).toFixed(1)} ms`);
      assert.match(await imapLogin(imaps, admin, adminPassword, source), /^a OK/);
    });
  });
}

// Sign-in protection seen from outside, over real sockets from several loopback source addresses
// (127.0.0.1, 127.0.0.2, …: all of 127/8 reaches the server on Linux): failures are throttled per
// source and per (source, account), never for everyone; an unknown user takes as long to refuse as
// a wrong password.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { networkInterfaces } from 'node:os';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { ApiTokens } from '../../src/directory/api-tokens.ts';
import { loopbackEnv, runHoldfast } from '../helpers/cli.ts';
import { adminPassword, startTestNode, type TestNode } from '../helpers/node.ts';

const admin = 'admin@test.example';

/** A conversation over TLS from `source`: `send` writes a line and waits for a reply matching `reply`. */
async function tlsTalk(port: number, source: string) {
  const socket = tlsConnect({
    socket: netConnect({ host: '127.0.0.1', port, localAddress: source }),
    rejectUnauthorized: false,
  });
  socket.on('error', () => {});
  socket.setEncoding('latin1');
  let received = '';
  const waiters = new Set<() => void>();
  socket.on('data', (d: string) => {
    received += d;
    for (const w of waiters) w();
  });
  socket.on('close', () => waiters.forEach((w) => w()));
  const waitFor = (pattern: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(received);
        if (match) {
          waiters.delete(check);
          received = received.slice(match.index + match[0].length);
          return resolve(match[0].trim());
        }
        if (socket.closed) {
          waiters.delete(check);
          reject(new Error(`connection closed after: ${received}`));
        }
      };
      waiters.add(check);
      check();
    });
  return {
    waitFor,
    send: (line: string, reply: RegExp) => {
      socket.write(`${line}\r\n`);
      return waitFor(reply);
    },
    close: () => socket.destroy(),
  };
}

/** One IMAP LOGIN over TLS from `source`; the tagged reply line. */
async function imapLogin(port: number, user: string, password: string, source = '127.0.0.1'): Promise<string> {
  const talk = await tlsTalk(port, source);
  try {
    await talk.waitFor(/^\* OK[^\r]*\r\n/);
    return await talk.send(`a LOGIN "${user}" "${password}"`, /^a (OK|NO|BAD)[^\r]*\r\n/m);
  } finally {
    talk.close();
  }
}

/** USER and PASS over POP3S from `source`; the reply to PASS. */
async function pop3Login(port: number, user: string, password: string, source: string): Promise<string> {
  const talk = await tlsTalk(port, source);
  const reply = /^[+-](OK|ERR)[^\r]*\r\n/m;
  try {
    await talk.waitFor(reply);
    await talk.send(`USER ${user}`, reply);
    return await talk.send(`PASS ${password}`, reply);
  } finally {
    talk.close();
  }
}

/** AUTH PLAIN over SMTPS (submissions) from `source`; the reply to AUTH. */
async function smtpAuth(port: number, user: string, password: string, source: string): Promise<string> {
  const talk = await tlsTalk(port, source);
  try {
    await talk.waitFor(/^220 [^\r]*\r\n/m);
    await talk.send('EHLO client.example', /^250 [^\r]*\r\n/m);
    return await talk.send(
      `AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`,
      /^\d{3} [^\r]*\r\n/m,
    );
  } finally {
    talk.close();
  }
}

/** A GET over plain HTTP from `source` (`host` defaults to loopback). */
function httpGet(
  port: number,
  path: string,
  options: { source?: string; host?: string; authorization?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = options.authorization ? { Authorization: options.authorization } : {};
    const req = httpRequest(
      { host: options.host ?? '127.0.0.1', port, path, localAddress: options.source, headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A GET over HTTPS, to `host`. */
function httpsGet(
  port: number,
  path: string,
  options: { host: string; authorization: string },
): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: options.host, port, path, rejectUnauthorized: false, headers: { Authorization: options.authorization } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode! }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** An address of this machine that is not loopback: connections to it come from a non-loopback source. */
const outsideAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * The CPU time (ms, all threads of this process, where the test's server runs) that `work` costs.
 * What the refusal costs is what an attacker's clock would show; CPU time measures it without the
 * noise of a loaded machine, where wall time of one login varies by more than the difference.
 */
async function cpuCost(work: () => Promise<unknown>): Promise<number> {
  const started = process.cpuUsage();
  await work();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000;
}

const password = 'Correct-Horse-7';
const users = ['ann', 'bea', 'cid', 'dan', 'fay'].map((u) => `${u}@test.example`);
const guess = (i: number | string) => `wrong-Guess-${i}`;

for (const name of backendNames) {
  describe(`sign-in protection on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let cli: (...args: string[]) => Promise<{ code: number | null; stdout: string; stderr: string }>;
    before(async () => {
      t = await startTestNode(name, { env: { HOLDFAST_BIND: '0.0.0.0' } });
      const tenant = await t.node.holdfast.directory.tenant('default');
      for (const address of users) await tenant.addPrincipal({ kind: 'user', address, password });
      const env = loopbackEnv(t.backend.dataDir, {
        HOLDFAST_DATABASE_URL: t.backend.databaseUrl,
        HOLDFAST_ADMIN_PASSWORD: adminPassword,
      });
      cli = (...args) => runHoldfast(args, { env, input: args.includes('--password-stdin') ? 'Another-Horse-8' : '' });
    });
    after(() => t?.stop());

    it('makes a stranger guessing one account wait, on every protocol, with growing delays, while its owner signs in', async () => {
      const [ann] = users as [string];
      const stranger = '127.0.1.1';
      for (let i = 0; i < 5; i++)
        assert.match(await imapLogin(t.port('imaps'), ann, guess(i), stranger), /^a NO \[AUTHENTICATIONFAILED\]/);
      assert.equal(
        await imapLogin(t.port('imaps'), ann, password, stranger),
        'a NO [UNAVAILABLE] Too many failed sign-ins; try again in 60 seconds',
        'the right password does not help the guesser',
      );
      assert.match(
        await imapLogin(t.port('imaps'), ` ${ann.toUpperCase()}`, password, stranger),
        /^a NO \[UNAVAILABLE\]/,
        'another spelling of the name is the same account',
      );
      assert.equal(
        await pop3Login(t.port('pop3s'), ann, password, stranger),
        '-ERR [SYS/TEMP] Too many failed sign-ins; try again in 60 seconds',
      );
      assert.equal(
        await smtpAuth(t.port('submissions'), ann, password, stranger),
        '454 4.7.0 Too many failed sign-ins; try again in 60 seconds',
      );

      const owner = '127.0.1.2';
      assert.match(await imapLogin(t.port('imaps'), ann, password, owner), /^a OK/);
      assert.match(await pop3Login(t.port('pop3s'), ann, password, owner), /^\+OK/);
      assert.match(await smtpAuth(t.port('submissions'), ann, password, owner), /^235 /);

      t.clock.advance(61_000);
      assert.match(
        await imapLogin(t.port('imaps'), ann, guess(5), stranger),
        /^a NO \[AUTHENTICATIONFAILED\]/,
        'after the wait, one more try',
      );
      assert.equal(
        await imapLogin(t.port('imaps'), ann, password, stranger),
        'a NO [UNAVAILABLE] Too many failed sign-ins; try again in 2 minutes',
        'and the next wait is twice as long',
      );
    });

    it('makes one source guessing across many accounts wait, and nobody else', async () => {
      const bea = users[1]!;
      for (let i = 0; i < 20; i++)
        assert.match(
          await imapLogin(t.port('imaps'), `guess${i}@test.example`, guess(i), '127.0.2.1'),
          /^a NO \[AUTHENTICATIONFAILED\]/,
        );
      assert.match(await imapLogin(t.port('imaps'), bea, password, '127.0.2.1'), /^a NO \[UNAVAILABLE\]/);
      assert.match(await imapLogin(t.port('imaps'), bea, password, '127.0.2.2'), /^a OK/);
    });

    it('closes an account attacked from many sources to those sources, not to a source with no failures', async () => {
      const cid = users[2]!;
      const attackers = ['127.0.3.1', '127.0.3.2', '127.0.3.3', '127.0.3.4', '127.0.3.5'];
      for (const source of attackers)
        for (let i = 0; i < 4; i++)
          assert.match(await imapLogin(t.port('imaps'), cid, guess(i), source), /^a NO \[AUTHENTICATIONFAILED\]/);
      assert.match(
        await imapLogin(t.port('imaps'), cid, password, attackers[0]),
        /^a NO \[UNAVAILABLE\]/,
        'four failures of its own, but the account is under attack',
      );
      assert.match(
        await imapLogin(t.port('imaps'), cid, password, '127.0.3.9'),
        /^a OK/,
        'a familiar (clean) source signs in',
      );
    });

    it("clears an account's failures with `holdfast user unlock` and with a new password", async () => {
      const dan = users[3]!;
      const source = '127.0.4.1';
      const lockOut = async () => {
        for (let i = 0; i < 5; i++) await imapLogin(t.port('imaps'), dan, guess(i), source);
        assert.match(await imapLogin(t.port('imaps'), dan, password, source), /^a NO \[UNAVAILABLE\]/);
      };
      await lockOut();
      const unlocked = await cli('user', 'unlock', ` ${dan.toUpperCase()}`);
      assert.equal(unlocked.code, 0, unlocked.stderr);
      assert.equal(unlocked.stdout.trim(), `cleared the failed sign-ins of ${dan} (from 1 source)`);
      assert.match(await imapLogin(t.port('imaps'), dan, password, source), /^a OK/);

      await lockOut();
      const changed = await cli('user', 'passwd', dan, '--password-stdin');
      assert.equal(changed.code, 0, changed.stderr);
      assert.match(await imapLogin(t.port('imaps'), dan, 'Another-Horse-8', source), /^a OK/);
    });

    it('throttles API tokens per source and token, and answers 429 with Retry-After', async () => {
      const { token } = await new ApiTokens(
        t.node.holdfast.store.db,
        t.node.holdfast.directory,
        t.node.holdfast.now,
      ).create(admin, 'monitoring');
      const issues = '/admin/serviceAnnouncement/issues';
      const source = '127.0.5.1';
      for (let i = 0; i < 5; i++)
        assert.equal(
          (await httpGet(t.port('http'), issues, { source, authorization: 'Bearer hf_guessing-a-token' })).status,
          401,
        );
      const throttled = await httpGet(t.port('http'), issues, { source, authorization: 'Bearer hf_guessing-a-token' });
      assert.equal(throttled.status, 429);
      assert.equal(throttled.headers['retry-after'], '60');
      assert.equal(
        (await httpGet(t.port('http'), issues, { source, authorization: `Bearer ${token}` })).status,
        200,
        'bad tokens do not lock out good ones, from the same source or any other',
      );
      assert.equal(
        (await httpGet(t.port('http'), issues, { source: '127.0.5.2', authorization: `Bearer ${token}` })).status,
        200,
      );

      const fay = users[4]!;
      for (let i = 0; i < 5; i++)
        assert.equal(
          (await httpGet(t.port('http'), '/admin/queue/insight', { source, authorization: basic(fay, guess(i)) }))
            .status,
          401,
        );
      const basicThrottled = await httpGet(t.port('http'), '/admin/queue/insight', {
        source,
        authorization: basic(fay, password),
      });
      assert.deepEqual([basicThrottled.status, basicThrottled.headers['retry-after']], [429, '60']);
      assert.match(basicThrottled.body, /Too many failed sign-ins/);
    });

    it('refuses administrator passwords and tokens over plain HTTP from another machine, as CalDAV does', {
      skip: outsideAddress ? false : 'no non-loopback IPv4 address on this machine',
    }, async () => {
      const host = outsideAddress!;
      const issues = '/admin/serviceAnnouncement/issues';
      const plain = await httpGet(t.port('http'), issues, { host, authorization: basic(admin, adminPassword) });
      assert.equal(plain.status, 403);
      assert.match(
        plain.body,
        /Passwords are not accepted over plain HTTP from .*: use HTTPS \(port \d+\), or set \[http\] plaintext_login = true/,
      );
      assert.equal(
        (await httpGet(t.port('http'), issues, { host, authorization: 'Bearer hf_any-token' })).status,
        403,
        'tokens are as secret as passwords',
      );
      assert.equal(
        (await httpsGet(t.port('https'), issues, { host, authorization: basic(admin, adminPassword) })).status,
        200,
        'HTTPS from anywhere',
      );
      assert.equal(
        (await httpGet(t.port('http'), issues, { authorization: basic(admin, adminPassword) })).status,
        200,
        'plain HTTP from this machine',
      );
    });

    it('tells anonymous readiness callers only ready or not and the components checked', async () => {
      const anonymous = await httpGet(t.port('http'), '/health/ready');
      assert.deepEqual(
        [anonymous.status, JSON.parse(anonymous.body)],
        [200, { status: 'ok', store: { status: 'ok' } }],
      );
      const detailed = JSON.parse(
        (await httpGet(t.port('http'), '/health/ready', { authorization: basic(admin, adminPassword) })).body,
      );
      assert.equal(typeof detailed.store.latencyMs, 'number', 'a global administrator sees the figures');
    });

    it('takes as long to refuse an unknown user as a wrong password (account existence is not told by timing)', async () => {
      const imaps = t.port('imaps');
      const source = '127.0.0.9';
      const wrong: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 3; i++) {
        wrong.push(await cpuCost(() => imapLogin(imaps, admin, `not-the-password-${i}`, source)));
        unknown.push(await cpuCost(() => imapLogin(imaps, `nobody${i}@test.example`, 'whatever-password', source)));
      }
      assert.ok(median(wrong) > 20, `a wrong password costs a password check (${median(wrong)} ms of CPU)`);
      assert.ok(
        median(unknown) > median(wrong) * 0.6,
        `unknown user ${median(unknown).toFixed(1)} ms of CPU vs wrong password ${median(wrong).toFixed(1)} ms`,
      );
      assert.match(await imapLogin(imaps, admin, adminPassword, source), /^a OK/);
    });
  });
}

for (const name of backendNames) {
  describe(`readiness with the store down on ${name}`, { skip: skipFor(name) }, () => {
    it('says "unavailable" without the store\'s error text (which names hosts and ports)', async () => {
      const t = await startTestNode(name);
      try {
        await t.node.holdfast.store.db.destroy();
        const ready = await httpGet(t.port('http'), '/health/ready');
        assert.deepEqual(
          [ready.status, JSON.parse(ready.body)],
          [503, { status: 'unavailable', store: { status: 'unavailable' } }],
        );
      } finally {
        await t.node.stop().catch(() => {});
        t.dns.stop();
        await t.backend.cleanup();
      }
    });
  });
}

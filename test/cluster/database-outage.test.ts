// Losing PostgreSQL under a running node (a failover, a restart, a cut network) and getting it back:
// node A reaches the real test PostgreSQL through a TCP proxy the test cuts and restores; node B is
// connected directly and keeps working. While A's database is gone, A answers with each protocol's
// temporary failure and keeps its sessions: SMTP 451 4.3.0 (never 5xx), IMAP NO [UNAVAILABLE],
// CalDAV 503 with Retry-After. Once it is back, A serves again without a restart, and an IDLE
// session on A sees the mail B delivered during the cut (whose notification A could not hear).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createBackend, postgresSkip, postgresUrl, tempDir, type TestBackend } from '../helpers/backends.ts';
import { initHoldfast, loopbackEnv, runHoldfast, startHoldfast, type StartedServer } from '../helpers/cli.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { SmtpTalk } from '../helpers/smtp-talk.ts';
import { Pop3Talk } from '../helpers/pop3-talk.ts';
import { TcpProxy, targetOf, throughProxy } from './tcp-proxy.ts';

const password = 'Wonderland-42';
const toml = '[queue]\npoll_interval = "100ms"\n';

/** One SMTP transaction, step by step; every reply, and the last one. */
async function sendThrough(port: number, subject: string): Promise<{ replies: string[]; last: string }> {
  const { talk, greeting } = await SmtpTalk.open(port);
  const replies = [greeting];
  try {
    for (const line of [
      'EHLO client.outside.example',
      'MAIL FROM:<sender@outside.example>',
      'RCPT TO:<gina@test.example>',
    ]) {
      const reply = await talk.send(line);
      replies.push(reply);
      if (!reply.startsWith('2')) return { replies, last: reply };
    }
    const reply = await talk.data(`From: sender@outside.example\r\nSubject: ${subject}\r\n\r\nbody\r\n`);
    replies.push(reply);
    await talk.send('QUIT').catch(() => '');
    return { replies, last: reply };
  } finally {
    talk.close();
  }
}

async function caldavStatus(port: number): Promise<{ status: number; retryAfter: string | null }> {
  const response = await fetch(`http://127.0.0.1:${port}/dav/calendars/gina@test.example/`, {
    method: 'PROPFIND',
    headers: { Authorization: `Basic ${Buffer.from(`gina@test.example:${password}`).toString('base64')}`, Depth: '0' },
  });
  await response.body?.cancel();
  return { status: response.status, retryAfter: response.headers.get('retry-after') };
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('a node losing its PostgreSQL and getting it back', { skip: postgresSkip }, () => {
  let backend: TestBackend;
  let proxy: TcpProxy;
  let nodeA: StartedServer;
  let nodeB: StartedServer;
  let direct: pg.Client;

  before(async () => {
    backend = await createBackend('postgres');
    proxy = new TcpProxy(targetOf(postgresUrl!));
    const proxied = throughProxy(backend.databaseUrl, await proxy.start());
    const dirB = await tempDir();
    const common = { HOLDFAST_ADMIN_PASSWORD: 'Keep-Mail-Flowing-42' };
    const envA = loopbackEnv(backend.dataDir, {
      ...common,
      HOLDFAST_DATABASE_URL: proxied,
      HOLDFAST_CONFIG: join(backend.dataDir, 'holdfast.toml'),
    });
    const envB = loopbackEnv(dirB, {
      ...common,
      HOLDFAST_DATABASE_URL: backend.databaseUrl,
      HOLDFAST_CONFIG: join(dirB, 'holdfast.toml'),
    });
    await writeFile(join(backend.dataDir, 'holdfast.toml'), toml);
    await writeFile(join(dirB, 'holdfast.toml'), toml);
    await initHoldfast(envA);
    const added = await runHoldfast(['user', 'add', 'gina@test.example', '--password', password], { env: envA });
    assert.equal(added.code, 0, added.stderr);
    nodeA = await startHoldfast(envA);
    nodeB = await startHoldfast(envB, ['--roles', 'smtp,queue']);
    direct = new pg.Client({ connectionString: backend.databaseUrl });
    await direct.connect();
  });

  after(async () => {
    proxy.restore();
    await direct?.end().catch(() => {});
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await proxy?.stop();
    await backend?.cleanup();
  });

  it('answers with temporary failures meanwhile, keeps its sessions, and resumes by itself', async () => {
    const { talk: imap } = await ImapTalk.open(nodeA.port('imaps'), { tls: true });
    await imap.login('gina@test.example', password);
    assert.match(await imap.command('SELECT INBOX'), /\* 0 EXISTS/);
    const { talk: idle } = await ImapTalk.open(nodeA.port('imaps'), { tls: true });
    await idle.login('gina@test.example', password);
    assert.match(await idle.command('SELECT INBOX'), /\* 0 EXISTS/);
    idle.write('i1 IDLE\r\n');
    assert.match(await idle.line(), /^\+ /);

    proxy.cut();

    // SMTP: a temporary failure at some step, never a permanent one, and never a 250.
    const during = await sendThrough(nodeA.port('smtp'), 'during the outage');
    for (const reply of during.replies) assert.doesNotMatch(reply, /^5/, `a permanent refusal: ${during.replies}`);
    assert.match(during.last, /^451 4\.3\.0 Mail store unavailable/, during.replies.join(' | '));

    // IMAP: NO [UNAVAILABLE], and the session is still there.
    assert.match(await imap.command('STATUS INBOX (MESSAGES)'), /^t\d+ NO \[UNAVAILABLE\] /m);

    // POP3: a temporary refusal (RFC 3206 SYS/TEMP) naming the cause.
    const { talk: pop3 } = await Pop3Talk.open(nodeA.port('pop3s'), { tls: true });
    assert.match(await pop3.send('USER gina@test.example'), /^\+OK/);
    assert.equal(
      await pop3.send(`PASS ${password}`),
      '-ERR [SYS/TEMP] The mail store is unavailable for the moment; try again shortly',
    );
    pop3.close();

    // CalDAV: 503 with Retry-After.
    assert.deepEqual(await caldavStatus(nodeA.port('http')), { status: 503, retryAfter: '5' });

    // Node B, on its own connection, still takes mail and delivers it; A cannot hear the notification.
    assert.match((await sendThrough(nodeB.port('smtp'), 'delivered by B')).last, /^250 /);
    await until('the delivery by node B', async () => {
      const { rows } = await direct.query('select count(*)::int as n from messages');
      return rows[0].n === 1 ? true : undefined;
    });

    proxy.restore();

    // IDLE on A shows the message B delivered while A's change feed was cut off.
    assert.match(await idle.line(30_000), /^\* 1 EXISTS/);
    idle.write('DONE\r\n');
    assert.match(await idle.response('i1'), /^i1 OK/m);

    // The same IMAP session works again, without reconnecting.
    await until('IMAP to answer again', async () => {
      const reply = await imap.command('STATUS INBOX (MESSAGES)');
      return / OK /.test(reply) ? reply : undefined;
    });
    assert.match(await imap.command('STATUS INBOX (MESSAGES)'), /\* STATUS "?INBOX"? \(MESSAGES 1\)/);

    // SMTP on A accepts again, and A's queue delivers it.
    await until('SMTP on A to accept again', async () => {
      const { last } = await sendThrough(nodeA.port('smtp'), 'after the outage');
      assert.doesNotMatch(last, /^5/);
      return last.startsWith('250 ') ? last : undefined;
    });
    assert.equal((await caldavStatus(nodeA.port('http'))).status, 207);
    await until('both messages in the mailbox', async () => {
      const reply = await imap.command('STATUS INBOX (MESSAGES)');
      return /MESSAGES 2\)/.test(reply) ? reply : undefined;
    });
    assert.equal(nodeA.child.exitCode, null, `node A exited:\n${nodeA.stderr()}`);
    imap.close();
    idle.close();
  });
});

// Sessions opened before an administrator cut the user off end: disabling the account, a new password
// (`holdfast user passwd`, as after a compromise) or `holdfast user kick` end the user's IMAP sessions
// (busy and in IDLE) with a BYE, POP3 with -ERR, SMTP submission with 421 4.7.0, and CalDAV's
// remembered password, within the
// re-check interval (shortened here; 15 s in service) and on another process's word (the CLI). An
// enabled account left alone keeps its sessions.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { ImapFlow } from 'imapflow';
import { imapflowClient } from '../helpers/imapflow.ts';
import { sessionRecheck, sessionRecheckMs } from '../../src/directory/session-check.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { cliOn, loopbackEnv } from '../helpers/cli.ts';
import { adminPassword, startTestNode, type TestNode } from '../helpers/node.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { Pop3Talk } from '../helpers/pop3-talk.ts';
import { SmtpTalk } from '../helpers/smtp-talk.ts';

const password = 'Explorer-Map-42';
const newPassword = 'Fresh-Compass-77';
const intervalMs = 300;
/** Generous: the interval, a timer's lateness, a loaded machine. */
const cutWithinMs = intervalMs + 2_500;

for (const name of backendNames) {
  describe(`sessions after their sign-in is revoked, on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let env: Record<string, string>;
    const { json: cli } = cliOn(() => env);

    before(async () => {
      sessionRecheck.intervalMs = intervalMs;
      t = await startTestNode(name, { toml: '[limits]\nauth_failures = 100\n' });
      const tenant = await t.node.holdfast.directory.tenant('default');
      for (const user of ['dora', 'erin', 'fred', 'carl'])
        await tenant.addPrincipal({ kind: 'user', address: `${user}@test.example`, password });
      env = loopbackEnv(t.backend.dataDir, {
        HOLDFAST_DATABASE_URL: t.backend.databaseUrl,
        HOLDFAST_ADMIN_PASSWORD: adminPassword,
      });
    });
    after(async () => {
      sessionRecheck.intervalMs = sessionRecheckMs;
      await t?.stop();
    });

    const imapClient = (user: string, pass = password) => imapflowClient(t.port('imaps'), user, pass);
    const caldav = (user: string, pass = password) =>
      fetch(`http://127.0.0.1:${t.port('http')}/dav/calendars/${user}/`, {
        method: 'PROPFIND',
        headers: { Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`, Depth: '0' },
      }).then((r) => {
        void r.body?.cancel();
        return r.status;
      });

    /** Every kind of session a user can hold open, signed in and working. */
    async function openSessions(user: string) {
      const closedAt = (client: ImapFlow) =>
        new Promise<number>((resolve) => client.once('close', () => resolve(Date.now())));

      // A mail client keeps issuing commands until the server ends its session.
      const busy = imapClient(user);
      await busy.connect();
      const busyClosed = closedAt(busy);
      let busyCommands = 0;
      const busyFailed = (async () => {
        for (;;) {
          try {
            if (!(await busy.status('INBOX', { messages: true }))) throw new Error('STATUS failed');
            busyCommands++;
          } catch {
            return Date.now();
          }
          await delay(20);
        }
      })();

      // Another session waits in IDLE (raw, to read the BYE's text: imapflow drops a BYE that
      // arrives with the end of the connection), and hears of new mail there.
      const { talk: idling } = await ImapTalk.open(t.port('imaps'), { tls: true });
      await idling.login(user, password);
      await idling.command('SELECT INBOX');
      idling.write('i1 IDLE\r\n');
      assert.equal(await idling.line(), '+ idling');
      await busy.append('INBOX', `From: ${user}\r\nSubject: note\r\n\r\nHello.\r\n`);
      assert.match(await idling.line(), /^\* 1 EXISTS$/);

      // POP3 marks a message deleted (applied only at QUIT).
      const { talk: pop3 } = await Pop3Talk.open(t.port('pop3s'), { tls: true });
      assert.match(await pop3.send(`USER ${user}`), /^\+OK/);
      assert.match(await pop3.send(`PASS ${password}`), /^\+OK/);
      assert.match(await pop3.send('DELE 1'), /^\+OK/);

      // SMTP submission, signed in and waiting for the next message.
      const { talk: smtp } = await SmtpTalk.open(t.port('submissions'), { tls: true });
      await smtp.send('EHLO client.example');
      const plain = Buffer.from(`\0${user}\0${password}`).toString('base64');
      assert.match(await smtp.send(`AUTH PLAIN ${plain}`), /^235 /);

      // CalDAV: the password is now remembered by the server.
      assert.equal(await caldav(user), 207);

      return { busy, busyClosed, busyFailed, idling, pop3, smtp, commands: () => busyCommands };
    }

    type Sessions = Awaited<ReturnType<typeof openSessions>>;

    /** The next line that is not about messages (EXISTS, RECENT, FETCH). */
    async function nextNews(talk: ImapTalk): Promise<string> {
      for (;;) {
        const line = await talk.line();
        if (!/^\* \d+ (EXISTS|RECENT|FETCH)/.test(line)) return line;
      }
    }

    /** Each session ends within the interval after `since`, the IMAP ones with a BYE saying why. */
    async function assertCutOff(user: string, s: Sessions, since: number, reason: string) {
      const [idleLine, pop3Line, smtpReply] = await Promise.all([nextNews(s.idling), s.pop3.line(), s.smtp.reply()]);
      const idleClosed = Date.now();
      const [busyClosed, busyFailed] = await Promise.all([s.busyClosed, s.busyFailed]);
      for (const [what, at] of Object.entries({ busyClosed, busyFailed, idleClosed })) {
        assert.ok(at - since < cutWithinMs, `${what} ${at - since} ms after the change`);
      }
      assert.equal(idleLine, `* BYE Signed out: ${reason}`);
      assert.equal(await s.idling.line(), '(connection closed)');
      assert.equal(pop3Line, `-ERR Signed out: ${reason}`);
      assert.equal(await s.pop3.line(), '(connection closed)');
      assert.equal(smtpReply, `421 4.7.0 Signed out: ${reason}`);
      assert.equal(await s.smtp.reply(), '(connection closed)');
      // A POP3 session that did not QUIT deletes nothing.
      assert.equal((await t.mailbox(user)).length, 1);
    }

    let control: Sessions;
    it('leaves the sessions of an account nobody changed open', async () => {
      control = await openSessions('carl@test.example');
    });

    it('ends every session of a disabled account', async () => {
      const dora = 'dora@test.example';
      const sessions = await openSessions(dora);
      await cli('user', 'set', dora, '--disable');
      const since = Date.now();
      assert.equal(await caldav(dora), 401);
      await assertCutOff(dora, sessions, since, 'the account was disabled');
    });

    it('ends every session signed in with the old password when it is changed', async () => {
      const erin = 'erin@test.example';
      const sessions = await openSessions(erin);
      const result = await cli('user', 'passwd', erin, '--password', newPassword);
      assert.equal(result.passwordChanged, true);
      const since = Date.now();
      // CalDAV no longer takes the old password it remembered; the new one works at once.
      assert.equal(await caldav(erin), 401);
      assert.equal(await caldav(erin, newPassword), 207);
      await assertCutOff(erin, sessions, since, 'the password was changed or an administrator ended your sessions');

      const again = imapClient(erin, newPassword);
      await again.connect();
      assert.deepEqual(await again.status('INBOX', { messages: true }), { path: 'INBOX', messages: 1 });
      await again.logout();
    });

    it('ends every session on `holdfast user kick`, and the user signs in again', async () => {
      const fred = 'fred@test.example';
      const sessions = await openSessions(fred);
      assert.deepEqual(await cli('user', 'kick', fred), { address: fred, sessionsEnded: true });
      const since = Date.now();
      await assertCutOff(fred, sessions, since, 'the password was changed or an administrator ended your sessions');

      const again = imapClient(fred);
      await again.connect();
      assert.deepEqual(await again.status('INBOX', { messages: true }), { path: 'INBOX', messages: 1 });
      await again.logout();
      assert.equal(await caldav(fred), 207);
    });

    it("kept the untouched account's sessions through many re-checks", async () => {
      const commandsBefore = control.commands();
      await delay(intervalMs * 3);
      assert.ok(control.commands() > commandsBefore, 'the busy session still runs commands');
      assert.equal(control.busy.usable, true);
      await control.busy.append('INBOX', 'From: carl\r\nSubject: later\r\n\r\nStill here.\r\n');
      assert.match(await control.idling.line(), /^\* 1 RECENT$/); // left from the first message
      assert.match(await control.idling.line(), /^\* 2 EXISTS$/);
      control.idling.write('DONE\r\n');
      assert.match(await control.idling.response('i1'), /i1 OK IDLE terminated$/);
      assert.match(await control.pop3.send('STAT'), /^\+OK 0 /); // its one message is marked deleted
      assert.match(await control.smtp.send('MAIL FROM:<carl@test.example>'), /^250 /);
      assert.equal(await caldav('carl@test.example'), 207);
      await control.busy.logout();
      await control.busyFailed;
      assert.match(await control.pop3.send('QUIT'), /^\+OK/);
    });
  });

  describe(`re-checking a sign-in at most once per interval, on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    before(async () => {
      t = await startTestNode(name);
      await (await t.node.holdfast.directory.tenant('default')).addPrincipal({
        kind: 'user',
        address: 'gina@test.example',
        password,
      });
    });
    after(() => t?.stop());

    it('ends an SMTP submission session at its first command after the interval', async () => {
      const { talk } = await SmtpTalk.open(t.port('submissions'), { tls: true });
      await talk.send('EHLO client.example');
      assert.match(
        await talk.send(`AUTH PLAIN ${Buffer.from(`\0gina@test.example\0${password}`).toString('base64')}`),
        /^235 /,
      );
      await (await t.node.holdfast.directory.tenant('default')).updatePrincipal('gina@test.example', {
        disabled: true,
      });
      assert.match(await talk.send('MAIL FROM:<gina@test.example>'), /^250 /, 'within the interval: no read yet');
      t.clock.advance(sessionRecheckMs);
      assert.equal(await talk.send('RCPT TO:<gina@test.example>'), '421 4.7.0 Signed out: the account was disabled');
      assert.equal(await talk.reply(), '(connection closed)');
      await (await t.node.holdfast.directory.tenant('default')).updatePrincipal('gina@test.example', {
        disabled: false,
      });
    });

    it('reads the account at the first command after the interval, not at every command', async () => {
      const { talk } = await ImapTalk.open(t.port('imaps'), { tls: true });
      await talk.login('gina@test.example', password);
      await (await t.node.holdfast.directory.tenant('default')).updatePrincipal('gina@test.example', {
        disabled: true,
      });
      // Within the interval a command costs no read of the account…
      assert.match(await talk.command('NOOP'), /^t2 OK/);
      // …and the first command after it ends the session, without waiting for the timer.
      t.clock.advance(sessionRecheckMs);
      assert.equal(
        await talk.command('STATUS INBOX (MESSAGES)'),
        '* BYE Signed out: the account was disabled\r\n(connection closed)',
      );
    });
  });
}

// A disabled account (`holdfast user set --disable`) cannot sign in on any protocol, nor through its
// API tokens, but mail to it is still delivered, as with a blocked sign-in in Exchange. Enabling
// it restores everything.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiTokens } from '../../src/directory/api-tokens.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { loopbackEnv, runHoldfast } from '../helpers/cli.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { adminPassword, startTestNode, type TestNode } from '../helpers/node.ts';
import { Pop3Talk } from '../helpers/pop3-talk.ts';
import { plainAuth, SmtpTalk } from '../helpers/smtp-talk.ts';

const dora = 'dora@test.example';
const password = 'Explorer-Map-42';
const basic = `Basic ${Buffer.from(`${dora}:${password}`).toString('base64')}`;

for (const name of backendNames) {
  describe(`a disabled account on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let token: string;
    let env: Record<string, string>;

    before(async () => {
      // Many refusals follow on purpose: the sign-in throttle must not be what refuses them.
      t = await startTestNode(name, { toml: '[limits]\nauth_failures = 100\n' });
      const { directory, store } = t.node.holdfast;
      await (await directory.tenant('default')).addPrincipal({
        kind: 'user',
        address: dora,
        password,
        role: 'tenant-admin',
      });
      token = (await new ApiTokens(store.db, directory, Date.now).create(dora, 'script')).token;
      env = loopbackEnv(t.backend.dataDir, {
        HOLDFAST_DATABASE_URL: t.backend.databaseUrl,
        HOLDFAST_ADMIN_PASSWORD: adminPassword,
      });
    });
    after(() => t?.stop());

    const imap = async () => {
      const { talk } = await ImapTalk.open(t.port('imaps'), { tls: true });
      try {
        return (await talk.command(`LOGIN "${dora}" "${password}"`)).split(' ')[1];
      } finally {
        talk.close();
      }
    };
    const pop3 = async () => {
      const { talk } = await Pop3Talk.open(t.port('pop3s'), { tls: true });
      try {
        await talk.send(`USER ${dora}`);
        return (await talk.send(`PASS ${password}`)).split(' ')[0];
      } finally {
        talk.close();
      }
    };
    const submission = async () => {
      const { talk } = await SmtpTalk.open(t.port('submissions'), { tls: true });
      try {
        await talk.send('EHLO client.example');
        return (await talk.send(`AUTH PLAIN ${plainAuth(dora, password)}`)).slice(0, 3);
      } finally {
        talk.close();
      }
    };
    const http = (path: string, authorization: string, method = 'GET') =>
      fetch(`http://127.0.0.1:${t.port('http')}${path}`, {
        method,
        headers: { Authorization: authorization, Depth: '0' },
      }).then((r) => {
        void r.body?.cancel();
        return r.status;
      });
    const signIns = async () => ({
      imap: await imap(),
      pop3: await pop3(),
      submission: await submission(),
      caldav: await http(`/dav/calendars/${dora}/`, basic, 'PROPFIND'),
      adminApi: await http('/admin/serviceAnnouncement/issues', basic),
      apiToken: await http('/admin/serviceAnnouncement/issues', `Bearer ${token}`),
    });
    const cli = async (...args: string[]) => {
      const result = await runHoldfast([...args, '--json'], { env });
      assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
      return JSON.parse(result.stdout);
    };

    it('signs in everywhere while enabled', async () => {
      assert.deepEqual(await signIns(), {
        imap: 'OK',
        pop3: '+OK',
        submission: '235',
        caldav: 207,
        adminApi: 200,
        apiToken: 200,
      });
    });

    it('refuses every sign-in once disabled, and still takes its mail', async () => {
      assert.equal((await cli('user', 'set', dora, '--disable')).disabled, true);
      assert.deepEqual(await signIns(), {
        imap: 'NO',
        pop3: '-ERR',
        submission: '535',
        caldav: 401,
        adminApi: 401,
        apiToken: 401,
      });

      const { talk } = await SmtpTalk.open(t.port('smtp'));
      await talk.send('EHLO sender.example');
      assert.match(await talk.send('MAIL FROM:<someone@outside.example>'), /^250/);
      assert.match(await talk.send(`RCPT TO:<${dora}>`), /^250/);
      assert.match(
        await talk.data(
          'From: someone@outside.example\r\nTo: dora@test.example\r\nSubject: while away\r\n\r\nStill here.\r\n',
        ),
        /^250/,
      );
      talk.close();
      await t.waitFor(
        async () => (await t.mailbox(dora)).some((m) => m.text.includes('Subject: while away')),
        'the mail in her INBOX',
      );

      const [listed] = (await cli('user', 'list', '--tenant', 'default')).filter(
        (u: { address: string }) => u.address === dora,
      );
      assert.equal(listed.disabled, true);
    });

    it('signs in again once enabled', async () => {
      assert.equal((await cli('user', 'set', dora, '--enable')).disabled, false);
      assert.deepEqual(await signIns(), {
        imap: 'OK',
        pop3: '+OK',
        submission: '235',
        caldav: 207,
        adminApi: 200,
        apiToken: 200,
      });
    });
  });
}

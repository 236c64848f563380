// Moving a message into Junk over IMAP teaches rspamd spam, moving it out (not to Trash) teaches ham,
// through rspamd's controller with its password (a real rspamd, Bayes in Redis); a move made through
// JMAP teaches the same; the rules alone too.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { lessonOf } from '../../src/filtering/junk-learning.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { imapflowClient } from '../helpers/imapflow.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';
import { basicAuth, postApi } from '../jmap/jmap-client.ts';
import { redisAnswers, startEngines } from './scan-engines.ts';

const password = 'Wonderland-42';
const engines = await startEngines();
after(() => engines.stop());
const noRedis =
  !(await redisAnswers()) && "Redis does not answer on 127.0.0.1:6379 (rspamd's Bayes statistics live there)";

describe('what a copy teaches', () => {
  const folder = (name: string, specialUse: string | null = null) => ({ name, special_use: specialUse });
  it('spam into Junk, ham out of Junk but not into Trash', () => {
    assert.equal(lessonOf({ source: folder('INBOX'), target: folder('Junk', '\\Junk') }), 'spam');
    assert.equal(lessonOf({ source: folder('Archive'), target: folder('Spam', '\\Junk') }), 'spam');
    assert.equal(lessonOf({ source: folder('Junk', '\\Junk'), target: folder('INBOX') }), 'ham');
    assert.equal(lessonOf({ source: folder('Junk', '\\Junk'), target: folder('Trash', '\\Trash') }), undefined);
    assert.equal(lessonOf({ source: folder('INBOX'), target: folder('Archive') }), undefined);
  });
});

/** rspamd's count of messages learned, from its controller. */
async function learned(): Promise<number> {
  const response = await fetch(`${engines.rspamd!.controllerUrl}/stat`, {
    headers: { Password: engines.rspamd!.password },
  });
  return (await response.json()).learned;
}

const words = (seed: string) =>
  Array.from({ length: 60 }, (_, i) => `${seed}${i} word${(i * 7) % 13} text${i % 5}`).join(' ');

for (const name of backendNames) {
  describe(`learning from IMAP moves on ${name}`, { skip: skipFor(name) || engines.skip || noRedis }, () => {
    let t: TestNode;
    before(async () => {
      t = await startTestNode(name, {
        toml: [
          '[filtering]',
          `rspamd_controller_url = "${engines.rspamd!.controllerUrl}"`,
          `rspamd_password = "${engines.rspamd!.password}"`,
          '',
        ].join('\n'),
      });
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
    });
    after(() => t?.stop());

    it('learns spam from a move into Junk and ham from a move back', async () => {
      await submission(t.port('submissions'), 'alice@test.example', password).sendMail({
        from: 'alice@test.example',
        to: 'alice@test.example',
        subject: `cheap offers ${name}`,
        text: words(`offer${name}${Date.now()}`),
      });
      await t.waitFor(async () => (await t.mailbox('alice@test.example')).length === 1, 'the message in the INBOX');
      const imap = imapflowClient(t.port('imaps'), 'alice@test.example', password);
      await imap.connect();
      try {
        const before = await learned();
        await imap.mailboxOpen('INBOX');
        await imap.messageMove('1:*', 'Junk');
        await t.waitFor(async () => (await learned()) === before + 1, 'rspamd learning spam', 20_000);
        await imap.mailboxOpen('Junk');
        await imap.messageMove('1:*', 'INBOX');
        await t.waitFor(async () => (await learned()) === before + 2, 'rspamd learning ham', 20_000);
        // Junk to Trash teaches nothing.
        await imap.mailboxOpen('INBOX');
        await imap.messageMove('1:*', 'Junk');
        await t.waitFor(async () => (await learned()) === before + 3, 'rspamd learning spam again', 20_000);
        await imap.mailboxOpen('Junk');
        await imap.messageMove('1:*', 'Trash');
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(await learned(), before + 3);
      } finally {
        await imap.logout();
      }
    });

    it('learns from a move into Junk made through JMAP (as the web app makes it)', async () => {
      const subject = `jmap offers ${name}`;
      await submission(t.port('submissions'), 'alice@test.example', password).sendMail({
        from: 'alice@test.example',
        to: 'alice@test.example',
        subject,
        text: words(`jmapoffer${name}${Date.now()}`),
      });
      await t.waitFor(
        async () => (await t.mailbox('alice@test.example')).some((m) => m.text.includes(subject)),
        'the message in the INBOX',
      );
      const base = `http://127.0.0.1:${t.port('http')}`;
      const auth = basicAuth('alice@test.example', password);
      const session = await (await fetch(`${base}/.well-known/jmap`, { headers: { Authorization: auth } })).json();
      const accountId = session.primaryAccounts['urn:ietf:params:jmap:mail'];
      const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];
      const boxes = await postApi(base, { using, methodCalls: [['Mailbox/get', { accountId }, 'b']] }, auth);
      const roles = Object.fromEntries(
        boxes.json.methodResponses[0][1].list.map((m: { role: string; id: string }) => [m.role, m.id]),
      );
      const found = await postApi(
        base,
        {
          using,
          methodCalls: [['Email/query', { accountId, filter: { inMailbox: roles.inbox, subject } }, 'q']],
        },
        auth,
      );
      const [id] = found.json.methodResponses[0][1].ids;
      const before = await learned();
      const moved = await postApi(
        base,
        {
          using,
          methodCalls: [['Email/set', { accountId, update: { [id]: { mailboxIds: { [roles.junk]: true } } } }, 'm']],
        },
        auth,
      );
      assert.deepEqual(Object.keys(moved.json.methodResponses[0][1].updated ?? {}), [id]);
      await t.waitFor(async () => (await learned()) === before + 1, 'rspamd learning spam from the JMAP move', 20_000);
    });
  });
}

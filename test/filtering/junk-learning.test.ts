// Moving a message into Junk over IMAP teaches rspamd spam, moving it out (not to Trash) teaches ham,
// through rspamd's controller with its password (a real rspamd, Bayes in Redis); a move made through
// JMAP teaches the same; the rules alone too. With fuzzy_flag, a move into Junk also adds the message's
// fuzzy hashes to rspamd's local fuzzy storage, so a near-copy sent to another user goes to Junk, and
// a move out of Junk deletes them.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { lessonOf } from '../../src/filtering/junk-learning.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { imapflowClient } from '../helpers/imapflow.ts';
import type { TestNode } from '../helpers/node.ts';
import { LogCapture } from '../helpers/log-capture.ts';
import { submission } from '../helpers/submission.ts';
import { basicAuth, postApi } from '../jmap/jmap-client.ts';
import { RspamdClient } from '../../src/filtering/rspamd-client.ts';
import { mxClient, redisAnswers, startEngines, startFilteringNode } from './scan-engines.ts';

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
      t = await startFilteringNode(
        name,
        [
          `rspamd_controller_url = "${engines.rspamd!.controllerUrl}"`,
          `rspamd_password = "${engines.rspamd!.password}"`,
        ],
        ['alice@test.example'],
        password,
      );
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

/**
 * A spam of made-up words, twelve sentences of eight, none shared with another seed's (so neither
 * Bayes nor the fuzzy hashes, which compare chains of three words, relate two tests' messages), long
 * enough for rspamd's shingles (64 words); its last sentence is `variant`'s: near-copies differ there.
 */
function spamText(seed: string, variant: string): string {
  const sentence = (from: string) =>
    Array.from({ length: 8 }, (_, i) => {
      const h = createHash('sha256').update(`${from}:${i}`).digest();
      return Array.from(
        { length: 2 + (h[0]! % 2) },
        (_, j) => 'bdfgklmnprstvz'[h[1 + j]! % 14]! + 'aeiou'[h[5 + j]! % 5]!,
      ).join('');
    }).join(' ');
  const sentences = Array.from({ length: 11 }, (_, i) => sentence(`${seed}/${i}`));
  return `${[...sentences, sentence(`${seed}/${variant}`)].map((s) => `${s[0]!.toUpperCase()}${s.slice(1)}.`).join(' ')}`;
}

for (const name of backendNames) {
  describe(`fuzzy hashes from Junk moves on ${name}`, { skip: skipFor(name) || engines.skip || noRedis }, () => {
    let t: TestNode;
    const rspamd = () => engines.rspamd!;
    // What the node logs of its learning: named when the fuzzy storage does not get what a move reports.
    const log = new LogCapture();
    before(async () => {
      t = await startFilteringNode(
        name,
        [
          `rspamd_url = "${rspamd().url}"`,
          `rspamd_controller_url = "${rspamd().controllerUrl}"`,
          `rspamd_password = "${rspamd().password}"`,
          `fuzzy_flag = ${rspamd().fuzzyFlag}`,
        ],
        ['alice@test.example', 'bob@test.example'],
        password,
        log.logger,
      );
    });
    after(() => t?.stop());

    /** Waits for `check`, failing with the node's filtering log lines. */
    async function waitWithLog(check: () => Promise<boolean>, what: string) {
      try {
        await t.waitFor(check, what, 60_000);
      } catch (error) {
        const lines = log.lines.filter((line) => line.includes('filtering'));
        throw new Error(`${(error as Error).message}; the node's filtering log: ${lines.join(' | ') || 'nothing'}`);
      }
    }

    /** Sends the spam over SMTP as another server would, and waits for it in `folder`. */
    async function arrives(to: string, text: string, folder: string) {
      const subject = `Spring sale ${Math.random().toString(36).slice(2)}`;
      await mxClient(t).sendMail({ from: 'sales@offers.example', to, subject, text });
      return t.waitFor(
        async () => (await t.mailbox(to, folder)).find((m) => m.text.includes(subject)),
        `the message in ${to}'s ${folder}`,
      );
    }

    /** Moves every message of `from` to `to` as the user's mail client does. */
    async function move(user: string, from: string, to: string) {
      const imap = imapflowClient(t.port('imaps'), user, password);
      await imap.connect();
      try {
        await imap.mailboxOpen(from);
        await imap.messageMove('1:*', to);
      } finally {
        await imap.logout();
      }
    }

    /**
     * Whether rspamd matches `text` in the local fuzzy storage now, asked directly from 127.0.0.1 (which
     * rspamd never greylists): the storage applies what it is taught about once a second (`sync`).
     */
    async function fuzzyMatches(text: string): Promise<boolean> {
      const client = new RspamdClient({ url: new URL(rspamd().url), timeoutMs: 10_000 });
      const message = Buffer.from(`From: sales@offers.example\r\nSubject: Spring sale\r\n\r\n${text}\r\n`);
      const result = await client.check(message, {
        clientIp: '127.0.0.1',
        sender: 'sales@offers.example',
        recipients: [],
      });
      return result.symbols.some((s) => s.startsWith('LOCAL_FUZZY_DENIED('));
    }

    it("catches a near-copy of a user's reported spam, until a user says it is not spam", async () => {
      const seed = `${name}${Date.now()}`;
      const original = await arrives('alice@test.example', spamText(seed, 'first'), 'INBOX');
      assert.doesNotMatch(original.text, /LOCAL_FUZZY_DENIED/);
      await move('alice@test.example', 'INBOX', 'Junk');
      const nearCopy = spamText(seed, 'second');
      await waitWithLog(() => fuzzyMatches(nearCopy), 'the fuzzy storage holding the reported spam');

      // Another recipient, Message-ID, Date and a changed sentence: Junk, by the fuzzy hash.
      const copy = await arrives('bob@test.example', nearCopy, 'Junk');
      assert.match(
        copy.text.replace(/\r\n\t/g, ' '),
        /^X-Holdfast-Scan: rspamd score=[\d.]+ action="add header" symbols=[^;]*LOCAL_FUZZY_DENIED\(/m,
      );
      assert.match(copy.text, /^X-Spam-Flag: YES/m);

      // Bob says it is not spam: its hashes are deleted (and Bayes learns ham).
      await move('bob@test.example', 'Junk', 'INBOX');
      const later = spamText(seed, 'third');
      await waitWithLog(async () => !(await fuzzyMatches(later)), 'the fuzzy hashes deleted');
      const laterCopy = await arrives('bob@test.example', later, 'INBOX');
      assert.doesNotMatch(laterCopy.text, /LOCAL_FUZZY_DENIED/);
    });

    it('takes a message with nothing to hash as no failure, and a flag no rule learns as one', async () => {
      const client = new RspamdClient({
        controllerUrl: new URL(rspamd().controllerUrl),
        password: rspamd().password,
        timeoutMs: 10_000,
      });
      const short = Buffer.from('From: sales@offers.example\r\nSubject: Hi\r\n\r\nHi\r\n');
      assert.equal(await client.fuzzyAdd(short, rspamd().fuzzyFlag, 5), false);
      assert.equal(await client.fuzzyDelete(short, rspamd().fuzzyFlag), false);
      const long = Buffer.from(`From: sales@offers.example\r\nSubject: Hi\r\n\r\n${spamText(name, 'flag')}\r\n`);
      await assert.rejects(
        client.fuzzyAdd(long, 77, 5),
        /rspamd answered \/fuzzyadd with 404: .*No fuzzy rules matched for flag 77/,
      );
    });
  });
}

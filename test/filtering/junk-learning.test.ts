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
// rspamd logs each task (the language it read, the fuzzy hashes it found): what a failure quotes.
const engines = await startEngines({ logLevel: 'info' });
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

// Words for made-up spam in plain English. rspamd hashes a text's words as its language detection
// reads them (stemming, stop words): text of invented words was read as Afrikaans by the scanner and
// as Italian by the controller that learned it, so the learned hashes never matched.
const nouns = (
  'account action advice amount animal answer apple area army arrival artist autumn baby balance ' +
  'band bank basket battle beach bean bell bicycle bird blanket board boat body bone book border ' +
  'bottle branch bread breakfast bridge brother bucket budget building butter button cabin cable ' +
  'cake camera camp candle canvas captain card carpet castle cattle chair chance channel cheese ' +
  'cherry chicken child church circle city claim clock cloud coast coffee collar colour comfort ' +
  'company copper corner cotton country cousin cover crowd curtain customer cycle dance danger ' +
  'daughter desk dinner doctor dollar donkey drawer dream dress driver eagle earth engine evening ' +
  'event farm father feather fence field finger flower forest fountain friend fruit garden garlic ' +
  'gate glass glove goat gold grain grass guitar hammer harbour harvest hat health heart hill ' +
  'holiday honey horse hospital hotel island jacket journey kettle kitchen ladder lake lamp lawyer ' +
  'leather lemon letter library light lion market meadow metal mirror money monkey morning mountain ' +
  'museum music needle night number ocean office orange orchard oven owner paint palace paper ' +
  'parcel parent pencil pepper picture pillow planet pocket potato powder prince prison queen ' +
  'rabbit railway rain river road roof room saddle salt sand school season shadow sheep shelf ship ' +
  'shirt shoe silver singer sister skirt sleep snake snow soap soldier spoon spring square stable ' +
  'station stone storm street sugar summer table teacher temple thunder ticket tiger timber tomato ' +
  'tower town train treasure tree trumpet uncle valley village violin wagon wall water weather ' +
  'wheel window winter wood wool world yard'
).split(' ');
const adjectives =
  'quiet bright heavy gentle narrow golden silent ancient cheerful broken careful distant empty famous frozen hungry lonely modern polite rapid rough shiny simple sleepy smooth tidy tiny warm wild young clever brave busy calm eager fancy fierce grumpy happy jolly kind lively'.split(
    ' ',
  );
const verbs =
  'carries watches finds paints follows builds cleans opens closes moves visits fixes sells buys keeps lifts pulls pushes washes counts'.split(
    ' ',
  );

/**
 * A spam of twelve English sentences, its nouns, adjectives and verbs picked by `seed` (two seeds'
 * messages share hardly a pair of them, so neither Bayes nor the fuzzy hashes, which compare chains
 * of three words, relate two tests' messages), long enough for rspamd's shingles; its last sentence
 * is `variant`'s: near-copies differ there.
 */
function spamText(seed: string, variant: string): string {
  const sentence = (from: string) => {
    const h = createHash('sha256').update(from).digest();
    const pick = (list: string[], i: number) => list[h.readUInt16LE(2 * i) % list.length]!;
    return `The ${pick(adjectives, 0)} ${pick(nouns, 1)} ${pick(verbs, 2)} the ${pick(nouns, 3)} near the ${pick(adjectives, 4)} ${pick(nouns, 5)} of the ${pick(nouns, 6)}.`;
  };
  const sentences = Array.from({ length: 11 }, (_, i) => sentence(`${seed}/${i}`));
  return [...sentences, sentence(`${seed}/${variant}`)].join(' ');
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
          // One report of weight 7 scores a near-copy 7.7–8.8: clear of add_header (6), and of reject
          // (15) even beside Bayes at its most (BAYES_SPAM 5.1). At the default 5 a near-copy with one
          // sentence in twelve changed scores 6.0–7.0: Junk or INBOX by how alike rspamd's 32 shingles
          // find it.
          'fuzzy_weight = 7',
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
        throw new Error(
          `${(error as Error).message}; the node's filtering log: ${lines.join(' | ') || 'nothing'}; rspamd's log of fuzzy hashes, workers and errors:\n${rspamd().logLines(/fuzzy|part language|process \d+|terminat/i)}`,
        );
      }
    }

    /** Sends the spam over SMTP as another server would, and waits for it in `folder`. */
    async function arrives(to: string, text: string, folder: string) {
      const subject = `Spring sale ${Math.random().toString(36).slice(2)}`;
      await mxClient(t).sendMail({ from: 'sales@offers.example', to, subject, text });
      const inFolder = async (name: string) => (await t.mailbox(to, name)).find((m) => m.text.includes(subject));
      try {
        return await t.waitFor(() => inFolder(folder), `the message in ${to}'s ${folder}`);
      } catch (error) {
        // Where it went instead, and what rspamd made of it.
        for (const other of ['INBOX', 'Junk']) {
          const found = await inFolder(other);
          const scan = found?.text.match(/^X-Holdfast-Scan:.*(\r\n[ \t].*)*/m)?.[0].replace(/\r\n[ \t]+/g, ' ');
          if (found) throw new Error(`${(error as Error).message}: it is in ${other}; ${scan ?? 'not scanned'}`);
        }
        throw error;
      }
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

// Spam and malware filtering at SMTP intake against a real rspamd and a real clamd, both started by
// the test (scan-engines.ts): the actions and their replies, Junk with $Junk, quarantine by a tenant's
// threshold, malware refused by signature, allow and block lists; on SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import libmime from 'libmime';
import { addListEntry } from '../../src/filtering/sender-lists.ts';
import { activateScript, putScript } from '../../src/sieve/sieve-scripts.ts';
import { listQuarantine } from '../../src/filtering/quarantine.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { imapflowClient } from '../helpers/imapflow.ts';
import type { TestNode } from '../helpers/node.ts';
import {
  eicarAttachment,
  eicarSignature,
  gtubeAddHeader,
  gtubeReject,
  startEngines,
  startFilteringNode,
  mxClient,
} from './scan-engines.ts';

const password = 'Wonderland-42';
// Started once for the file (both backends use them); a daemon that does not come up skips the tests.
const engines = await startEngines();
after(() => engines.stop());

for (const name of backendNames) {
  describe(`spam and malware filtering at intake on ${name}`, { skip: skipFor(name) || engines.skip }, () => {
    let t: TestNode;
    before(async () => {
      const { rspamd, clamd } = engines;
      assert.ok(rspamd && clamd);
      t = await startFilteringNode(
        name,
        [
          `rspamd_url = "${rspamd!.url}"`,
          `clamd = "${clamd!.address}"`,
          'quarantine_score = 12',
          '[filtering.tenant.strict]',
          'quarantine_score = 8',
        ],
        ['alice@test.example', 'bob@test.example'],
        password,
      );
      await t.node.holdfast.directory.addTenant({ name: 'strict' });
      const strict = await t.node.holdfast.directory.tenant('strict');
      await strict.addDomain('strict.example');
      await strict.addPrincipal({ kind: 'user', address: 'sam@strict.example', password });
    });
    after(() => t?.stop());

    it('delivers clean mail to the INBOX with what the scanners said', async () => {
      const info = await mxClient(t).sendMail({
        from: 'friend@remote.example',
        to: 'alice@test.example',
        subject: 'clean one',
        text: 'Lunch on Thursday?',
      });
      assert.match(info.response, /^250 2\.0\.0 Ok: queued as \d+$/);
      const message = await t.waitFor(
        async () => (await t.mailbox('alice@test.example')).find((m) => m.text.includes('clean one')),
        'the clean message in the INBOX',
      );
      assert.match(message.text, /^X-Holdfast-Scan: rspamd score=-?[\d.]+ action="no action"/m);
      assert.match(message.text, /clamav clean/);
      assert.doesNotMatch(message.text, /X-Spam-Flag/);
    });

    it("refuses what rspamd rejects with 550 5.7.1 and rspamd's reason", async () => {
      await assert.rejects(
        mxClient(t).sendMail({
          from: 'spammer@remote.example',
          to: 'alice@test.example',
          subject: 'buy',
          text: gtubeReject,
        }),
        (error: Error & { response?: string }) => {
          assert.match(error.response ?? '', /^550 5\.7\.1 Message rejected as spam \(score [\d.]+\): Gtube pattern/);
          return true;
        },
      );
    });

    it('defers a soft reject with 451 4.7.1', async () => {
      await assert.rejects(
        mxClient(t).sendMail({
          from: 'bulk@remote.example',
          to: 'alice@test.example',
          subject: 'later',
          text: 'hello',
          headers: { 'X-Holdfast-Test-Action': 'soft reject' },
        }),
        (error: Error & { response?: string }) => {
          assert.match(error.response ?? '', /^451 4\.7\.1 Message deferred by the spam filter \(soft reject\)/);
          return true;
        },
      );
    });

    it('delivers "add header" spam to Junk with $Junk', async () => {
      await mxClient(t).sendMail({
        from: 'ads@remote.example',
        to: 'bob@test.example',
        subject: 'offer',
        text: gtubeAddHeader,
      });
      const junk = await t.waitFor(
        async () => (await t.mailbox('bob@test.example', 'Junk')).find((m) => m.text.includes('offer')),
        'the spam in Junk',
      );
      assert.match(junk.flags, /\$Junk/);
      assert.match(junk.text, /^X-Spam-Flag: YES\r$/m);
      assert.equal((await t.mailbox('bob@test.example')).filter((m) => m.text.includes('offer')).length, 0);
    });

    it('writes the subject rspamd gives for "rewrite subject" on the Junk copy only, encoded', async () => {
      const { db } = t.node.holdfast.store;
      const tenant = await t.node.holdfast.directory.getTenant('default');
      const alice = (await t.node.holdfast.directory.resolveAddress('alice@test.example'))!.principal;
      await addListEntry(
        db,
        { tenantId: tenant.id, principalId: alice.id, list: 'allow', sender: 'promo@friendly.example' },
        Date.now(),
      );
      await mxClient(t).sendMail({
        from: 'promo@friendly.example',
        to: ['alice@test.example', 'bob@test.example'],
        subject: 'Grüße aus Köln',
        text: 'Our prices',
        headers: { 'X-Holdfast-Test-Action': 'rewrite subject' },
      });
      const subjectsOf = (text: string) =>
        [...text.split('\r\n\r\n')[0]!.matchAll(/^Subject:(.*(?:\r\n[ \t].*)*)/gim)].map((m) =>
          libmime.decodeWords(m[1]!.replace(/\r\n/g, '').trim()),
        );
      const junk = await t.waitFor(
        async () => (await t.mailbox('bob@test.example', 'Junk')).find((m) => m.text.includes('Our prices')),
        "bob's copy in Junk",
      );
      assert.match(junk.text, /action="rewrite subject"/);
      assert.deepEqual(subjectsOf(junk.text), ['*** SPAM *** Grüße aus Köln']);
      // Encoded words (RFC 2047), never raw 8-bit, in lines within 78 characters.
      const field = /^Subject:.*(?:\r\n[ \t].*)*/m.exec(junk.text)![0];
      assert.match(field, /=\?UTF-8\?Q\?/);
      assert.doesNotMatch(field, /[^\x00-\x7f]/);
      for (const line of field.split('\r\n')) assert.ok(line.length <= 78, line);
      // The body is unchanged, and the IMAP envelope reads the new subject.
      assert.match(junk.text, /\r\n\r\nOur prices/);
      const imap = imapflowClient(t.port('imaps'), 'bob@test.example', password);
      await imap.connect();
      try {
        await imap.mailboxOpen('Junk');
        const subjects: string[] = [];
        for await (const m of imap.fetch('1:*', { envelope: true })) subjects.push(m.envelope?.subject ?? '');
        assert.ok(subjects.includes('*** SPAM *** Grüße aus Köln'), JSON.stringify(subjects));
      } finally {
        await imap.logout();
      }
      // alice allows the sender: her copy is in her INBOX with the sender's subject.
      const kept = await t.waitFor(
        async () => (await t.mailbox('alice@test.example')).find((m) => m.text.includes('Our prices')),
        "alice's copy in her INBOX",
      );
      assert.deepEqual(subjectsOf(kept.text), ['Grüße aus Köln']);
    });

    it('keeps spam in Junk for a user whose Sieve rules keep it, and drops scan headers a sender wrote', async () => {
      const tenant = await t.node.holdfast.directory.tenant('default');
      const carol = await tenant.addPrincipal({ kind: 'user', address: 'carol@test.example', password });
      const { db } = t.node.holdfast.store;
      await putScript(
        db,
        carol.id,
        'rules',
        'require "fileinto";\nif header :contains "subject" "report" { fileinto "INBOX"; }\n',
        Date.now(),
      );
      await activateScript(db, carol.id, 'rules', Date.now());
      await mxClient(t).sendMail({
        from: 'ads@remote.example',
        to: 'carol@test.example',
        subject: 'sieve keeps',
        text: gtubeAddHeader,
        headers: { 'X-Spam-Flag': 'NO', 'X-Holdfast-Scan': 'clean, trust me' },
      });
      const junk = await t.waitFor(
        async () => (await t.mailbox('carol@test.example', 'Junk')).find((m) => m.text.includes('sieve keeps')),
        "carol's spam in Junk",
      );
      assert.match(junk.flags, /\$Junk/);
      assert.doesNotMatch(junk.text, /X-Spam-Flag: NO|trust me/);
    });

    it("quarantines by each recipient's tenant threshold", async () => {
      await mxClient(t).sendMail({
        from: 'promo@remote.example',
        to: ['alice@test.example', 'sam@strict.example'],
        subject: 'scored nine',
        text: 'a promotion',
        headers: { 'X-Holdfast-Test-Score': '9' },
      });
      // 9 is under the default quarantine_score (12): alice's copy goes to Junk; strict's is 8: held.
      await t.waitFor(
        async () => (await t.mailbox('alice@test.example', 'Junk')).find((m) => m.text.includes('scored nine')),
        "alice's copy in Junk",
      );
      const strict = await t.node.holdfast.directory.getTenant('strict');
      const held = await listQuarantine(t.node.holdfast.store.db, { tenantId: strict.id });
      assert.equal(held.length, 1);
      assert.equal(held[0]!.recipient, 'sam@strict.example');
      assert.equal(held[0]!.reason, 'spam');
      assert.ok(held[0]!.score! >= 8.5, `score ${held[0]!.score}`);
      assert.match(held[0]!.detail, /HOLDFAST_TEST_SCORE\(9\)/);
      assert.equal((await t.mailbox('sam@strict.example')).length, 0);
      assert.equal((await t.mailbox('sam@strict.example', 'Junk')).length, 0);
    });

    it('refuses malware with 554 5.7.1 naming the signature (EICAR)', async () => {
      await assert.rejects(
        mxClient(t).sendMail({
          from: 'worm@remote.example',
          to: 'alice@test.example',
          subject: 'invoice',
          text: 'see attached',
          attachments: [eicarAttachment()],
        }),
        (error: Error & { response?: string }) => {
          assert.equal(error.response, `554 5.7.1 Message rejected: it contains malware (${eicarSignature})`);
          return true;
        },
      );
      assert.equal((await t.mailbox('alice@test.example')).filter((m) => m.text.includes('invoice')).length, 0);
    });

    it("honours a user's allow and block lists before the verdict", async () => {
      const { db } = t.node.holdfast.store;
      const tenant = await t.node.holdfast.directory.getTenant('default');
      const bob = (await t.node.holdfast.directory.resolveAddress('bob@test.example'))!.principal;
      await addListEntry(
        db,
        { tenantId: tenant.id, principalId: bob.id, list: 'allow', sender: 'partner.example' },
        Date.now(),
      );
      await addListEntry(
        db,
        { tenantId: tenant.id, principalId: bob.id, list: 'block', sender: 'pest@remote.example' },
        Date.now(),
      );
      // rspamd would reject this; bob allows the sender's domain, so it is his INBOX's.
      await mxClient(t).sendMail({
        from: 'news@partner.example',
        to: 'bob@test.example',
        subject: 'allowed',
        text: gtubeReject,
      });
      await t.waitFor(
        async () => (await t.mailbox('bob@test.example')).find((m) => m.text.includes('allowed')),
        'the allowed message in the INBOX',
      );
      // Clean by rspamd, but bob blocked the sender: Junk.
      await mxClient(t).sendMail({
        from: 'pest@remote.example',
        to: 'bob@test.example',
        subject: 'blocked',
        text: 'hi again',
      });
      await t.waitFor(
        async () => (await t.mailbox('bob@test.example', 'Junk')).find((m) => m.text.includes('blocked')),
        'the blocked message in Junk',
      );
    });
  });
}

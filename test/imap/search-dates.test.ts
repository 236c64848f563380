// SEARCH by date (RFC 3501 §6.4.4): SENTBEFORE/SENTON/SENTSINCE compare the day of the Date: header in
// its own zone, BEFORE/ON/SINCE the day of the internal date (Holdfast keeps internal dates in UTC, as
// Dovecot does on a server whose zone is UTC); the time of day never matters.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';

// Sent on the 24th, 25th and 26th of March in +0200; the last two are the 25th in UTC.
const messages = [
  { date: 'Sat, 24 Mar 2007 10:00:00 +0200', internal: '24-Mar-2007 10:00:00 +0000' },
  { date: 'Sun, 25 Mar 2007 23:30:00 +0200', internal: '25-Mar-2007 23:30:00 +0000' },
  { date: 'Mon, 26 Mar 2007 00:30:00 +0200', internal: '26-Mar-2007 00:30:00 +0000' },
];

for (const name of backendNames) {
  describe(`IMAP SEARCH by date on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let talk: ImapTalk;
    before(async () => {
      t = await startTestNode(name);
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'dana@test.example', password });
      ({ talk } = await ImapTalk.open(t.port('imaps'), { tls: true }));
      await talk.login('dana@test.example', password);
      await talk.command('CREATE Dates');
      for (const [i, m] of messages.entries()) {
        const text = `From: a@test.example\r\nDate: ${m.date}\r\nSubject: dated ${i + 1}\r\n\r\nBody ${i + 1}\r\n`;
        talk.write(`a${i} APPEND Dates "${m.internal}" {${text.length}+}\r\n${text}\r\n`);
        assert.match(await talk.response(`a${i}`), /OK/);
      }
      await talk.command('SELECT Dates');
    });
    after(async () => {
      talk.close();
      await t.stop();
    });

    const search = async (criteria: string) => /\* SEARCH([\d ]*)\r\n/.exec(await talk.command(`SEARCH ${criteria}`))?.[1]?.trim();

    it('compares the Date: header in its own zone', async () => {
      assert.equal(await search('SENTBEFORE 25-Mar-2007'), '1');
      assert.equal(await search('SENTON 25-Mar-2007'), '2');
      assert.equal(await search('SENTSINCE 25-Mar-2007'), '2 3');
      assert.equal(await search('SENTON 26-Mar-2007'), '3');
    });

    it('compares the internal date by its day', async () => {
      assert.equal(await search('BEFORE 25-Mar-2007'), '1');
      assert.equal(await search('ON 25-Mar-2007'), '2');
      assert.equal(await search('SINCE 25-Mar-2007'), '2 3');
      assert.equal(await search('ON 26-Mar-2007'), '3');
    });
  });
}

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMailDns } from '../../src/flow/dns.ts';
import { DnsStub } from '../helpers/dns-stub.ts';

describe('DNS for mail', () => {
  let dns: DnsStub;
  before(async () => {
    dns = await new DnsStub().start();
  });
  after(() => dns.stop());

  it('keeps answers and missing names for a minute, and asks once for concurrent lookups', async () => {
    let clock = 1_000_000;
    const mail = createMailDns([dns.server], () => clock);
    dns.set('sender.example', { TXT: ['v=spf1 -all'] });
    const asked = (question: string) => dns.questions.filter((q) => q === question).length;

    const answers = await Promise.all([1, 2, 3].map(() => mail.resolve('sender.example', 'TXT')));
    assert.deepEqual(answers, [[['v=spf1 -all']], [['v=spf1 -all']], [['v=spf1 -all']]]);
    assert.equal(asked('TXT sender.example'), 1, 'one query for three concurrent lookups');

    dns.set('sender.example', { TXT: ['v=spf1 ~all'] });
    assert.deepEqual(
      await mail.resolve('SENDER.example', 'TXT'),
      [['v=spf1 -all']],
      'a cached answer, whatever the case of the name',
    );
    await assert.rejects(mail.resolve('_dmarc.sender.example', 'TXT'), { code: 'ENOTFOUND' });
    await assert.rejects(mail.resolve('_dmarc.sender.example', 'TXT'), { code: 'ENOTFOUND' });
    assert.equal(asked('TXT _dmarc.sender.example'), 1, 'a missing name is remembered too');

    clock += 61_000;
    assert.deepEqual(await mail.resolve('sender.example', 'TXT'), [['v=spf1 ~all']], 'asked again after a minute');
    assert.equal(asked('TXT sender.example'), 2);
  });

  it('does not keep a failure to get an answer', async () => {
    const mail = createMailDns([dns.server], () => 0);
    dns.set('later.example', { MX: [{ exchange: 'mx.later.example', priority: 5 }] });
    dns.failing.add('later.example');
    await assert.rejects(mail.resolveMx('later.example'), { code: 'ESERVFAIL' });
    dns.failing.delete('later.example');
    assert.deepEqual(await mail.resolveMx('later.example'), [{ exchange: 'mx.later.example', priority: 5 }]);
  });
});

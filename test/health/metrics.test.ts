// GET /metrics as Prometheus scrapes it: the named series exist and move with real traffic.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { ImapTalk } from '../helpers/imap-talk.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';

const password = 'Wonderland-42';

describe('metrics', () => {
  let t: TestNode;
  before(async () => {
    t = await startTestNode('sqlite', { toml: '[queue]\npoll_interval = "100ms"\n' });
    const tenant = await t.node.holdfast.directory.tenant('default');
    await tenant.addPrincipal({ kind: 'user', address: 'hana@test.example', password });
  });
  after(() => t.stop());

  const scrape = async () => {
    const response = await fetch(`http://127.0.0.1:${t.port('http')}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
    return response.text();
  };

  it('counts deliveries, accept latency, sessions and the queue', async () => {
    const { talk } = await ImapTalk.open(t.port('imaps'), { tls: true });
    await talk.login('hana@test.example', password);
    await nodemailer
      .createTransport({ host: '127.0.0.1', port: t.port('smtp'), secure: false, ignoreTLS: true })
      .sendMail({ from: 'someone@elsewhere.example', to: 'hana@test.example', subject: 'Counted', text: 'one' });
    await t.waitFor(async () => (await t.mailbox('hana@test.example')).length === 1, 'the delivery');

    const propfind = await fetch(`http://127.0.0.1:${t.port('http')}/dav/calendars/hana@test.example/`, {
      method: 'PROPFIND',
      headers: {
        Depth: '0',
        Authorization: `Basic ${Buffer.from(`hana@test.example:${password}`).toString('base64')}`,
      },
    });
    assert.equal(propfind.status, 207);
    const text = await t.waitFor(async () => {
      const body = await scrape();
      return body.includes('holdfast_delivery_outcomes_total{outcome="delivered",route="local",code="250"} 1') && body;
    }, 'the delivery counted');
    assert.match(text, /^holdfast_accept_latency_seconds_count 1$/m);
    assert.match(text, /^holdfast_delivery_latency_seconds_count\{route="local"\} 1$/m);
    assert.match(text, /^holdfast_sessions\{protocol="imap"\} 1$/m);
    assert.match(text, /^holdfast_sessions\{protocol="pop3"\} 0$/m);
    assert.match(text, /^holdfast_sessions\{protocol="smtp"\} \d+$/m);
    assert.match(text, /^holdfast_forest_connections\{forest="default",kind="limit"\} \d+$/m);
    assert.match(text, /^holdfast_queue_oldest_age_seconds 0$/m);
    assert.match(text, /^# TYPE holdfast_queue_recipients gauge$/m);
    assert.match(text, /^holdfast_process_resident_memory_bytes \d+/m);
    assert.match(text, /^holdfast_caldav_requests_total\{method="PROPFIND",status="207"\} 1$/m);
    talk.close();
  });
});

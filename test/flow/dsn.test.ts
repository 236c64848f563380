// Delivery status notifications (RFC 3464 in a multipart/report, RFC 6522): the parts and their
// order, the per-message and per-recipient fields of message/delivery-status, RET=HDRS versus
// RET=FULL (RFC 3461), status codes taken from the reply, and which NOTIFY values ask for a notice.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { buildDsn, statusOf, wantsNotice, type DsnInput } from '../../src/flow/queue/dsn.ts';
import { parseHeaderLines, parseMimeTree } from '../../src/message/mime-tree.ts';
import type { BlobStore } from '../../src/store/blobs/blob-store.ts';
import { bodyOf } from '../helpers/mime-samples.ts';

const original =
  'From: Sender <sender@example.org>\r\nTo: bob@remote.example\r\nSubject: Quarterly numbers\r\n\r\nThe numbers are attached.\r\n';
const prefix = 'Received: from client.example.org by mx.holdfast.example\r\n';

/** A blob store holding the one original message. */
const blobs = {
  open: (hash: string) => {
    assert.equal(hash, 'original-hash');
    return Readable.from([Buffer.from(original)]);
  },
} as unknown as BlobStore;

const arrived = Date.UTC(2026, 0, 5, 10, 0, 0);

function input(overrides: Partial<DsnInput> = {}, ret: string | null = null, envid: string | null = null): DsnInput {
  return {
    kind: 'failed',
    hostname: 'mx.holdfast.example',
    sender: 'sender@example.org',
    original: { prefix, blobHash: 'original-hash', envid, ret, receivedAt: arrived },
    recipients: [
      {
        recipient: 'bob@remote.example',
        orcpt: 'rfc822;Bob@Remote.example',
        reply: '550 5.1.1 <bob@remote.example>: no such user',
        remoteMta: 'mx1.remote.example',
        lastAttemptAt: arrived + 60_000,
      },
      { recipient: 'carol@remote.example', orcpt: null, reply: null, lastAttemptAt: null },
    ],
    now: arrived + 120_000,
    ...overrides,
  };
}

async function notice(dsn: DsnInput): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of buildDsn(blobs, dsn)) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** The notice parsed: its header fields, its parts, and the field groups of its delivery-status part. */
async function read(dsn: DsnInput) {
  const source = await notice(dsn);
  const tree = parseMimeTree(source);
  const header = parseHeaderLines(source.subarray(0, tree.bodyStart).toString('latin1'));
  const parts = tree.children ?? [];
  const status = bodyOf(source, parts[1])!;
  const [perMessage, ...perRecipient] = status
    .split(/\r\n\r\n/)
    .filter((group) => group.trim())
    .map((group) => parseHeaderLines(group));
  return {
    source,
    tree,
    header: new Map(header),
    parts,
    perMessage: new Map(perMessage),
    perRecipient: perRecipient.map((fields) => new Map(fields)),
    bodyOf: (i: number) => bodyOf(source, parts[i])!,
  };
}

describe('DSN structure (RFC 6522, RFC 3464 §2)', () => {
  it('is a multipart/report of delivery-status with three parts: text, delivery-status, original headers', async () => {
    const dsn = await read(input());
    assert.equal(`${dsn.tree.type}/${dsn.tree.subtype}`, 'multipart/report');
    assert.equal(dsn.tree.params['report-type'], 'delivery-status');
    assert.deepEqual(
      dsn.parts.map((p) => `${p.type}/${p.subtype}`),
      ['text/plain', 'message/delivery-status', 'text/rfc822-headers'],
    );
  });

  it('comes from MAILER-DAEMON, goes to the envelope sender, and is marked auto-replied (RFC 3834)', async () => {
    const { header } = await read(input());
    assert.match(header.get('from')!, /<MAILER-DAEMON@mx\.holdfast\.example>/);
    assert.equal(header.get('to'), '<sender@example.org>');
    assert.equal(header.get('auto-submitted'), 'auto-replied');
    assert.equal(header.get('mime-version'), '1.0');
    assert.match(header.get('message-id')!, /^<[^<>@]+@mx\.holdfast\.example>$/);
    assert.ok(!Number.isNaN(Date.parse(header.get('date')!)));
  });

  it('names each recipient and its reply in the human-readable part', async () => {
    const dsn = await read(input());
    assert.match(dsn.bodyOf(0), /<bob@remote\.example>: 550 5\.1\.1/);
    assert.match(dsn.bodyOf(0), /<carol@remote\.example>: delivery failed/);
  });

  it('uses CRLF line ends only, and a boundary that no line of the content starts with', async () => {
    const dsn = await read(input());
    const text = dsn.source.toString('latin1');
    assert.ok(!/[^\r]\n/.test(text), 'a bare LF');
    assert.ok(text.endsWith(`--${dsn.tree.params.boundary}--\r\n`));
    assert.ok(!original.includes(dsn.tree.params.boundary!));
  });

  it('uses a new boundary and Message-ID each time', async () => {
    const [a, b] = await Promise.all([read(input()), read(input())]);
    assert.notEqual(a.tree.params.boundary, b.tree.params.boundary);
    assert.notEqual(a.header.get('message-id'), b.header.get('message-id'));
  });
});

describe('message/delivery-status fields (RFC 3464 §2.2, §2.3)', () => {
  it('starts with the per-message fields: Reporting-MTA, Original-Envelope-Id with ENVID, Arrival-Date', async () => {
    const { perMessage } = await read(input({}, null, 'QQ314159'));
    assert.equal(perMessage.get('reporting-mta'), 'dns; mx.holdfast.example');
    assert.equal(perMessage.get('original-envelope-id'), 'QQ314159');
    assert.equal(Date.parse(perMessage.get('arrival-date')!), arrived);
    assert.equal((await read(input())).perMessage.has('original-envelope-id'), false, 'none without ENVID');
  });

  it('gives each recipient a group with Final-Recipient, Action and Status', async () => {
    const { perRecipient } = await read(input());
    assert.equal(perRecipient.length, 2);
    assert.deepEqual(
      perRecipient.map((fields) => [fields.get('final-recipient'), fields.get('action'), fields.get('status')]),
      [
        ['rfc822; bob@remote.example', 'failed', '5.1.1'],
        ['rfc822; carol@remote.example', 'failed', '5.0.0'],
      ],
    );
  });

  it('adds Original-Recipient from ORCPT, Remote-MTA, Diagnostic-Code and Last-Attempt-Date when known', async () => {
    const [bob, carol] = (await read(input())).perRecipient;
    assert.equal(bob!.get('original-recipient'), 'rfc822;Bob@Remote.example');
    assert.equal(bob!.get('remote-mta'), 'dns; mx1.remote.example');
    assert.equal(bob!.get('diagnostic-code'), 'smtp; 550 5.1.1 <bob@remote.example>: no such user');
    assert.equal(Date.parse(bob!.get('last-attempt-date')!), arrived + 60_000);
    for (const name of ['original-recipient', 'remote-mta', 'diagnostic-code', 'last-attempt-date', 'will-retry-until'])
      assert.equal(carol!.has(name), false, name);
  });

  it('types an ORCPT given without its address type as rfc822', async () => {
    const dsn = input();
    dsn.recipients[0]!.orcpt = 'bob@remote.example';
    assert.equal((await read(dsn)).perRecipient[0]!.get('original-recipient'), 'rfc822; bob@remote.example');
  });

  it('keeps a multi-line reply in one Diagnostic-Code field', async () => {
    const dsn = input();
    dsn.recipients[0]!.reply = '550-5.7.1 Message rejected\r\n550 5.7.1 See https://remote.example/policy';
    const { perRecipient, bodyOf: partBody } = await read(dsn);
    assert.equal(
      perRecipient[0]!.get('diagnostic-code'),
      'smtp; 550-5.7.1 Message rejected 550 5.7.1 See https://remote.example/policy',
    );
    assert.equal(perRecipient[0]!.get('status'), '5.7.1');
    assert.equal(
      partBody(1)
        .split('\r\n')
        .filter((l) => l.startsWith('550 ')).length,
      0,
      'no line of the reply stands alone as a field',
    );
  });

  it('reports a delay with Action: delayed, a 4.x.x status and Will-Retry-Until', async () => {
    const retryUntil = arrived + 5 * 86_400_000;
    const dsn = input({
      kind: 'delayed',
      retryUntil,
      recipients: [
        {
          recipient: 'bob@remote.example',
          orcpt: null,
          reply: '451 4.7.1 Try again later',
          lastAttemptAt: arrived + 60_000,
        },
      ],
    });
    const { header, perRecipient, bodyOf: partBody } = await read(dsn);
    assert.match(header.get('subject')!, /delayed/i);
    assert.equal(perRecipient[0]!.get('action'), 'delayed');
    assert.equal(perRecipient[0]!.get('status'), '4.7.1');
    assert.equal(Date.parse(perRecipient[0]!.get('will-retry-until')!), retryUntil);
    assert.match(partBody(0), /not been delivered yet/);
  });

  it('never gives a failure notice Will-Retry-Until', async () => {
    const { perRecipient } = await read(input({ retryUntil: arrived + 86_400_000 }));
    assert.ok(perRecipient.every((fields) => !fields.has('will-retry-until')));
  });
});

describe('The returned content (RET, RFC 3461 §4.3)', () => {
  it('returns only the header section, prefix included, as text/rfc822-headers for RET=HDRS or no RET', async () => {
    for (const ret of [null, 'HDRS']) {
      const dsn = await read(input({}, ret));
      assert.equal(`${dsn.parts[2]!.type}/${dsn.parts[2]!.subtype}`, 'text/rfc822-headers', String(ret));
      const returned = dsn.bodyOf(2);
      assert.ok(returned.startsWith(prefix), String(ret));
      assert.ok(returned.includes('Subject: Quarterly numbers'));
      assert.ok(!returned.includes('The numbers are attached.'), 'no body');
    }
  });

  it('returns the whole message, prefix included, as message/rfc822 for RET=FULL', async () => {
    const dsn = await read(input({}, 'FULL'));
    const part = dsn.parts[2]!;
    assert.equal(`${part.type}/${part.subtype}`, 'message/rfc822');
    assert.equal(dsn.bodyOf(2), prefix + original);
    assert.equal(part.message?.envelope.subject, 'Quarterly numbers');
  });
});

describe('Status codes from replies', () => {
  it('takes the enhanced status code of the reply (RFC 3463), single- or multi-line', () => {
    assert.equal(statusOf('550 5.1.1 no such user', 'failed'), '5.1.1');
    assert.equal(statusOf('552-5.2.2 mailbox full\r\n552 5.2.2 try later', 'failed'), '5.2.2');
    assert.equal(statusOf('451 4.4.1 timeout', 'delayed'), '4.4.1');
    assert.equal(statusOf('550 5.7.26 DMARC', 'failed'), '5.7.26');
  });

  it('falls back to the generic code of the notice kind without one', () => {
    assert.equal(statusOf(null, 'failed'), '5.0.0');
    assert.equal(statusOf('550 no such user', 'failed'), '5.0.0');
    assert.equal(statusOf('connection refused', 'delayed'), '4.0.0');
    assert.equal(statusOf('550 5.1 incomplete', 'failed'), '5.0.0');
  });
});

describe('Which notices the sender asked for (NOTIFY, RFC 3461 §4.1)', () => {
  it('sends failures by default, and delays too', () => {
    assert.equal(wantsNotice(null, 'failed'), true);
    assert.equal(wantsNotice(null, 'delayed'), true);
  });

  it('follows NOTIFY in any case, NEVER excluding everything', () => {
    assert.equal(wantsNotice('NEVER', 'failed'), false);
    assert.equal(wantsNotice('never', 'delayed'), false);
    assert.equal(wantsNotice('SUCCESS', 'failed'), false);
    assert.equal(wantsNotice('SUCCESS,DELAY', 'delayed'), true);
    assert.equal(wantsNotice('SUCCESS,DELAY', 'failed'), false);
    assert.equal(wantsNotice('failure', 'failed'), true);
    assert.equal(wantsNotice('FAILURE', 'delayed'), false);
  });
});

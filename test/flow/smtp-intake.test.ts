import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import type { TenantDirectory } from '../../src/directory/tenant-directory.ts';
import { usedBytes } from '../../src/mailbox/folders.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { plainAuth, SmtpTalk } from '../helpers/smtp-talk.ts';
import { submission } from '../helpers/submission.ts';

const password = 'Wonderland-42';
const message = (from: string, to: string, subject: string, extra = '') =>
  `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\n${extra}\r\nHello.\r\n`;

async function session(t: TestNode, port = 'smtp') {
  const { talk, greeting } = await SmtpTalk.open(t.port(port));
  assert.match(greeting, /^220 /);
  await talk.send('EHLO client.example');
  return talk;
}

for (const name of backendNames) {
  describe(`SMTP intake on ${name}`, { skip: skipFor(name) }, () => {
    let t: TestNode;
    let tenant: TenantDirectory;
    before(async () => {
      t = await startTestNode(name, {
        toml: '[smtp]\nmax_message_size = "20KB"\nmax_recipients = 3\nmax_connections_per_ip = 4\n[limits]\nmessages_per_minute = 3\nauth_failures = 3\n[tenant_limits.bulk]\nmax_recipients = 5\nmax_message_size = "2KB"\n',
      });
      tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
      await tenant.addPrincipal({ kind: 'user', address: 'bob@test.example', password });
      await tenant.addPrincipal({ kind: 'user', address: 'carol@test.example', password, quotaBytes: 100_000 });
      await tenant.addAlias('al@test.example', 'alice@test.example');
      await tenant.addPrincipal({ kind: 'group', address: 'team@test.example' });
      await tenant.addGroupMember('team@test.example', 'al@test.example');
      await tenant.addGroupMember('team@test.example', 'bob@test.example');
      await tenant.addPrincipal({ kind: 'group', address: 'all@test.example' });
      await tenant.addGroupMember('all@test.example', 'team@test.example');
      await tenant.addGroupMember('all@test.example', 'alice@test.example');
    });
    after(() => t.stop());

    it('advertises the ESMTP extensions', async () => {
      const talk = await session(t);
      const ehlo = await talk.send('EHLO again.example');
      for (const extension of [
        'PIPELINING',
        '8BITMIME',
        'SMTPUTF8',
        'ENHANCEDSTATUSCODES',
        'DSN',
        'STARTTLS',
        'SIZE 20000',
      ])
        assert.match(ehlo, new RegExp(`250[- ]${extension}`));
      assert.doesNotMatch(ehlo, /AUTH/, 'no AUTH on the MX port');
      talk.close();
    });

    it('accepts mail for local users and delivers it with Received and Authentication-Results', async () => {
      const client = nodemailer.createTransport({
        host: '127.0.0.1',
        port: t.port('smtp'),
        secure: false,
        tls: { rejectUnauthorized: false },
      });
      const info = await client.sendMail({
        from: 'sender@remote.example',
        to: 'alice@test.example',
        subject: 'hello alice',
        text: 'Hi!',
      });
      assert.match(info.response, /^250 2\.0\.0 Ok: queued as \d+/);
      const inbox = await t.waitFor(
        async () => (await t.mailbox('alice@test.example')).find((m) => m.text.includes('hello alice')),
        'delivery to alice',
      );
      assert.match(
        inbox.text,
        /^Return-Path: <sender@remote\.example>\r\nDelivered-To: alice@test\.example\r\nReceived: from \[127\.0\.0\.1\] \(\[127\.0\.0\.1\]\)\r\n\tby mail\.test\.example \(Holdfast\) with ESMTPS id /,
      );
      assert.match(inbox.text, /Authentication-Results: mail\.test\.example;/);
      assert.match(inbox.text, /spf=none/);
    });

    it('refuses unknown local recipients and relaying, with precise replies', async () => {
      const talk = await session(t);
      assert.equal(await talk.send('MAIL FROM:<sender@remote.example>'), '250 2.1.0 Accepted');
      assert.equal(
        await talk.send('RCPT TO:<nobody@test.example>'),
        '550 5.1.1 <nobody@test.example>: Recipient address rejected: no such user here',
      );
      assert.equal(
        await talk.send('RCPT TO:<someone@elsewhere.example>'),
        '550 5.7.1 <someone@elsewhere.example>: Unable to relay; authenticate on the submission port to send to other domains',
      );
      // A domain that is an IP address is no domain of ours either: relaying, not an error.
      assert.equal(
        await talk.send('RCPT TO:<x@192.0.2.1>'),
        '550 5.7.1 <x@192.0.2.1>: Unable to relay; authenticate on the submission port to send to other domains',
      );
      talk.close();
    });

    it('expands aliases, plus-addresses and nested groups, delivering once per mailbox', async () => {
      const talk = await session(t);
      await talk.send('MAIL FROM:<sender@remote.example>');
      assert.match(await talk.send('RCPT TO:<all@test.example>'), /^250/);
      assert.match(await talk.send('RCPT TO:<bob+lists@test.example>'), /^250/);
      assert.match(
        await talk.data(message('sender@remote.example', 'all@test.example', 'to everyone')),
        /^250 2\.0\.0 Ok: queued as \d+/,
      );
      talk.close();
      for (const user of ['alice@test.example', 'bob@test.example']) {
        await t.waitFor(
          async () => (await t.mailbox(user)).some((m) => m.text.includes('to everyone')),
          `delivery to ${user}`,
        );
      }
      await t.waitFor(async () => {
        const rows = await t.node.holdfast.store.db
          .selectFrom('queue_recipients')
          .select('state')
          .where('original_recipient', 'in', ['all@test.example', 'bob+lists@test.example'])
          .execute();
        return rows.every((r) => r.state === 'delivered');
      }, 'all copies delivered');
      assert.equal(
        (await t.mailbox('alice@test.example')).filter((m) => m.text.includes('to everyone')).length,
        1,
        'alice gets one copy',
      );
      // bob is reached by the group and by his plus-address: one queue recipient, one copy (as Postfix).
      assert.equal(
        (await t.mailbox('bob@test.example')).filter((m) => m.text.includes('to everyone')).length,
        1,
        'bob gets one copy',
      );
      const bobRecipients = await t.node.holdfast.store.db
        .selectFrom('queue_recipients')
        .select('original_recipient')
        .where('recipient', '=', 'bob@test.example')
        .where('original_recipient', 'in', ['all@test.example', 'bob+lists@test.example'])
        .execute();
      assert.deepEqual(
        bobRecipients.map((r) => r.original_recipient),
        ['all@test.example'],
        'the first RCPT that reached him stands',
      );
    });

    it('limits recipients per message and message size', async () => {
      const talk = await session(t);
      await talk.send('MAIL FROM:<sender@remote.example>');
      for (const user of ['alice', 'bob', 'carol'])
        assert.match(await talk.send(`RCPT TO:<${user}@test.example>`), /^250/);
      assert.equal(
        await talk.send('RCPT TO:<al@test.example>'),
        '452 4.5.3 Too many recipients (at most 3 per message); send the rest in another message',
      );
      await talk.send('RSET');
      assert.match(await talk.send('MAIL FROM:<sender@remote.example> SIZE=999999'), /^552 5\.3\.4 /);
      await talk.send('MAIL FROM:<sender@remote.example>');
      await talk.send('RCPT TO:<alice@test.example>');
      const big =
        message('sender@remote.example', 'alice@test.example', 'too big') + `${'x'.repeat(100)}\r\n`.repeat(300);
      assert.match(await talk.data(big), /^552 5\.3\.4 /);
      talk.close();
    });

    it('refuses a looping message', async () => {
      const talk = await session(t);
      await talk.send('MAIL FROM:<sender@remote.example>');
      await talk.send('RCPT TO:<alice@test.example>');
      const hops = Array.from(
        { length: 21 },
        (_, i) => `Received: from hop${i}.example by hop${i + 1}.example; Mon, 23 Nov 2026 10:00:00 +0000\r\n`,
      ).join('');
      assert.equal(
        await talk.data(hops + message('sender@remote.example', 'alice@test.example', 'loop')),
        '554 5.4.6 Routing loop detected: the message has passed 21 mail servers (more than 20)',
      );
      talk.close();
    });

    it('receives a message in BDAT chunks (CHUNKING), pipelined, taking its octets as they are', async () => {
      const talk = await session(t);
      assert.match(await talk.send('EHLO again.example'), /250[- ]CHUNKING/);
      // The chunks hold what would be commands or a terminator in DATA; BDAT must take them as content.
      const first = `${message('sender@remote.example', 'alice@test.example', 'in chunks')}.leading dot stays\r\n.\r\nQUIT\r\n`;
      const second = `${`RSET\r\n${'z'.repeat(76)}\r\n`.repeat(200)}last line\r\n`; // past the stream's buffer: backpressure
      const chunks = `BDAT ${Buffer.byteLength(first)}\r\n${first}BDAT ${Buffer.byteLength(second)} LAST\r\n${second}`;
      talk.write(`MAIL FROM:<sender@remote.example>\r\nRCPT TO:<alice@test.example>\r\n${chunks}NOOP\r\n`);
      const [mail, rcpt, chunk, last, noop] = await talk.replies(5);
      assert.equal(mail, '250 2.1.0 Accepted');
      assert.match(rcpt!, /^250 /);
      assert.equal(chunk, `250 2.0.0 ${Buffer.byteLength(first)} octets received`);
      assert.match(last!, /^250 2\.0\.0 Ok: queued as \d+/);
      assert.match(noop!, /^250 /);
      const delivered = await t.waitFor(
        async () => (await t.mailbox('alice@test.example')).find((m) => m.text.includes('Subject: in chunks')),
        'the chunked message',
      );
      assert.ok(
        delivered.text.endsWith(`Hello.\r\n.leading dot stays\r\n.\r\nQUIT\r\n${second}`),
        delivered.text.slice(0, 2000),
      );

      // An empty last chunk ends a message too.
      const body = message('sender@remote.example', 'alice@test.example', 'empty last chunk');
      talk.write(
        `MAIL FROM:<sender@remote.example>\r\nRCPT TO:<alice@test.example>\r\nBDAT ${Buffer.byteLength(body)}\r\n${body}BDAT 0 LAST\r\n`,
      );
      const replies = await talk.replies(4);
      assert.match(replies[3]!, /^250 2\.0\.0 Ok: queued as \d+/);
      await t.waitFor(
        async () => (await t.mailbox('alice@test.example')).some((m) => m.text.includes('Subject: empty last chunk')),
        'the message ended by BDAT 0 LAST',
      );
      talk.close();
    });

    it('refuses BDAT out of order, over the size limit, mixed with DATA or malformed, reading its octets without running them', async () => {
      const talk = await session(t);
      const smuggled = 'MAIL FROM:<x@remote.example>\r\n';
      talk.write(`BDAT ${smuggled.length} LAST\r\n${smuggled}NOOP\r\n`);
      assert.deepEqual(await talk.replies(2), ['503 5.5.1 Error: need RCPT command', '250 2.0.0 OK']);

      await talk.send('MAIL FROM:<sender@remote.example>');
      await talk.send('RCPT TO:<alice@test.example>');
      const oversized = 'y'.repeat(25_000);
      talk.write(`BDAT ${oversized.length}\r\n${oversized}`);
      assert.equal(await talk.reply(), '552 5.3.4 Message size exceeds fixed maximum message size (20000 bytes)');
      assert.equal(
        await talk.send('MAIL FROM:<sender@remote.example>'),
        '250 2.1.0 Accepted',
        'the refused transaction is over',
      );
      await talk.send('RCPT TO:<alice@test.example>');
      talk.write('BDAT 5\r\nabcde');
      assert.equal(await talk.reply(), '250 2.0.0 5 octets received');
      assert.equal(await talk.send('DATA'), '503 5.5.1 DATA is not allowed after BDAT in the same transaction');
      assert.match(await talk.send('RSET'), /^250 /);
      assert.equal(
        await talk.send('MAIL FROM:<sender@remote.example>'),
        '250 2.1.0 Accepted',
        'RSET abandons the chunked message',
      );
      assert.equal(
        await talk.send('BDAT many LAST'),
        '501 5.5.4 Syntax: BDAT <size> [LAST]; closing the connection, the chunk cannot be skipped',
      );
      await t.waitFor(async () => talk.isClosed, 'the connection to close');
      assert.ok(
        !(await t.mailbox('alice@test.example')).some((m) => m.text.includes('abcde') || m.text.includes('yyyy')),
        'nothing of the refused messages was delivered',
      );
    });

    it('refuses at RCPT a mailbox that is over its quota', async () => {
      const talk = await session(t);
      await talk.send('MAIL FROM:<sender@remote.example>');
      await talk.send('RCPT TO:<carol@test.example>');
      assert.match(await talk.data(message('sender@remote.example', 'carol@test.example', 'fills the box')), /^250/);
      await t.waitFor(async () => (await t.mailbox('carol@test.example')).length > 0, 'carol has mail');
      await tenant.setQuota('carol@test.example', 10);
      await talk.send('MAIL FROM:<sender@remote.example>');
      assert.equal(
        await talk.send('RCPT TO:<carol@test.example>'),
        '552 5.2.2 <carol@test.example>: Mailbox full (quota 10B)',
      );
      talk.close();
    });

    it('applies the quota rule at RCPT: a mailbox exactly at its limit is full, and SIZE= is checked against what is left', async () => {
      const carol = (await t.node.holdfast.directory.resolveAddress('carol@test.example'))!.principal;
      const used = await usedBytes(t.node.holdfast.store.db, carol.id);
      assert.ok(used > 0, 'carol has mail from the test before');
      const talk = await session(t);
      await tenant.setQuota('carol@test.example', used);
      await talk.send('MAIL FROM:<sender@remote.example>');
      assert.match(
        await talk.send('RCPT TO:<carol@test.example>'),
        /^552 5\.2\.2 /,
        'exactly at the limit: nothing more fits',
      );
      await tenant.setQuota('carol@test.example', used + 100);
      await talk.send('RSET');
      await talk.send('MAIL FROM:<sender@remote.example> SIZE=100');
      assert.equal(
        await talk.send('RCPT TO:<carol@test.example>'),
        '250 2.1.5 Accepted',
        'a message that brings the mailbox exactly to its limit fits',
      );
      await talk.send('RSET');
      await talk.send('MAIL FROM:<sender@remote.example> SIZE=101');
      assert.match(await talk.send('RCPT TO:<carol@test.example>'), /^552 5\.2\.2 /, 'one byte more does not');
      await tenant.setQuota('carol@test.example', 10);
      talk.close();
    });

    it('refuses mail that fails DMARC with p=reject', async () => {
      t.dns.set('_dmarc.bank.example', { TXT: ['v=DMARC1; p=reject'] });
      t.dns.set('bank.example', { TXT: ['v=spf1 -all'] });
      const talk = await session(t);
      await talk.send('MAIL FROM:<ceo@bank.example>');
      await talk.send('RCPT TO:<alice@test.example>');
      assert.equal(
        await talk.data(message('ceo@bank.example', 'alice@test.example', 'wire money')),
        '550 5.7.509 Access denied, sending domain bank.example does not pass DMARC verification and has a DMARC policy of reject',
      );
      talk.close();
    });

    it('limits concurrent connections per source address', async () => {
      const open = await Promise.all([1, 2, 3, 4].map(() => SmtpTalk.open(t.port('smtp'))));
      const fifth = await SmtpTalk.open(t.port('smtp'));
      assert.equal(
        fifth.greeting,
        '421 4.3.2 The maximum number of concurrent server connections has exceeded a per-source limit (4), closing transmission channel',
      );
      for (const s of open) s.talk.close();
      fifth.talk.close();
      await new Promise((r) => setTimeout(r, 200));
    });

    it('limits concurrent connections per resource forest, naming the limit', async () => {
      await t.node.holdfast.directory.setForest('default', { maxConnections: 1 });
      try {
        const first = await session(t);
        await first.send('MAIL FROM:<sender@remote.example>');
        assert.match(await first.send('RCPT TO:<alice@test.example>'), /^250/);
        const second = await session(t);
        await second.send('MAIL FROM:<sender@remote.example>');
        assert.equal(
          await second.send('RCPT TO:<bob@test.example>'),
          '421 4.3.2 The maximum number of concurrent connections per resource forest has exceeded a limit (forest default: 1), closing transmission channel',
        );
        await t.waitFor(async () => second.isClosed, 'the refused connection to close');
        first.close();
        await new Promise((r) => setTimeout(r, 200));
        const third = await session(t);
        await third.send('MAIL FROM:<sender@remote.example>');
        assert.match(await third.send('RCPT TO:<bob@test.example>'), /^250/, 'a slot frees when a session ends');
        third.close();
      } finally {
        await t.node.holdfast.directory.setForest('default', { maxConnections: 1000 });
      }
    });

    it('requires STARTTLS before AUTH on submission, and checks who may send as whom', async () => {
      const talk = await session(t, 'submission');
      assert.doesNotMatch(await talk.send('EHLO client.example'), /AUTH/, 'no AUTH before TLS');
      assert.match(await talk.send('MAIL FROM:<alice@test.example>'), /^530 /);
      await talk.startTls();
      assert.match(await talk.send('EHLO client.example'), /250-AUTH PLAIN LOGIN/);
      assert.match(await talk.send(`AUTH PLAIN ${plainAuth('alice@test.example', password)}`), /^235 /);
      assert.equal(
        await talk.send('MAIL FROM:<bob@test.example>'),
        '553 5.7.1 Sender address rejected: <bob@test.example> is not an address alice@test.example may send as',
      );
      assert.equal(await talk.send('MAIL FROM:<al@test.example>'), '250 2.1.0 Accepted', 'an alias of her own');
      await talk.send('RCPT TO:<bob@test.example>');
      assert.equal(
        await talk.data(message('bob@test.example', 'bob@test.example', 'forged')),
        '553 5.7.1 From header rejected: <bob@test.example> is not an address alice@test.example may send as',
      );
      talk.close();
    });

    it('lets a user send as a shared mailbox once granted send-as', async () => {
      await tenant.addPrincipal({ kind: 'shared', address: 'support@test.example' });
      const submit = () =>
        submission(t.port('submissions'), 'bob@test.example', password).sendMail({
          from: 'support@test.example',
          to: 'alice@test.example',
          subject: 'from the support desk',
          text: 'hello',
        });
      await assert.rejects(submit(), { responseCode: 553 });
      await tenant.grant('support@test.example', 'bob@test.example', { fullAccess: false, sendAs: true });
      assert.match((await submit()).response, /^250 /);
    });

    it('sends through submission with implicit TLS, adding Message-ID and Date', async () => {
      const client = submission(t.port('submissions'), 'bob@test.example', password);
      const raw = 'From: bob@test.example\r\nTo: alice@test.example\r\nSubject: no ids\r\n\r\nbody\r\n';
      await client.sendMail({ envelope: { from: 'bob@test.example', to: ['alice@test.example'] }, raw });
      const found = await t.waitFor(
        async () => (await t.mailbox('alice@test.example')).find((m) => m.text.includes('Subject: no ids')),
        'submitted message',
      );
      assert.match(found.text, /^Message-ID: <[0-9a-f-]+@mail\.test\.example>\r\n/m);
      assert.match(found.text, /^Date: .+ \+0000\r\n/m);
      assert.match(found.text, /with ESMTPSA id/);
    });

    it("applies a tenant's own sender limits", async () => {
      await t.node.holdfast.directory.addTenant({ name: 'bulk' });
      const bulk = await t.node.holdfast.directory.tenant('bulk');
      await bulk.addDomain('bulk.example');
      await bulk.addPrincipal({ kind: 'user', address: 'dan@bulk.example', password });
      const { talk } = await SmtpTalk.open(t.port('submissions'), { tls: true });
      await talk.send('EHLO client.example');
      assert.match(await talk.send(`AUTH PLAIN ${plainAuth('dan@bulk.example', password)}`), /^235 /);
      assert.match(await talk.send('MAIL FROM:<dan@bulk.example>'), /^250 /);
      // Tenant "bulk" may address 5 recipients per message where the default is 3.
      for (const user of ['alice', 'bob', 'al', 'team', 'alice+news'])
        assert.match(await talk.send(`RCPT TO:<${user}@test.example>`), /^250 /);
      assert.equal(
        await talk.send('RCPT TO:<all@test.example>'),
        '452 4.5.3 Too many recipients (at most 5 per message); send the rest in another message',
      );
      talk.close();

      // Tenant "bulk" sends and receives at most 2 KB where the default is 20 KB.
      const big = 'x'.repeat(5000);
      const send = (
        options: { from: string; to: string | string[]; subject: string; text: string },
        port: number,
        auth?: { user: string; pass: string },
      ) =>
        nodemailer
          .createTransport({
            host: '127.0.0.1',
            port,
            secure: Boolean(auth),
            ignoreTLS: !auth,
            tls: { rejectUnauthorized: false },
            auth,
          })
          .sendMail(options);
      const outgoing = await send(
        { from: 'dan@bulk.example', to: 'bob@test.example', subject: 'Big', text: big },
        t.port('submissions'),
        { user: 'dan@bulk.example', pass: password },
      ).catch((e) => e);
      assert.equal(outgoing.response, '552 5.3.4 Message size exceeds the maximum message size of tenant bulk (2KB)');
      const incoming = await send(
        {
          from: 'someone@elsewhere.example',
          to: ['dan@bulk.example', 'bob@test.example'],
          subject: 'Big for two tenants',
          text: big,
        },
        t.port('smtp'),
      ).catch((e) => e);
      assert.equal(incoming.response, '552 5.3.4 Message size exceeds the maximum message size of tenant bulk (2KB)');
      await send(
        { from: 'someone@elsewhere.example', to: 'bob@test.example', subject: 'Big for one tenant', text: big },
        t.port('smtp'),
      );
      await t.waitFor(
        async () => (await t.mailbox('bob@test.example')).some((m) => m.text.includes('Subject: Big for one tenant')),
        'the default limit for tenant default',
      );
      assert.ok(
        !(await t.mailbox('bob@test.example')).some((m) => m.text.includes('Subject: Big for two tenants')),
        'nothing of the refused message was delivered',
      );
    });

    it('rate-limits failed logins and messages per minute', async () => {
      const { talk } = await SmtpTalk.open(t.port('submissions'), { tls: true });
      await talk.send('EHLO client.example');
      for (let i = 0; i < 3; i++)
        assert.match(
          await talk.send(`AUTH PLAIN ${plainAuth('carol@test.example', 'wrong-Password-1')}`),
          /^535 5\.7\.8 /,
        );
      assert.equal(
        await talk.send(`AUTH PLAIN ${plainAuth('carol@test.example', password)}`),
        '454 4.7.0 Too many failed sign-ins; try again in 60 seconds',
      );
      talk.close();

      const client = submission(t.port('submissions'), 'alice@test.example', password);
      // biome-ignore lint/suspicious/noExplicitAny: nodemailer's error, read for its fields
      let refusal: any;
      for (let i = 0; i < 5 && !refusal; i++) {
        await client
          .sendMail({ from: 'alice@test.example', to: 'bob@test.example', subject: `burst ${i}`, text: 'x' })
          .catch((e) => (refusal = e));
      }
      assert.equal(
        refusal?.response,
        '450 4.7.1 Message submission rate for alice@test.example has exceeded the configured limit (3 per minute); try again later',
      );
    });
  });
}

describe('SMTP interop with Python smtplib', () => {
  it('submits over STARTTLS with AUTH, and the message arrives', async () => {
    const t = await startTestNode('sqlite');
    try {
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.addPrincipal({ kind: 'user', address: 'alice@test.example', password });
      await tenant.addPrincipal({ kind: 'user', address: 'bob@test.example', password });
      const script = `
import smtplib, ssl, sys
from email.message import EmailMessage
msg = EmailMessage()
msg['From'] = 'alice@test.example'
msg['To'] = 'bob@test.example'
msg['Subject'] = 'from python'
msg.set_content('sent by smtplib')
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
with smtplib.SMTP('127.0.0.1', int(sys.argv[1])) as s:
    s.ehlo('python.example')
    s.starttls(context=context)
    s.ehlo('python.example')
    s.login('alice@test.example', '${password}')
    print(s.send_message(msg))
    try:
        s.sendmail('alice@test.example', ['nobody@elsewhere.example'], 'From: alice@test.example\\r\\nSubject: x\\r\\n\\r\\nx')
    except smtplib.SMTPRecipientsRefused as e:
        print('refused', e.recipients)
    except smtplib.SMTPSenderRefused as e:
        print('sender refused', e.smtp_code)
    print('ok')
`;
      const { execFile } = await import('node:child_process');
      const output = await new Promise<string>((resolve, reject) =>
        execFile('python3', ['-c', script, String(t.port('submission'))], (error, stdout, stderr) =>
          error ? reject(new Error(stderr || error.message)) : resolve(stdout),
        ),
      );
      assert.match(
        output,
        /^\{\}\nok\n$/,
        'accepted for every recipient; outside recipients are allowed once signed in',
      );
      const found = await t.waitFor(
        async () => (await t.mailbox('bob@test.example')).find((m) => m.text.includes('from python')),
        'python message',
      );
      assert.match(found.text, /with ESMTPSA/);
    } finally {
      await t.stop();
    }
  });
});

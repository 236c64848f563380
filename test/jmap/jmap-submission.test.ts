// Identity, EmailSubmission and Quota (RFC 8621 6-7, RFC 9425) through jmap-jam and raw API calls,
// with IMAP (imapflow) putting drafts in place and local delivery carrying what is sent: a draft sent
// with EmailSubmission/set arrives in the recipient's INBOX with its From and without its Bcc, goes to
// Sent by onSuccessUpdateEmail, and its deliveryStatus follows the queue; sending as an address the
// user may not send as is refused as SMTP submission refuses it. App tokens sign in with Bearer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiTokens } from '../../src/directory/api-tokens.ts';
import { recordOutboundSpam, resumeSending } from '../../src/filtering/outbound-spam.ts';
import { backendNames, skipFor } from '../helpers/backends.ts';
import type { TestNode } from '../helpers/node.ts';
import { type BasicJam, basicAuth, postApi } from './jmap-client.ts';
import { type JmapTestNode, password, startJmapNode } from './jmap-test-node.ts';
// biome-ignore lint/suspicious/noExplicitAny: each test reads the fields of the answer it checks
type Invocation = [string, Record<string, any>, string];
const using = [
  'urn:ietf:params:jmap:core',
  'urn:ietf:params:jmap:mail',
  'urn:ietf:params:jmap:submission',
  'urn:ietf:params:jmap:quota',
];
const draft = (from: string, subject: string, extra = 'To: Bob <bob@test.example>\r\nBcc: hidden@test.example\r\n') =>
  `From: ${from}\r\n${extra}Subject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@test.example>\r\n\r\nHello from JMAP\r\n`;

for (const name of backendNames) {
  describe(`JMAP sending on ${name}`, { skip: skipFor(name) }, () => {
    let node: JmapTestNode;
    let t: TestNode;
    let jam: BasicJam;
    let accountId: string;
    let base: string;
    const auth = basicAuth('alice@test.example', password);
    const call = async (methodCalls: unknown[], authorization = auth) => {
      const answer = await postApi(base, { using, methodCalls }, authorization);
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
      return answer.json.methodResponses as [Invocation, ...Invocation[]];
    };
    const mailboxByRole = async (role: 'drafts' | 'sent') => {
      const [result] = await jam.api.Mailbox.query({ accountId, filter: { role } });
      return result.ids[0]!;
    };
    /** A draft put in Drafts over IMAP, found with Email/query. */
    const putDraft = async (text: string) => {
      await node.withImap((client) => client.append('Drafts', text, ['\\Draft', '\\Seen']));
      const drafts = await mailboxByRole('drafts');
      const subject = /^Subject: (.*)$/m.exec(text)![1]!;
      const [found] = await jam.api.Email.query({ accountId, filter: { inMailbox: drafts, subject } });
      assert.equal(found.ids.length, 1);
      return found.ids[0]!;
    };
    const ownIdentity = async () => {
      const [[, got]] = await call([['Identity/get', { accountId }, 'i']]);
      return got.list.find((i: { email: string }) => i.email === 'alice@test.example')!;
    };

    before(async () => {
      node = await startJmapNode(name, [
        { kind: 'user', address: 'alice@test.example', password, displayName: 'Alice' },
        'bob@test.example',
        'hidden@test.example',
        { kind: 'shared', address: 'team@test.example' },
      ]);
      ({ t, base, jam, accountId } = node);
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.grant('team@test.example', 'alice@test.example', { fullAccess: false, sendAs: true });
    });
    after(() => t.stop());

    it('advertises submission and quota in the session', async () => {
      const session = await jam.session;
      assert.ok(session.capabilities['urn:ietf:params:jmap:submission']);
      assert.ok(session.capabilities['urn:ietf:params:jmap:quota']);
      const account = session.accounts[accountId]!.accountCapabilities as Record<string, unknown>;
      assert.deepEqual(account['urn:ietf:params:jmap:submission'], { maxDelayedSend: 0, submissionExtensions: {} });
    });

    it('lists the identities the user may send as and refuses others', async () => {
      const [[, got]] = await call([['Identity/get', { accountId }, 'i']]);
      const emails = got.list.map((i: { email: string }) => i.email).sort();
      assert.deepEqual(emails, ['alice@test.example', 'team@test.example']);
      const own = got.list.find((i: { email: string }) => i.email === 'alice@test.example');
      assert.equal(own.name, 'Alice');
      assert.equal(own.mayDelete, false);

      const [[, set]] = await call([
        [
          'Identity/set',
          {
            accountId,
            create: {
              bad: { email: 'bob@test.example', name: 'Not Bob' },
              good: { email: 'team@test.example', name: 'The Team', textSignature: '-- \nThe Team' },
            },
          },
          's',
        ],
      ]);
      assert.equal(set.notCreated.bad.type, 'forbiddenFrom');
      const created = set.created.good.id;
      assert.equal(set.created.good.mayDelete, true);

      const [[, changes]] = await call([['Identity/changes', { accountId, sinceState: got.state }, 'c']]);
      assert.deepEqual(changes.created, [created]);
      const [[, updated]] = await call([
        [
          'Identity/set',
          { accountId, update: { [created]: { replyTo: [{ name: null, email: 'team@test.example' }] } } },
          'u',
        ],
      ]);
      assert.deepEqual(updated.updated, { [created]: null });
      const [[, destroyed]] = await call([['Identity/set', { accountId, destroy: [created, own.id] }, 'd']]);
      assert.deepEqual(destroyed.destroyed, [created]);
      assert.equal(destroyed.notDestroyed[own.id].type, 'forbidden');
      const [[, after]] = await call([['Identity/changes', { accountId, sinceState: changes.newState }, 'c']]);
      assert.deepEqual(after.destroyed, [created]);
    });

    it('sends a draft to a local mailbox, moves it to Sent and reports its delivery', async () => {
      const emailId = await putDraft(draft('Alice <alice@test.example>', 'First submission'));
      const identity = await ownIdentity();
      const drafts = await mailboxByRole('drafts');
      const sent = await mailboxByRole('sent');
      const responses = await call([
        [
          'EmailSubmission/set',
          {
            accountId,
            create: { k1: { identityId: identity.id, emailId } },
            onSuccessUpdateEmail: {
              '#k1': { [`mailboxIds/${drafts}`]: null, [`mailboxIds/${sent}`]: true, 'keywords/$draft': null },
            },
          },
          'send',
        ],
      ]);
      assert.deepEqual(
        responses.map(([n, , id]) => [n, id]),
        [
          ['EmailSubmission/set', 'send'],
          ['Email/set', 'send'],
        ],
      );
      const [, result] = responses[0]!;
      assert.equal(result.notCreated, null, JSON.stringify(result.notCreated));
      const submissionId = result.created.k1.id;
      assert.equal(result.created.k1.undoStatus, 'final');
      assert.equal(responses[1]![1].notUpdated, null, JSON.stringify(responses[1]![1]));

      const delivered = await t.waitFor(async () => {
        const inbox = await t.mailbox('bob@test.example');
        return inbox.find((m) => m.text.includes('Subject: First submission'));
      }, 'the message in bob@test.example INBOX');
      assert.match(delivered.text, /^From: Alice <alice@test\.example>$/m);
      assert.doesNotMatch(delivered.text, /^Bcc:/im);
      assert.match(delivered.text, /with HTTP id jmap-/);
      assert.ok(await t.waitFor(async () => (await t.mailbox('hidden@test.example')).length === 1, 'the Bcc copy'));
      const sentNow = await t.mailbox('alice@test.example', 'Sent');
      assert.equal(sentNow.length, 1);
      assert.equal((await t.mailbox('alice@test.example', 'Drafts')).length, 0);

      const status = await t.waitFor(async () => {
        const [[, got]] = await call([['EmailSubmission/get', { accountId, ids: [submissionId] }, 'g']]);
        const item = got.list[0];
        return item?.deliveryStatus?.['bob@test.example']?.delivered === 'yes' ? item : undefined;
      }, 'deliveryStatus yes');
      assert.deepEqual(status.envelope.mailFrom, { email: 'alice@test.example', parameters: null });
      assert.deepEqual(status.envelope.rcptTo.map((r: { email: string }) => r.email).sort(), [
        'bob@test.example',
        'hidden@test.example',
      ]);
      const [[, query]] = await call([
        ['EmailSubmission/query', { accountId, filter: { identityIds: [identity.id] } }, 'q'],
      ]);
      assert.deepEqual(query.ids, [submissionId]);
    });

    it('sends as a mailbox with a send-as grant, with an explicit envelope', async () => {
      const emailId = await putDraft(draft('Team <team@test.example>', 'From the team'));
      const [[, got]] = await call([['Identity/get', { accountId }, 'i']]);
      const team = got.list.find((i: { email: string }) => i.email === 'team@test.example');
      const [[, result]] = await call([
        [
          'EmailSubmission/set',
          {
            accountId,
            create: {
              k: {
                identityId: team.id,
                emailId,
                envelope: { mailFrom: { email: 'team@test.example' }, rcptTo: [{ email: 'bob@test.example' }] },
              },
            },
          },
          's',
        ],
      ]);
      assert.ok(result.created?.k, JSON.stringify(result.notCreated));
      await t.waitFor(
        async () => (await t.mailbox('bob@test.example')).find((m) => m.text.includes('Subject: From the team')),
        'the team message',
      );
    });

    it('refuses to send as an address the user may not send as, and what SMTP refuses', async () => {
      const identity = await ownIdentity();
      const forged = await putDraft(draft('Bob <bob@test.example>', 'Forged'));
      const noFrom = await putDraft('To: bob@test.example\r\nSubject: No author\r\n\r\nHi\r\n');
      const nobody = await putDraft(draft('alice@test.example', 'Nobody', ''));
      const unknown = await putDraft(draft('alice@test.example', 'Unknown', 'To: nobody@test.example\r\n'));
      const [[, result]] = await call([
        [
          'EmailSubmission/set',
          {
            accountId,
            create: {
              forged: { identityId: identity.id, emailId: forged },
              noFrom: { identityId: identity.id, emailId: noFrom },
              nobody: { identityId: identity.id, emailId: nobody },
              unknown: { identityId: identity.id, emailId: unknown },
              envelope: {
                identityId: identity.id,
                emailId: unknown,
                envelope: { mailFrom: { email: 'bob@test.example' }, rcptTo: [{ email: 'bob@test.example' }] },
              },
              noEmail: { identityId: identity.id, emailId: 'e999999-1' },
            },
          },
          's',
        ],
      ]);
      assert.equal(result.created, null);
      assert.equal(result.notCreated.forged.type, 'forbiddenFrom');
      assert.equal(result.notCreated.noFrom.type, 'invalidEmail');
      assert.equal(result.notCreated.nobody.type, 'noRecipients');
      assert.equal(result.notCreated.unknown.type, 'invalidRecipients');
      assert.deepEqual(result.notCreated.unknown.invalidRecipients, ['nobody@test.example']);
      assert.equal(result.notCreated.envelope.type, 'forbiddenMailFrom');
      assert.equal(result.notCreated.noEmail.type, 'invalidProperties');
      const inbox = await t.mailbox('bob@test.example');
      assert.ok(!inbox.some((m) => m.text.includes('Subject: Forged')));
    });

    it('answers the quota of the mailbox', async () => {
      const [[, none]] = await call([['Quota/get', { accountId }, 'q']]);
      assert.deepEqual(none.list, []);
      const tenant = await t.node.holdfast.directory.tenant('default');
      await tenant.setQuota('alice@test.example', 10_000_000);
      const [[, got]] = await call([['Quota/get', { accountId }, 'q']]);
      assert.equal(got.list.length, 1);
      const [quota] = got.list;
      assert.equal(quota.resourceType, 'octets');
      assert.equal(quota.scope, 'account');
      assert.equal(quota.hardLimit, 10_000_000);
      assert.deepEqual(quota.types, ['Mail']);
      assert.ok(quota.used > 0);
      const [[, changes]] = await call([['Quota/changes', { accountId, sinceState: none.state }, 'c']]);
      assert.deepEqual(changes.created, [quota.id]);
      await putDraft(draft('alice@test.example', 'Uses space'));
      const [[, more]] = await call([['Quota/changes', { accountId, sinceState: got.state }, 'c']]);
      assert.deepEqual(more.updated, [quota.id]);
      assert.deepEqual(more.updatedProperties, ['used']);
      const [[, query]] = await call([['Quota/query', { accountId, filter: { type: 'Mail' } }, 'q']]);
      assert.deepEqual(query.ids, [quota.id]);
    });

    it('signs in with an app token as Bearer; a bad or revoked token is refused at once', async () => {
      const made = await fetch(`${base}/jmap/tokens`, {
        method: 'POST',
        headers: { Authorization: auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'phone' }),
      });
      assert.equal(made.status, 201);
      const { id, token, scope } = (await made.json()) as { id: string; token: string; scope: string };
      assert.equal(scope, 'jmap');
      const bearer = `Bearer ${token}`;

      const session = await fetch(`${base}/.well-known/jmap`, { headers: { Authorization: bearer } });
      assert.equal(session.status, 200);
      assert.equal(((await session.json()) as { username: string }).username, 'alice@test.example');
      const [[name, got]] = await call([['Identity/get', { accountId }, 'i']], bearer);
      assert.equal(name, 'Identity/get');
      assert.ok(got.list.length >= 1);

      // A token does not make tokens; a wrong one is refused.
      const byToken = await fetch(`${base}/jmap/tokens`, { method: 'POST', headers: { Authorization: bearer } });
      assert.equal(byToken.status, 401);
      const wrong = await postApi(base, { using, methodCalls: [] }, `Bearer ${token.slice(0, -2)}xx`);
      assert.equal(wrong.status, 401);

      // An admin token does not open JMAP, a JMAP token does not open the admin API.
      const adminToken = await new ApiTokens(t.node.holdfast.store.db, t.node.holdfast.directory, Date.now)
        .create('admin@test.example', 'monitoring')
        .catch(() => undefined);
      if (adminToken) {
        const asAdmin = await postApi(base, { using, methodCalls: [] }, `Bearer ${adminToken.token}`);
        assert.equal(asAdmin.status, 401);
      }

      const listed = await fetch(`${base}/jmap/tokens`, { headers: { Authorization: auth } });
      assert.deepEqual(
        ((await listed.json()) as { id: string }[]).map((t) => t.id),
        [id],
      );
      const revoked = await fetch(`${base}/jmap/tokens/${id}`, { method: 'DELETE', headers: { Authorization: auth } });
      assert.equal(revoked.status, 204);
      const after = await postApi(base, { using, methodCalls: [] }, bearer);
      assert.equal(after.status, 401);
    });

    it('refuses to send for a user whose sending is paused for spam, until resumed', async () => {
      const db = t.node.holdfast.store.db;
      const alice = await (await t.node.holdfast.directory.tenant('default')).getPrincipal('alice@test.example', [
        'user',
      ]);
      await recordOutboundSpam(db, { principalId: alice.id, tenantId: alice.tenantId }, 'test', 1, Date.now());
      const identity = await ownIdentity();
      const send = async (subject: string) => {
        const emailId = await putDraft(draft('Alice <alice@test.example>', subject, 'To: Bob <bob@test.example>\r\n'));
        const [[, result]] = await call([
          ['EmailSubmission/set', { accountId, create: { k: { identityId: identity.id, emailId } } }, 's'],
        ]);
        return result;
      };
      try {
        const refused = await send('While paused');
        assert.equal(refused.notCreated?.k?.type, 'forbiddenToSend');
        assert.match(refused.notCreated.k.description, /^Sending is paused for alice@test\.example since /);
      } finally {
        await resumeSending(db, alice.id);
      }
      assert.equal((await send('Resumed')).notCreated, null);
    });
  });
}

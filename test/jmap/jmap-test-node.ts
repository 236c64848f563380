// What every JMAP test starts from: a node on one backend with its users made in the default
// tenant, and for a user the sign-in header, a jmap-jam client, their account id and an IMAP
// client for the same mailbox. The first user listed is the one a test speaks as unless it says.
import assert from 'node:assert/strict';
import type { NewPrincipal } from '../../src/directory/tenant-directory.ts';
import type { BackendName } from '../helpers/backends.ts';
import type { ImapFlow } from 'imapflow';
import type { SendMailOptions } from 'nodemailer';
import { imapflowClient } from '../helpers/imapflow.ts';
import { startTestNode, type TestNode } from '../helpers/node.ts';
import { submission } from '../helpers/submission.ts';
import { BasicJam, basicAuth, postApi } from './jmap-client.ts';

export const password = 'Wonderland-42';
export const mailUsing = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];

/** A principal to make: an address (a user with `password`) or what addPrincipal takes. */
export type TestPrincipal = string | NewPrincipal;

export interface JmapTestNode {
  t: TestNode;
  /** http://127.0.0.1:<port> of the node's HTTP listener. */
  base: string;
  /** The first user's address. */
  user: string;
  /** HTTP Basic for a user (the first by default). */
  auth(address?: string): string;
  /** A jmap-jam client signed in as the first user, and that user's account id. */
  jam: BasicJam;
  accountId: string;
  /** A jmap-jam client signed in as another user. */
  jamOf(address: string): BasicJam;
  /** The user's own account id, from the session resource. */
  accountIdOf(address?: string): Promise<string>;
  /** The id of the account a user's session names `name` (the address of a mailbox shared with them). */
  accountNamed(name: string, address?: string): Promise<string>;
  /** The subjects of the Emails an Email/query with these arguments finds, in its order (the first user's account unless `accountId` says). */
  subjectsOf(query: Record<string, unknown>): Promise<string[]>;
  /** The session resource as a user reads it. */
  // biome-ignore lint/suspicious/noExplicitAny: each test reads the fields it checks
  session(address?: string): Promise<any>;
  /** methodResponses of one request (with `using`: core and mail), which must be answered 200. */
  // biome-ignore lint/suspicious/noExplicitAny: each test reads the fields it checks
  call(methodCalls: unknown[], who?: string, using?: string[]): Promise<any[]>;
  /** An IMAP client of the user's, connected; `withImap` logs it out after `use`. */
  imap(address?: string): Promise<ImapFlow>;
  withImap<T>(use: (client: ImapFlow) => Promise<T>, address?: string): Promise<T>;
  /** Sends a message over SMTP submission as `from` (From: that address unless given) and waits until it is in `to`'s INBOX. */
  deliver(from: string, to: string, message: Omit<SendMailOptions, 'to'>): Promise<void>;
  /** A blob uploaded (RFC 8620 6.1) to an account (the first user's by default): the status and answer. */
  // biome-ignore lint/suspicious/noExplicitAny: each test reads the fields it checks
  upload(body: string | Buffer, type: string, who?: string, account?: string): Promise<{ status: number; json: any }>;
  /** The first user's Mailbox ids by role (inbox, archive, …). */
  mailboxRoles(): Promise<Record<string, string>>;
}

export async function startJmapNode(
  backend: BackendName,
  principals: TestPrincipal[],
  options: { toml?: string } = {},
): Promise<JmapTestNode> {
  const t = await startTestNode(backend, options.toml ? { toml: options.toml } : {});
  const base = `http://127.0.0.1:${t.port('http')}`;
  const tenant = await t.node.holdfast.directory.tenant('default');
  for (const principal of principals)
    await tenant.addPrincipal(
      typeof principal === 'string' ? { kind: 'user', address: principal, password } : principal,
    );
  const first = principals[0]!;
  const user = typeof first === 'string' ? first : first.address;
  const auth = (address = user) => basicAuth(address, password);
  const session = async (address = user) =>
    (await fetch(`${base}/.well-known/jmap`, { headers: { Authorization: auth(address) } })).json();
  const imap = async (address = user) => {
    const client = imapflowClient(t.port('imaps'), address, password);
    await client.connect();
    return client;
  };
  const jamOf = (address: string) => new BasicJam(`${base}/.well-known/jmap`, address, password);
  const jam = jamOf(user);
  return {
    t,
    base,
    user,
    auth,
    jam,
    accountId: await jam.getPrimaryAccount(),
    jamOf,
    session,
    async accountIdOf(address = user) {
      return (await session(address)).primaryAccounts['urn:ietf:params:jmap:mail'];
    },
    async accountNamed(name, address = user) {
      const { accounts } = await session(address);
      const found = Object.entries(accounts as Record<string, { name: string }>).find(([, a]) => a.name === name);
      assert.ok(found, `${address}'s session has an account named ${name}`);
      return found[0];
    },
    async subjectsOf(query) {
      const accountId = query.accountId ?? (await jam.getPrimaryAccount());
      const { json } = await postApi(
        base,
        {
          using: mailUsing,
          methodCalls: [
            ['Email/query', { accountId, ...query }, 'q'],
            [
              'Email/get',
              { accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: ['subject'] },
              'g',
            ],
          ],
        },
        auth(),
      );
      const [[, found], [, got]] = json.methodResponses;
      assert.ok(found.ids, JSON.stringify(found));
      return (got.list as { subject: string }[]).map((e) => e.subject);
    },
    async call(methodCalls, who = auth(), using = mailUsing) {
      const { status, json } = await postApi(base, { using, methodCalls }, who);
      assert.equal(status, 200, JSON.stringify(json));
      return json.methodResponses;
    },
    imap,
    async withImap(use, address = user) {
      const client = await imap(address);
      try {
        return await use(client);
      } finally {
        await client.logout();
      }
    },
    async deliver(from, to, message) {
      const before = (await t.mailbox(to)).length;
      await submission(t.port('submissions'), from, password).sendMail({ from, ...message, to });
      await t.waitFor(async () => (await t.mailbox(to)).length > before, `${message.subject ?? 'a message'} delivered`);
    },
    async upload(body, type, who = auth(), account?: string) {
      const response = await fetch(`${base}/jmap/upload/${account ?? (await jam.getPrimaryAccount())}/`, {
        method: 'POST',
        headers: { Authorization: who, 'Content-Type': type },
        body: typeof body === 'string' ? body : new Uint8Array(body),
      });
      return { status: response.status, json: await response.json() };
    },
    async mailboxRoles() {
      const [boxes] = await jam.api.Mailbox.get({
        accountId: await jam.getPrimaryAccount(),
        properties: ['id', 'role'],
      });
      return Object.fromEntries(boxes.list.filter((m) => m.role).map((m) => [m.role!, m.id]));
    },
  };
}

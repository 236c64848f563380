// Every method this server answers, and the capabilities they make: a capability is advertised in
// the session only when its methods are here.
import { coreMethods } from './core-methods.ts';
import { blobCopyMethod } from './blob-copy.ts';
import { emailChangesMethod } from './email-changes.ts';
import { emailGetMethod } from './email-get.ts';
import { emailQueryMethod } from './email-query.ts';
import { emailQueryChangesMethod } from './email-query-changes.ts';
import { emailSetMethod } from './email-set.ts';
import { emailImportMethod } from './email-create.ts';
import { emailCopyMethod } from './email-copy.ts';
import { emailParseMethod, searchSnippetMethod } from './email-parse.ts';
import { mailboxMethods } from './mailbox-methods.ts';
import { vacationMethods } from './vacation-methods.ts';
import { identityMethods } from './identity-methods.ts';
import { quotaMethods } from './quota-methods.ts';
import { submissionMethods } from './submission-methods.ts';
import { threadMethods } from './thread-methods.ts';
import { contactsMethods } from './contacts-methods.ts';
import type { JmapCallContext } from './jmap-context.ts';
import type { JmapMethod } from './jmap-request.ts';
import { inNamedAccount, runsInSharedAccounts } from './jmap-accounts.ts';

const methods: [string, JmapMethod<JmapCallContext>][] = [
  ...coreMethods,
  blobCopyMethod,
  ...mailboxMethods,
  ...vacationMethods,
  emailGetMethod,
  emailQueryMethod,
  emailQueryChangesMethod,
  emailChangesMethod,
  emailSetMethod,
  emailImportMethod,
  emailCopyMethod,
  emailParseMethod,
  searchSnippetMethod,
  ...threadMethods,
  ...identityMethods,
  ...submissionMethods,
  ...quotaMethods,
  ...contactsMethods,
];

/** Mail methods run in the account their accountId names, the user's own or a shared one (jmap-accounts.ts). */
export const jmapMethods: ReadonlyMap<string, JmapMethod<JmapCallContext>> = new Map(
  methods.map(([name, method]) => [name, runsInSharedAccounts(method) ? inNamedAccount(method) : method]),
);

export const jmapCapabilities: ReadonlySet<string> = new Set([...jmapMethods.values()].map((m) => m.capability));

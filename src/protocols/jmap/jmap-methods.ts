// Every method this server answers, and the capabilities they make: a capability is advertised in
// the session only when its methods are here.
import { coreMethods } from './core-methods.ts';
import { emailChangesMethod } from './email-changes.ts';
import { emailGetMethod } from './email-get.ts';
import { emailQueryMethod } from './email-query.ts';
import { emailQueryChangesMethod } from './email-query-changes.ts';
import { emailSetMethod } from './email-set.ts';
import { emailCopyMethod, emailImportMethod } from './email-create.ts';
import { emailParseMethod, searchSnippetMethod } from './email-parse.ts';
import { mailboxMethods } from './mailbox-methods.ts';
import { vacationMethods } from './vacation-methods.ts';
import { identityMethods } from './identity-methods.ts';
import { quotaMethods } from './quota-methods.ts';
import { submissionMethods } from './submission-methods.ts';
import { threadMethods } from './thread-methods.ts';
import type { JmapCallContext } from './jmap-context.ts';
import type { JmapMethod } from './jmap-request.ts';

export const jmapMethods: ReadonlyMap<string, JmapMethod<JmapCallContext>> = new Map([
  ...coreMethods,
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
]);

export const jmapCapabilities: ReadonlySet<string> = new Set([...jmapMethods.values()].map((m) => m.capability));

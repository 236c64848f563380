// The ordered list of schema migrations. Append only: a released migration is never edited.
import type { Kysely } from 'kysely';
import type { Dialect } from '../database.ts';
import * as directory from './0001-directory.ts';
import * as mailFlow from './0002-mail-flow.ts';
import * as dkim from './0003-dkim.ts';
import * as mailboxGrants from './0004-mailbox-grants.ts';
import * as mailboxAccess from './0005-mailbox-access.ts';
import * as calendars from './0006-calendars.ts';
import * as serviceHealth from './0007-service-health.ts';
import * as contentReferences from './0008-content-references.ts';
import * as mailboxUsedBytes from './0009-mailbox-used-bytes.ts';
import * as queueClaimIndexes from './0010-queue-claim-indexes.ts';
import * as queueVerifiedAuthor from './0011-queue-verified-author.ts';
import * as loginFailures from './0012-login-failures.ts';
import * as principalDisabled from './0013-principal-disabled.ts';
import * as folderLifecycle from './0014-folder-lifecycle.ts';
import * as recentMessages from './0015-recent-messages.ts';
import * as sessionGeneration from './0016-session-generation.ts';
import * as cluster from './0017-cluster.ts';
import * as backupRestore from './0018-backup-restore.ts';
import * as backupRuns from './0019-backup-runs.ts';
import * as contentMetadataAge from './0021-content-metadata-age.ts';
import * as continuity from './0020-continuity.ts';
import * as emailThreads from './0022-email-threads.ts';
import * as vacationResponses from './0024-vacation-responses.ts';
import * as jmapSubmission from './0023-jmap-submission.ts';
import * as dropFullText from './0025-drop-full-text.ts';
import * as jmapUploads from './0026-jmap-uploads.ts';
import * as webSessions from './0027-web-sessions.ts';
import * as sieveScripts from './0028-sieve-scripts.ts';
import * as quarantine from './0030-quarantine.ts';
import * as contacts from './0029-contacts.ts';
import * as tenantSettings from './0031-tenant-settings.ts';
import * as resourceSettings from './0032-resource-settings.ts';
import * as submissionJunkCopies from './0033-submission-junk-copies.ts';

export interface Migration {
  version: number;
  name: string;
  up(db: Kysely<any>, dialect: Dialect): Promise<void>;
}

export const migrations: Migration[] = [
  { version: 1, name: 'directory', up: directory.up },
  { version: 2, name: 'mail-flow', up: mailFlow.up },
  { version: 3, name: 'dkim', up: dkim.up },
  { version: 4, name: 'mailbox-grants', up: mailboxGrants.up },
  { version: 5, name: 'mailbox-access', up: mailboxAccess.up },
  { version: 6, name: 'calendars', up: calendars.up },
  { version: 7, name: 'service-health', up: serviceHealth.up },
  { version: 8, name: 'content-references', up: contentReferences.up },
  { version: 9, name: 'mailbox-used-bytes', up: mailboxUsedBytes.up },
  { version: 10, name: 'queue-claim-indexes', up: queueClaimIndexes.up },
  { version: 11, name: 'queue-verified-author', up: queueVerifiedAuthor.up },
  { version: 12, name: 'login-failures', up: loginFailures.up },
  { version: 13, name: 'principal-disabled', up: principalDisabled.up },
  { version: 14, name: 'folder-lifecycle', up: folderLifecycle.up },
  { version: 15, name: 'recent-messages', up: recentMessages.up },
  { version: 16, name: 'session-generation', up: sessionGeneration.up },
  { version: 17, name: 'cluster', up: cluster.up },
  { version: 18, name: 'backup-restore', up: backupRestore.up },
  { version: 19, name: 'backup-runs', up: backupRuns.up },
  { version: 20, name: 'continuity', up: continuity.up },
  { version: 21, name: 'content-metadata-age', up: contentMetadataAge.up },
  { version: 22, name: 'email-threads', up: emailThreads.up },
  { version: 23, name: 'jmap-submission', up: jmapSubmission.up },
  { version: 24, name: 'vacation-responses', up: vacationResponses.up },
  { version: 25, name: 'drop-full-text', up: dropFullText.up },
  { version: 26, name: 'jmap-uploads', up: jmapUploads.up },
  { version: 27, name: 'web-sessions', up: webSessions.up },
  { version: 28, name: 'sieve-scripts', up: sieveScripts.up },
  { version: 30, name: 'quarantine', up: quarantine.up },
  { version: 29, name: 'contacts', up: contacts.up },
  { version: 31, name: 'tenant-settings', up: tenantSettings.up },
  { version: 32, name: 'resource-settings', up: resourceSettings.up },
  { version: 33, name: 'submission-junk-copies', up: submissionJunkCopies.up },
  // Versions 22 to 24 were written side by side: whatever order their entries end up in, the
  // migrations run, and the latest version is read, by number.
].sort((a, b) => a.version - b.version);

export const latestSchemaVersion = migrations.at(-1)!.version;

// holdfast resource add|list|set|show (rooms, equipment, their capacity and booking policy:
// directory/resource-settings.ts) and holdfast shared add|list (shared mailboxes): mailboxes nobody
// signs in to directly.
import { Option, type Command } from 'commander';
import {
  durationText,
  parseBookers,
  parseBookInPolicy,
  parseCapacity,
  parseMaxDuration,
  parseWindowDays,
  parseYesNo,
  ResourceSettingError,
  type ResourceSettings,
  type ResourceSettingsChange,
  resourceSettings,
  setResourceSettings,
} from '../directory/resource-settings.ts';
import { invalid } from '../errors.ts';
import type { Grant } from '../directory/tenant-directory.ts';
import type { PrincipalKind } from '../store/schema.ts';
import { action, tenantFor, withDirectory } from './context.ts';
import { print, table } from './output.ts';
import { listPrincipals, quotaText, type ListedPrincipal } from './principal-listing.ts';
import { quota } from './user-commands.ts';

export function registerResourceCommands(program: Command) {
  const resource = program.command('resource').description('rooms and equipment that can be booked');
  action<[string]>(
    resource
      .command('add <address>')
      .description('add a room or piece of equipment')
      .addOption(new Option('--type <type>', 'kind of resource').choices(['room', 'equipment']).makeOptionMandatory())
      .option('--name <display name>', 'display name'),
    (address, options) => addMailboxPrincipal(address, options.type as PrincipalKind, options),
  );
  action<[]>(
    resource.command('list').description('list rooms and equipment').option('--tenant <name>', 'only this tenant'),
    (options) =>
      withDirectory(async ({ directory }) => {
        const rows = await listPrincipals(directory, ['room', 'equipment'], options);
        print(options, rows, () =>
          table(
            ['RESOURCE', 'TYPE', 'NAME', 'TENANT'],
            rows.map((r) => [r.address, r.kind, r.displayName, r.tenant]),
          ),
        );
      }),
  );

  action<[string]>(
    resource.command('show <address>').description("show a room's or equipment's capacity and booking policy"),
    (address, options) =>
      withDirectory(async ({ directory, store }) => {
        const scope = await tenantFor(directory, { address });
        const found = await scope.getPrincipal(address, ['room', 'equipment']);
        const settings = await resourceSettings(store.db, found.id);
        print(options, { address: found.address, kind: found.kind, name: found.displayName, ...settings }, () =>
          describeResource(found, settings),
        );
      }),
  );

  action<[string]>(
    resource
      .command('set <address>')
      .description("change a room's capacity or a resource's booking policy")
      .option('--capacity <n>', 'people the room seats (rooms only; "none" to unset)')
      .option('--auto-accept <yes|no>', 'answer at once; "no": requests wait for a delegate with write access')
      .option('--allow-conflicts <yes|no>', 'accept meetings that overlap existing bookings')
      .option('--window-days <n>', 'how many days ahead it may be booked')
      .option('--max-duration <duration>', 'the longest a meeting may last, such as 90m, 4h or 1d')
      .option('--recurring <yes|no>', 'accept recurring meetings')
      .option('--book-in-policy <everyone|list>', 'who may book: everyone in the organisation, or --bookers only')
      .option('--bookers <addresses>', 'comma-separated addresses and groups that may book'),
    (address, options) =>
      withDirectory(async ({ directory, store }) => {
        const change = settingsChange(options);
        if (Object.keys(change).length === 0)
          throw invalid('nothing-to-set', 'say what to change, e.g. --capacity 12 or --auto-accept no');
        const scope = await tenantFor(directory, { address });
        const found = await scope.getPrincipal(address, ['room', 'equipment']);
        const settings = await setResourceSettings(store.db, found, change, Date.now()).catch((e) => {
          throw optionError(e);
        });
        print(options, { address: found.address, kind: found.kind, name: found.displayName, ...settings }, () =>
          describeResource(found, settings),
        );
      }),
  );
}

/** Each setting's option, as refusals name it. */
const settingOptions: Record<keyof ResourceSettings, string> = {
  capacity: '--capacity',
  autoAccept: '--auto-accept',
  allowConflicts: '--allow-conflicts',
  windowDays: '--window-days',
  maxDurationMinutes: '--max-duration',
  allowRecurring: '--recurring',
  bookInPolicy: '--book-in-policy',
  bookers: '--bookers',
};

/** The change the options ask for; a refused value names its option, the value and what is allowed. */
function settingsChange(options: Record<string, unknown>): ResourceSettingsChange {
  const change: ResourceSettingsChange = {};
  try {
    if (options.capacity !== undefined) change.capacity = parseCapacity(options.capacity);
    if (options.autoAccept !== undefined) change.autoAccept = parseYesNo('autoAccept', options.autoAccept);
    if (options.allowConflicts !== undefined)
      change.allowConflicts = parseYesNo('allowConflicts', options.allowConflicts);
    if (options.windowDays !== undefined) change.windowDays = parseWindowDays(options.windowDays);
    if (options.maxDuration !== undefined) change.maxDurationMinutes = parseMaxDuration(options.maxDuration);
    if (options.recurring !== undefined) change.allowRecurring = parseYesNo('allowRecurring', options.recurring);
    if (options.bookInPolicy !== undefined) change.bookInPolicy = parseBookInPolicy(options.bookInPolicy);
    if (options.bookers !== undefined) change.bookers = parseBookers(options.bookers);
  } catch (error) {
    throw optionError(error);
  }
  return change;
}

function optionError(error: unknown): unknown {
  return error instanceof ResourceSettingError
    ? invalid(error.code, `${settingOptions[error.setting]}: ${error.problem}`)
    : error;
}

const yesNo = (value: boolean) => (value ? 'yes' : 'no');

function describeResource(
  resource: { address: string; kind: string; displayName: string | null },
  s: ResourceSettings,
): string {
  return [
    `${resource.kind} ${resource.address}${resource.displayName ? ` (${resource.displayName})` : ''}`,
    ...(resource.kind === 'room' ? [`capacity: ${s.capacity ?? 'not set'}`] : []),
    `auto-accept: ${yesNo(s.autoAccept)}${s.autoAccept ? '' : ' (requests wait for a delegate with write access to its calendar)'}`,
    `allow conflicts: ${yesNo(s.allowConflicts)}`,
    `booking window: ${s.windowDays} days`,
    `maximum duration: ${durationText(s.maxDurationMinutes)}`,
    `recurring meetings: ${yesNo(s.allowRecurring)}`,
    `who may book: ${s.bookInPolicy === 'everyone' ? 'everyone in the organisation' : s.bookers.join(', ')}`,
  ].join('\n');
}

export function registerSharedMailboxCommands(program: Command) {
  const shared = program.command('shared').description('shared mailboxes (team addresses such as info@ or support@)');
  action<[string]>(
    shared
      .command('add <address>')
      .description('add a shared mailbox')
      .option('--name <display name>', 'display name')
      .option('--quota <size>', 'mailbox quota', 'unlimited'),
    (address, options) => addMailboxPrincipal(address, 'shared', options),
  );
  action<[]>(
    shared
      .command('list')
      .description('list shared mailboxes and who may use them')
      .option('--tenant <name>', 'only this tenant'),
    (options) =>
      withDirectory(async ({ directory }) => {
        const rows: (ListedPrincipal & { grants: Grant[] })[] = [];
        for (const mailbox of await listPrincipals(directory, ['shared'], options)) {
          const scope = await directory.tenant(mailbox.tenant);
          rows.push({ ...mailbox, grants: await scope.listGrants(mailbox.address) });
        }
        const rights = (g: Grant) =>
          [g.fullAccess ? 'full-access' : '', g.sendAs ? 'send-as' : ''].filter(Boolean).join('+');
        print(options, rows, () =>
          table(
            ['SHARED MAILBOX', 'NAME', 'QUOTA', 'GRANTS', 'TENANT'],
            rows.map((r) => [
              r.address,
              r.displayName,
              quotaText(r),
              r.grants.map((g) => `${g.grantee} (${rights(g)})`).join(', ') || '-',
              r.tenant,
            ]),
          ),
        );
      }),
  );

  action<[string, string]>(
    shared
      .command('grant <mailbox> <user>')
      .description('let a user open a shared mailbox (--full-access) and/or send as it (--send-as)')
      .option('--full-access', 'open and manage the mailbox')
      .option('--send-as', 'send mail from its addresses'),
    (mailbox, user, options) =>
      withDirectory(async ({ directory }) => {
        const scope = await tenantFor(directory, { address: mailbox });
        const grant = await scope.grant(mailbox, user, {
          fullAccess: Boolean(options.fullAccess),
          sendAs: Boolean(options.sendAs),
        });
        print(
          options,
          grant,
          () =>
            `${grant.grantee} may now ${[grant.fullAccess ? 'open' : '', grant.sendAs ? 'send as' : ''].filter(Boolean).join(' and ')} ${grant.mailbox}`,
        );
      }),
  );

  action<[string, string]>(
    shared.command('revoke <mailbox> <user>').description("take a user's rights on a shared mailbox away"),
    (mailbox, user, options) =>
      withDirectory(async ({ directory }) => {
        const scope = await tenantFor(directory, { address: mailbox });
        await scope.revoke(mailbox, user);
        print(
          options,
          { mailbox: mailbox.toLowerCase(), revoked: user.toLowerCase() },
          () => `${user.toLowerCase()} has no rights on ${mailbox.toLowerCase()} any more`,
        );
      }),
  );
}

function addMailboxPrincipal(
  address: string,
  kind: PrincipalKind,
  options: { name?: string; quota?: string; json?: boolean },
) {
  return withDirectory(async ({ directory }) => {
    const scope = await tenantFor(directory, { address });
    const added = await scope.addPrincipal({
      kind,
      address,
      displayName: options.name,
      quotaBytes: options.quota ? quota(options.quota) : null,
    });
    print(options, added, () => `added ${kind === 'shared' ? 'shared mailbox' : kind} ${added.address}`);
  });
}

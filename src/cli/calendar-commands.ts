// holdfast calendar list|grant|revoke: a principal's calendars and who they are shared with.
import { Option, type Command } from 'commander';
import { grantCalendar, listCalendarGrants, revokeCalendar } from '../calendar/calendar-access.ts';
import { defaultCalendar, ensureDefaultCalendar, listCalendars } from '../calendar/calendars.ts';
import { action, tenantFor, withDirectory } from './context.ts';
import { print, table } from './output.ts';

export function registerCalendarCommands(program: Command) {
  const calendar = program.command('calendar').description('calendars and calendar sharing');

  action<[string]>(
    calendar
      .command('list <address>')
      .description("list a principal's calendars, their objects and who they are shared with"),
    (address, options) =>
      withDirectory(async ({ directory, store }) => {
        const owner = await (await tenantFor(directory, { address })).getPrincipal(address);
        await ensureDefaultCalendar(store.db, owner, Date.now());
        const grants = await listCalendarGrants(store.db, owner.id);
        const rows: {
          calendar: string;
          name: string | null;
          components: string;
          objects: number;
          sharedWith: string[];
        }[] = [];
        for (const c of await listCalendars(store.db, owner.id)) {
          const objects = await store.db
            .selectFrom('calendar_objects')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('calendar_id', '=', c.id)
            .executeTakeFirstOrThrow();
          const shared = grants.filter((g) => g.calendar === c.uri).map((g) => `${g.grantee} (${g.access})`);
          rows.push({
            calendar: c.uri,
            name: c.display_name,
            components: c.components,
            objects: Number(objects.n),
            sharedWith: shared,
          });
        }
        print(options, rows, () =>
          table(
            ['CALENDAR', 'NAME', 'HOLDS', 'OBJECTS', 'SHARED WITH'],
            rows.map((r) => [r.calendar, r.name, r.components, r.objects, r.sharedWith.join(', ') || '-']),
          ),
        );
      }),
  );

  action<[string, string]>(
    calendar
      .command('grant <owner> <grantee>')
      .description("share the owner's calendar with another principal of the same tenant")
      .option('--calendar <name>', 'which calendar', defaultCalendar.uri)
      .addOption(new Option('--access <access>', 'read, or read and write').choices(['read', 'write']).default('read')),
    (ownerAddress, granteeAddress, options) =>
      withDirectory(async ({ directory, store }) => {
        const owner = await (await tenantFor(directory, { address: ownerAddress })).getPrincipal(ownerAddress);
        const grantee = await (await tenantFor(directory, { address: granteeAddress })).getPrincipal(granteeAddress);
        const grant = await grantCalendar(
          store.db,
          { owner, grantee, calendar: options.calendar, access: options.access },
          Date.now(),
        );
        print(
          options,
          grant,
          () =>
            `${grant.grantee} may now ${grant.access === 'write' ? 'read and change' : 'read'} ${grant.owner}'s ${grant.calendar === defaultCalendar.uri ? 'default calendar' : `calendar "${grant.calendar}"`}`,
        );
      }),
  );

  action<[string, string]>(
    calendar
      .command('revoke <owner> <grantee>')
      .description('stop sharing a calendar')
      .option('--calendar <name>', 'which calendar', defaultCalendar.uri),
    (ownerAddress, granteeAddress, options) =>
      withDirectory(async ({ directory, store }) => {
        const owner = await (await tenantFor(directory, { address: ownerAddress })).getPrincipal(ownerAddress);
        const grantee = await (await tenantFor(directory, { address: granteeAddress })).getPrincipal(granteeAddress);
        await revokeCalendar(store.db, { owner, grantee, calendar: options.calendar });
        print(
          options,
          { owner: owner.address, calendar: options.calendar, revoked: grantee.address },
          () => `${grantee.address} no longer has access to ${owner.address}'s calendar ${options.calendar}`,
        );
      }),
  );
}

// When a principal is busy: the busy time of all its own calendars (as scheduling and free/busy
// lookups see it), never what the events are.
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { CalendarObject } from './calendar-object.ts';
import { listCalendars, listObjects, parsedObject } from './calendars.ts';
import { busyPeriods, type BusyPeriod } from './free-busy.ts';
import type { ExpansionBudget } from './recurrence-budget.ts';
import type { TimeRange } from './recurrence.ts';

export async function busyTimeOf(
  db: Kysely<Database>,
  principal: { id: number; address: string },
  range: TimeRange,
  options: { ignoreUid?: string; budget?: ExpansionBudget } = {},
): Promise<BusyPeriod[]> {
  const objects: CalendarObject[] = [];
  for (const calendar of await listCalendars(db, principal.id)) {
    for (const row of await listObjects(db, calendar.id, { component: 'VEVENT', range })) {
      if (row.uid !== options.ignoreUid) objects.push(parsedObject(row));
    }
  }
  return busyPeriods(objects, range, principal.address, options.budget);
}

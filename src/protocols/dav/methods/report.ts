// REPORT on a calendar: calendar-query (RFC 4791 §7.8), calendar-multiget (§7.9), free-busy-query
// (§7.10) and sync-collection (RFC 6578).
import type { CalendarObject } from '../../../calendar/calendar-object.ts';
import { matchesQuery, queryScope, type ComponentFilter, type TimeRange } from '../../../calendar/calendar-query.ts';
import {
  changesSince,
  getObjects,
  listObjects,
  parsedObject,
  type CalendarObjectRow,
} from '../../../calendar/calendars.ts';
import { expandObject } from '../../../calendar/expand.ts';
import { busyPeriods, freeBusyCalendar } from '../../../calendar/free-busy.ts';
import { overlaps } from '../../../calendar/recurrence.ts';
import { principalById } from '../../../directory/principal.ts';
import { HoldfastError, invalid } from '../../../errors.ts';
import { multigetBody, syncCollectionBody } from '../collection-reports.ts';
import { parseFilter, timeRange } from '../calendar-filter-xml.ts';
import {
  InstanceAllowance,
  limitProperties,
  requestExpansionBudget,
  requestExpansionSteps,
  tooManyInstances,
} from '../request-limits.ts';
import { ExpansionBudgetSpent, type ExpansionBudget } from '../../../calendar/recurrence-budget.ts';
import { objectHref, type DavResource } from '../dav-resources.ts';
import { xmlReply, type DavContext, type MethodHandler } from '../dav-reply.ts';
import { objectProperties, propstats } from '../properties.ts';
import {
  caldav,
  child,
  dav,
  displayName,
  multistatus,
  parseXml,
  propstatResponse,
  type XmlElement,
  type XmlNode,
} from '../xml/dav-xml.ts';
import type { PropertyRequest } from './propfind.ts';

type CalendarResource = Extract<DavResource, { kind: 'calendar' }>;

export const handleReport: MethodHandler = async (context, resource, request) => {
  const root = parseXml(request.body);
  if (resource.kind !== 'calendar') {
    throw new HoldfastError(
      'forbidden',
      'supported-report',
      `${displayName(root.name)} is answered on calendar collections; ${resource.href} is not one`,
    );
  }
  switch (root.name) {
    case caldav('calendar-query'):
      return calendarQuery(context, resource, root);
    case caldav('calendar-multiget'):
      return calendarMultiget(context, resource, root);
    case dav('sync-collection'):
      return syncCollection(context, resource, root);
    case caldav('free-busy-query'):
      return freeBusyQuery(context, resource, root);
    default:
      throw new HoldfastError(
        'forbidden',
        'supported-report',
        `REPORT ${displayName(root.name)} is not supported: use calendar-query, calendar-multiget, free-busy-query or sync-collection`,
      );
  }
};

/** What an expanding report writes out, and the work all its expansions share. */
interface Expansion {
  range: TimeRange;
  budget: ExpansionBudget;
  allowance: InstanceAllowance;
}

/** The properties a report asks for, and the expansion if calendar-data asks for one. */
function reportProperties(root: XmlElement): { wanted: PropertyRequest; expand?: Expansion } {
  if (child(root, dav('allprop'))) return { wanted: 'all' };
  if (child(root, dav('propname'))) return { wanted: 'names' };
  const prop = child(root, dav('prop'));
  const expandElement = child(child(prop, caldav('calendar-data')), caldav('expand'));
  const expand = expandElement
    ? { range: timeRange(expandElement), budget: requestExpansionBudget(), allowance: new InstanceAllowance() }
    : undefined;
  return { wanted: prop ? limitProperties(prop.children) : 'all', expand };
}

async function calendarQuery(context: DavContext, resource: CalendarResource, root: XmlElement) {
  const { wanted, expand } = reportProperties(root);
  const filter = parseFilter(child(root, caldav('filter')));
  const scope = queryScope(filter);
  const rows = await listObjects(context.db, resource.calendar.id, scope);
  const simple = isSimpleRangeQuery(filter);
  // The filter and the expansion of one request share its budget.
  const budget = expand?.budget ?? requestExpansionBudget();
  const matches = rows.filter((row) => {
    // A single event's stored span is exactly its one instance: no need to parse it.
    if (simple && !row.recurring)
      return (
        !scope.range || overlaps({ start: row.first_start, end: row.last_end }, scope.range.start, scope.range.end)
      );
    return matchesQuery(parsedObject(row), filter, budget);
  });
  return xmlReply(207, multistatus(matches.map((row) => objectResponse(context, resource, row, wanted, expand))));
}

/** VCALENDAR > one component, filtered by at most a time range: the span columns answer it. */
function isSimpleRangeQuery(filter: ComponentFilter): boolean {
  const inner = filter.components[0];
  return (
    filter.properties.length === 0 &&
    filter.components.length === 1 &&
    !filter.isNotDefined &&
    !!inner &&
    !inner.isNotDefined &&
    inner.properties.length === 0 &&
    inner.components.length === 0
  );
}

async function calendarMultiget(context: DavContext, resource: CalendarResource, root: XmlElement) {
  const { wanted, expand } = reportProperties(root);
  const body = await multigetBody(
    root,
    resource.href,
    (uris) => getObjects(context.db, resource.calendar.id, uris),
    (row) => objectResponse(context, resource, row, wanted, expand),
  );
  return xmlReply(207, body);
}

async function syncCollection(context: DavContext, resource: CalendarResource, root: XmlElement) {
  const { wanted } = reportProperties(root);
  const { calendar } = resource;
  const body = await syncCollectionBody(root, {
    href: resource.href,
    collection: calendar,
    all: () => listObjects(context.db, calendar.id),
    changesSince: (since) => changesSince(context.db, calendar.id, since),
    members: (uris) => getObjects(context.db, calendar.id, uris),
    response: (row) => objectResponse(context, resource, row, wanted),
  });
  return xmlReply(207, body);
}

async function freeBusyQuery(context: DavContext, resource: CalendarResource, root: XmlElement) {
  const rangeElement = child(root, caldav('time-range'));
  if (!rangeElement) throw invalid('valid-filter', 'a free-busy-query needs a C:time-range');
  const range = timeRange(rangeElement);
  const rows = await listObjects(context.db, resource.calendar.id, { component: 'VEVENT', range });
  const objects: CalendarObject[] = rows.map(parsedObject);
  const owner = await principalById(context.db, resource.calendar.principal_id);
  const busy = busyPeriods(objects, range, owner.address, requestExpansionBudget());
  return {
    status: 200,
    headers: { 'Content-Type': 'text/calendar; charset=utf-8' },
    body: freeBusyCalendar(busy, range),
  };
}

function objectResponse(
  context: DavContext,
  resource: CalendarResource,
  row: CalendarObjectRow,
  wanted: PropertyRequest,
  expand?: Expansion,
): XmlNode {
  const href = objectHref(resource.href, row.uri);
  const getters = objectProperties(
    { href, row },
    { viewer: context.viewer, maxResourceSize: context.maxResourceSize },
    resource.right,
  );
  if (expand) {
    const { range, budget, allowance } = expand;
    getters.set(caldav('calendar-data'), () => {
      try {
        return expandObject(parsedObject(row), range, { budget, onInstance: () => allowance.take() });
      } catch (error) {
        if (error instanceof ExpansionBudgetSpent)
          throw tooManyInstances(
            `expanding the range takes more than the ${requestExpansionSteps} iteration steps one request may use`,
          );
        throw error;
      }
    });
  }
  return propstatResponse(href, propstats(getters, wanted, context.preferMinimal));
}

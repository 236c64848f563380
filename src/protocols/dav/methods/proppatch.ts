// PROPPATCH (RFC 4918 §9.2) on calendars, and calendar creation by MKCALENDAR (RFC 4791 §5.3.1) or
// extended MKCOL (RFC 5689). Changes are all or nothing: one refused property refuses them all.
import { mayWrite } from '../../../calendar/calendar-access.ts';
import {
  createCalendar,
  updateCalendar,
  type CalendarProperties,
  type CalendarRow,
} from '../../../calendar/calendars.ts';
import { conflict, forbidden, HoldfastError, notFound } from '../../../errors.ts';
import { xmlReply, type MethodHandler } from '../dav-reply.ts';
import { deadProperties, protectedProperties, writableCalendarProperties } from '../properties.ts';
import {
  apple,
  caldav,
  child,
  childrenNamed,
  dav,
  displayName,
  expectRoot,
  multistatus,
  node,
  parseXml,
  propstatResponse,
  type XmlElement,
} from '../xml/dav-xml.ts';

interface PropertyChange {
  element: XmlElement;
  remove: boolean;
}

export const handleProppatch: MethodHandler = async (context, resource, request) => {
  if (resource.kind === 'missing' || resource.kind === 'new-calendar')
    throw notFound('no-such-resource', `${resource.href} does not exist`);
  const root = expectRoot(parseXml(request.body), dav('propertyupdate'));
  const changes: PropertyChange[] = [];
  for (const instruction of root.children) {
    const remove = instruction.name === dav('remove');
    if (!remove && instruction.name !== dav('set')) continue;
    for (const element of child(instruction, dav('prop'))?.children ?? []) changes.push({ element, remove });
  }
  if (resource.kind !== 'calendar') {
    // Principals, homes and objects have no properties a client may set.
    return xmlReply(
      207,
      multistatus([
        propstatResponse(resource.href, [{ status: 403, properties: changes.map((c) => node(c.element.name)) }]),
      ]),
    );
  }
  if (!mayWrite(resource.right)) throw forbidden('need-privileges', `you may read ${resource.href} but not change it`);
  const refusals = new Map<string, string>();
  const { properties, dead } = collectChanges(resource.calendar, changes, refusals, false);
  if (refusals.size) {
    return xmlReply(
      207,
      multistatus([
        propstatResponse(resource.href, [
          { status: 403, properties: [...refusals.keys()].map((name) => node(name)) },
          {
            status: 424,
            properties: changes.filter((c) => !refusals.has(c.element.name)).map((c) => node(c.element.name)),
          },
        ]),
      ]),
      {},
    );
  }
  try {
    await updateCalendar(context.db, resource.calendar.id, { ...properties, deadProperties: JSON.stringify(dead) });
  } catch (error) {
    if (!(error instanceof HoldfastError) || error.kind !== 'invalid') throw error;
    return xmlReply(
      207,
      multistatus([
        propstatResponse(resource.href, [{ status: 403, properties: changes.map((c) => node(c.element.name)) }]),
      ]),
    );
  }
  return xmlReply(
    207,
    multistatus([
      propstatResponse(resource.href, [{ status: 200, properties: changes.map((c) => node(c.element.name)) }]),
    ]),
  );
};

export const handleMkcalendar: MethodHandler = async (context, resource, request) => {
  if (resource.kind === 'calendar' || resource.kind === 'schedule-inbox' || resource.kind === 'schedule-outbox')
    throw conflict('calendar-exists', `${resource.href} already exists`);
  if (resource.kind !== 'new-calendar') {
    throw resource.kind === 'missing'
      ? notFound('no-such-resource', `${resource.href}: calendars are created inside your own calendar home`)
      : forbidden('need-privileges', `${resource.href} cannot become a calendar`);
  }
  const changes = creationProperties(request.method, request.body);
  const refusals = new Map<string, string>();
  const { properties, dead } = collectChanges(undefined, changes, refusals, true);
  if (refusals.size) {
    throw forbidden(
      'cannot-modify-protected-property',
      `cannot set ${[...refusals.entries()].map(([name, why]) => `${displayName(name)} (${why})`).join(', ')} on a new calendar`,
    );
  }
  await createCalendar(
    context.db,
    resource.principal,
    resource.uri,
    { ...properties, deadProperties: Object.keys(dead).length ? JSON.stringify(dead) : null },
    context.now(),
  );
  return { status: 201, headers: { 'Cache-Control': 'no-cache' } };
};

/** The properties an MKCALENDAR or extended MKCOL body sets; MKCOL must ask for a calendar. */
function creationProperties(method: string, body: string): PropertyChange[] {
  if (!body.trim()) {
    if (method === 'MKCOL')
      throw forbidden(
        'need-privileges',
        'only calendars can be created here: send MKCALENDAR, or MKCOL with a calendar resourcetype (RFC 5689)',
      );
    return [];
  }
  const root = expectRoot(parseXml(body), method === 'MKCOL' ? dav('mkcol') : caldav('mkcalendar'));
  const set = childrenNamed(root, dav('set')).flatMap((s) => child(s, dav('prop'))?.children ?? []);
  const resourceType = set.find((e) => e.name === dav('resourcetype'));
  if (method === 'MKCOL' && !child(resourceType, caldav('calendar'))) {
    throw forbidden('need-privileges', 'only calendars can be created here: the resourcetype must include C:calendar');
  }
  return set.filter((e) => e.name !== dav('resourcetype')).map((element) => ({ element, remove: false }));
}

/** Sorts requested changes into known calendar properties and dead ones, noting refusals. */
function collectChanges(
  calendar: CalendarRow | undefined,
  changes: PropertyChange[],
  refusals: Map<string, string>,
  creating: boolean,
) {
  const properties: CalendarProperties = {};
  const dead = calendar ? deadProperties(calendar) : {};
  for (const { element, remove } of changes) {
    const { name } = element;
    if (protectedProperties.has(name)) {
      refusals.set(name, 'protected');
    } else if (name === caldav('supported-calendar-component-set')) {
      if (!creating) refusals.set(name, 'fixed when the calendar is created');
      else
        properties.components = childrenNamed(element, caldav('comp')).map((c) =>
          (c.attributes.name ?? '').toUpperCase(),
        );
    } else if (writableCalendarProperties.has(name)) {
      const value = remove ? null : element.text.trim() || null;
      if (name === dav('displayname')) properties.displayName = value;
      else if (name === caldav('calendar-description')) properties.description = value;
      else if (name === caldav('calendar-timezone')) properties.timezone = value;
      else if (name === apple('calendar-color')) {
        const color = value === null ? null : normaliseColor(value);
        if (color === undefined) refusals.set(name, 'expected #RRGGBB or #RRGGBBAA');
        else properties.color = color;
      }
    } else if (remove) {
      delete dead[name];
    } else if (element.children.length) {
      refusals.set(name, 'only text values can be stored');
    } else {
      dead[name] = element.text;
    }
  }
  return { properties, dead };
}

/** Apple clients send #RRGGBBAA; some send #RGB. Stored as #RRGGBB(AA); undefined if neither. */
function normaliseColor(value: string): string | undefined {
  const short = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(value);
  if (short) return `#${short[1]}${short[1]}${short[2]}${short[2]}${short[3]}${short[3]}`;
  return /^#[0-9a-f]{6}([0-9a-f]{2})?$/i.test(value) ? value : undefined;
}

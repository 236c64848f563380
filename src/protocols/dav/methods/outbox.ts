// POST to the scheduling outbox (RFC 6638 §5): free/busy lookups for people of the same tenant, as
// calendar clients do when they show attendees' availability (only busy times are returned), and
// proposals of a new time (COUNTER) and their refusals (DECLINECOUNTER).
import ICAL from 'ical.js';
import { busyTimeOf } from '../../../calendar/availability.ts';
import { parseCalendar } from '../../../calendar/calendar-object.ts';
import { freeBusyCalendar } from '../../../calendar/free-busy.ts';
import { calendarAddress, methodOf } from '../../../calendar/scheduling/itip.ts';
import { toMs } from '../../../calendar/recurrence.ts';
import { principalReachedBy } from '../../../directory/principal.ts';
import { forbidden, invalid, notFound } from '../../../errors.ts';
import { xmlReply, type MethodHandler } from '../dav-reply.ts';
import { limitAttendees, requestExpansionBudget } from '../request-limits.ts';
import { caldav, dav, node, writeXml, type XmlNode } from '../xml/dav-xml.ts';

/** Free/busy lookups beyond this span are refused: a year answers every client's view. */
const maxLookupMs = 366 * 86_400_000;

export const handlePost: MethodHandler = async (context, resource, request) => {
  if (resource.kind !== 'schedule-outbox') {
    if (resource.kind === 'missing') throw notFound('no-such-resource', `${resource.href} does not exist`);
    throw forbidden('need-privileges', `POST is for the scheduling outbox (${resource.href} is not one)`);
  }
  const root = parseCalendar(request.body);
  const method = methodOf(root);
  if (method === 'COUNTER' || method === 'DECLINECOUNTER') {
    const results = await context.scheduler.sendCounterMessage(context.viewer, request.body);
    const responses = results.map((r) =>
      node(caldav('response'), [
        node(caldav('recipient'), [node(dav('href'), `mailto:${r.recipient}`)]),
        node(caldav('request-status'), r.status),
      ]),
    );
    return xmlReply(200, writeXml(node(caldav('schedule-response'), responses)));
  }
  const freeBusy = root.getFirstSubcomponent('vfreebusy');
  if (method !== 'REQUEST' || !freeBusy)
    throw invalid(
      'valid-calendar-data',
      'the outbox takes free/busy requests (METHOD:REQUEST with a VFREEBUSY), COUNTER and DECLINECOUNTER',
    );
  const organizer = calendarAddress(freeBusy.getFirstPropertyValue('organizer'));
  if (organizer !== context.viewer.address)
    throw forbidden(
      'organizer-allowed',
      `ORGANIZER must be your own address (${context.viewer.address}), not ${organizer ?? 'missing'}`,
    );
  const start = freeBusy.getFirstPropertyValue('dtstart');
  const end = freeBusy.getFirstPropertyValue('dtend');
  if (!(start instanceof ICAL.Time) || !(end instanceof ICAL.Time))
    throw invalid('valid-calendar-data', 'a free/busy request needs DTSTART and DTEND');
  const range = { start: toMs(start), end: toMs(end) };
  if (range.end <= range.start || range.end - range.start > maxLookupMs)
    throw invalid('valid-calendar-data', 'a free/busy request covers more than 0 and at most 366 days');
  const uid = String(freeBusy.getFirstPropertyValue('uid') ?? '');

  const attendees = limitAttendees(
    freeBusy.getAllProperties('attendee').flatMap((property) => calendarAddress(property.getFirstValue()) ?? []),
  );
  const budget = requestExpansionBudget();
  const responses: XmlNode[] = [];
  for (const attendee of attendees) {
    const principal = await principalReachedBy(context.db, context.viewer.tenantId, attendee);
    const recipient = node(caldav('recipient'), [node(dav('href'), `mailto:${attendee}`)]);
    if (!principal) {
      responses.push(
        node(caldav('response'), [recipient, node(caldav('request-status'), '3.7;Invalid calendar user')]),
      );
      continue;
    }
    const busy = await busyTimeOf(context.db, principal, range, { budget });
    const reply = freeBusyCalendar(busy, range, { method: 'REPLY', organizer, attendee, uid: uid || undefined });
    responses.push(
      node(caldav('response'), [
        recipient,
        node(caldav('request-status'), '2.0;Success'),
        node(caldav('calendar-data'), reply),
      ]),
    );
  }
  return xmlReply(200, writeXml(node(caldav('schedule-response'), responses)));
};

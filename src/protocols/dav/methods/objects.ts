// GET, HEAD, PUT and DELETE of calendar objects (RFC 4791 §5.3.2) with ETag preconditions
// (If-Match / If-None-Match), and DELETE of whole calendars.
import { dropCalendarGrant, mayWrite } from '../../../calendar/calendar-access.ts';
import { exportCalendar } from '../../../calendar/calendar-export.ts';
import {
  defaultCalendar,
  deleteCalendar,
  deleteObject,
  getObject,
  listObjects,
  parsedObject,
  putObject,
} from '../../../calendar/calendars.ts';
import { deleteInboxItem, getInboxItem } from '../../../calendar/scheduling/schedule-inbox.ts';
import { parseCalendarObject } from '../../../calendar/calendar-object.ts';
import { principalById, type Principal } from '../../../directory/principal.ts';
import { forbidden, HoldfastError, invalid, notFound } from '../../../errors.ts';
import type { DavResource } from '../dav-resources.ts';
import type { DavContext, DavReply, DavRequest, MethodHandler } from '../dav-reply.ts';
import { deleteCollection } from './collection-delete.ts';

export const handleGet: MethodHandler = async (context, resource, request): Promise<DavReply> => {
  if (resource.kind === 'inbox-item') {
    const item = await getInboxItem(context.db, resource.principal.id, resource.uri);
    if (!item) throw notFound('no-such-object', `${resource.href} does not exist`);
    return {
      status: 200,
      headers: { 'Content-Type': `text/calendar; charset=utf-8; method=${item.method}`, ETag: item.etag },
      body: request.method === 'HEAD' ? undefined : item.data,
    };
  }
  if (resource.kind === 'calendar') {
    // The whole calendar as one .ics file (export, subscription by URL).
    const body = exportCalendar(resource.calendar, await listObjects(context.db, resource.calendar.id));
    return {
      status: 200,
      headers: {
        'Content-Type': 'text/calendar; charset=utf-8',
        'Content-Disposition': `attachment; filename="${resource.calendar.uri}.ics"`,
      },
      body: request.method === 'HEAD' ? undefined : body,
    };
  }
  if (resource.kind !== 'object') {
    if (resource.kind === 'missing' || resource.kind === 'new-calendar')
      throw notFound('no-such-resource', `${resource.href} does not exist`);
    return {
      status: 200,
      headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      body: 'Holdfast CalDAV: add this server to a calendar client (Thunderbird, Apple Calendar, DAVx5) with your email address and password.\n',
    };
  }
  const row = await getObject(context.db, resource.calendar.id, resource.uri);
  if (!row) throw notFound('no-such-object', `${resource.href} does not exist`);
  const headers = {
    'Content-Type': 'text/calendar; charset=utf-8',
    ETag: row.etag,
    'Last-Modified': new Date(row.updated_at).toUTCString(),
  };
  if (request.headers['if-none-match'] === row.etag) return { status: 304, headers };
  return { status: 200, headers, body: request.method === 'HEAD' ? undefined : row.data };
};

export const handlePut: MethodHandler = async (context, resource, request) => {
  const target = writableObject(resource);
  const type = request.headers['content-type'];
  if (type && !/^text\/calendar\b/i.test(type)) {
    throw new HoldfastError(
      'invalid',
      'supported-calendar-data',
      `Content-Type ${type} is not allowed: calendar objects are text/calendar`,
    );
  }
  if (Buffer.byteLength(request.body) > context.maxResourceSize) {
    throw invalid(
      'max-resource-size',
      `the calendar object is ${Buffer.byteLength(request.body)} bytes; the limit ([caldav] max_resource_size) is ${context.maxResourceSize}`,
    );
  }
  const previous = await getObject(context.db, target.calendar.id, target.uri);
  // Refused before anything is stored: too many attendees, or invitations the sending limits do not allow now.
  await context.scheduler.checkChange(
    await ownerOf(context, target),
    previous && parsedObject(previous),
    parseCalendarObject(request.body),
    scheduleOptions(request),
  );
  const result = await putObject(
    context.db,
    target.calendar,
    target.uri,
    request.body,
    { ifMatch: request.headers['if-match'], ifNoneMatch: request.headers['if-none-match'] },
    context.now(),
  );
  const status = result.created ? 201 : 204;
  const changed = await schedule(context, target, request, (owner, options) =>
    context.scheduler.afterWrite(owner, previous && parsedObject(previous), result.object, request.body, options),
  );
  if (changed) {
    // Answers that came back at once (rooms) are in the stored copy now: the client must fetch it,
    // so no ETag is returned (RFC 4791 §5.3.4).
    await putObject(context.db, target.calendar, target.uri, changed, {}, context.now());
    return { status };
  }
  // Stored exactly as sent, so the ETag is strong and may be returned.
  return { status, headers: { ETag: result.etag } };
};

/**
 * Runs implicit scheduling for a change the client made. The change itself is stored already; a
 * scheduling failure is logged and does not undo it. `Schedule-Reply: F` suppresses answers to the
 * organizer (RFC 6638 §8.1).
 */
async function schedule<T>(
  context: DavContext,
  target: Extract<DavResource, { kind: 'object' }>,
  request: DavRequest,
  run: (owner: Principal, options: { reply: boolean }) => Promise<T>,
): Promise<T | undefined> {
  try {
    return await run(await ownerOf(context, target), scheduleOptions(request));
  } catch (error) {
    context.log.warn({ err: error, path: request.path }, 'caldav: scheduling failed');
    return undefined;
  }
}

/** Whose calendar it is: scheduling acts for the owner (a delegate writes in someone else's). */
async function ownerOf(context: DavContext, target: Extract<DavResource, { kind: 'object' }>): Promise<Principal> {
  if (target.calendar.principal_id === context.viewer.id) return context.viewer;
  return principalById(context.db, target.calendar.principal_id);
}

const scheduleOptions = (request: DavRequest) => ({ reply: request.headers['schedule-reply']?.toUpperCase() !== 'F' });

export const handleDelete: MethodHandler = async (context, resource, request) => {
  if (resource.kind === 'object') {
    const target = writableObject(resource);
    const previous = await getObject(context.db, resource.calendar.id, resource.uri);
    if (previous)
      await context.scheduler.checkChange(
        await ownerOf(context, target),
        parsedObject(previous),
        undefined,
        scheduleOptions(request),
      );
    await deleteObject(context.db, resource.calendar, resource.uri, { ifMatch: request.headers['if-match'] });
    if (previous)
      await schedule(context, target, request, (owner, options) =>
        context.scheduler.afterDelete(owner, parsedObject(previous), previous.data, options),
      );
    return { status: 204 };
  }
  if (resource.kind === 'calendar') {
    const { calendar } = resource;
    return deleteCollection({
      href: resource.href,
      right: resource.right,
      sharedBy: resource.sharedBy,
      isDefault: calendar.uri === defaultCalendar.uri,
      defaultStays: 'the default calendar cannot be deleted (meeting invitations arrive in it)',
      dropShare: () => dropCalendarGrant(context.db, calendar.id, context.viewer.id),
      remove: () => deleteCalendar(context.db, calendar.id),
    });
  }
  if (resource.kind === 'inbox-item') {
    // The client has dealt with the message (RFC 6638 §4.2).
    if (!(await deleteInboxItem(context.db, resource.principal.id, resource.uri)))
      throw notFound('no-such-object', `${resource.href} does not exist`);
    return { status: 204 };
  }
  if (resource.kind === 'missing' || resource.kind === 'new-calendar')
    throw notFound('no-such-resource', `${resource.href} does not exist`);
  throw forbidden('need-privileges', `${resource.href} cannot be deleted`);
};

function writableObject(resource: DavResource): Extract<DavResource, { kind: 'object' }> {
  if (resource.kind === 'missing' || resource.kind === 'new-calendar')
    throw notFound('no-such-resource', `${resource.href}: there is no calendar here to hold it`);
  if (resource.kind !== 'object')
    throw forbidden('need-privileges', `${resource.href} is a collection; PUT calendar objects inside a calendar`);
  if (!mayWrite(resource.right))
    throw forbidden('need-privileges', `you may read ${resource.collectionHref} but not change it`);
  return resource;
}

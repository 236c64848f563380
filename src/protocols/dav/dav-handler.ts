// One CalDAV request, independent of the HTTP framework: the authenticated principal, the resource
// the path names, the method's handler, and the mapping of domain errors to WebDAV error bodies
// (RFC 4918 §16 preconditions, RFC 4791 §5.3.2.1).
import { isStoreUnavailable } from '../../store/store-unavailable.ts';
import { HoldfastError, ResourceConflict } from '../../errors.ts';
import { cardHandlers } from './carddav/card-methods.ts';
import { isCardPath, resolveCard } from './carddav/card-resources.ts';
import type { DavContext, DavReply, DavRequest, MethodHandler } from './dav-reply.ts';
import { objectHref, resolve } from './dav-resources.ts';
import { handleDelete, handleGet, handlePut } from './methods/objects.ts';
import { handleMkcalendar, handleProppatch } from './methods/proppatch.ts';
import { handlePropfind } from './methods/propfind.ts';
import { handlePost } from './methods/outbox.ts';
import { handleReport } from './methods/report.ts';
import { caldav, carddav, dav, node, writeXml } from './xml/dav-xml.ts';

export const davMethods = [
  'OPTIONS',
  'GET',
  'HEAD',
  'PUT',
  'DELETE',
  'POST',
  'PROPFIND',
  'PROPPATCH',
  'MKCALENDAR',
  'MKCOL',
  'REPORT',
] as const;

/** The DAV header: WebDAV class 1 and 3, CalDAV access and implicit scheduling, CardDAV (RFC 6352
 * §6.1), extended MKCOL (RFC 5689). */
export const davCompliance = '1, 3, calendar-access, calendar-auto-schedule, addressbook, extended-mkcol';

const handlers: Record<string, MethodHandler> = {
  GET: handleGet,
  HEAD: handleGet,
  PUT: handlePut,
  DELETE: handleDelete,
  PROPFIND: handlePropfind,
  PROPPATCH: handleProppatch,
  MKCALENDAR: handleMkcalendar,
  MKCOL: handleMkcalendar,
  REPORT: handleReport,
  POST: handlePost,
};

export async function handleDav(context: DavContext, request: DavRequest): Promise<DavReply> {
  try {
    const handler = handlers[request.method];
    if (!handler)
      return {
        status: 405,
        headers: { Allow: davMethods.join(', ') },
        body: `${request.method} is not supported here`,
      };
    const resolveContext = { db: context.db, viewer: context.viewer, now: context.now() };
    if (isCardPath(request.path)) {
      const cardHandler = cardHandlers[request.method];
      if (!cardHandler)
        return {
          status: 405,
          headers: { Allow: Object.keys(cardHandlers).join(', ') },
          body: `${request.method} is not supported on address books`,
        };
      const resource = await resolveCard(resolveContext, request.path);
      return await cardHandler(context, resource, request);
    }
    const resource = await resolve(resolveContext, request.path);
    return await handler(context, resource, request);
  } catch (error) {
    if (error instanceof HoldfastError) return errorReply(error, request.path);
    if (isStoreUnavailable(error)) {
      context.log.warn({ err: error, method: request.method, path: request.path }, 'caldav: store unavailable');
      return storeUnavailableReply();
    }
    context.log.error({ err: error, method: request.method, path: request.path }, 'caldav: request failed');
    return {
      status: 500,
      headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      body: 'Internal server error; the server log has the details',
    };
  }
}

/** What a 503 for an unreachable store asks clients to wait: about the time a database failover takes. */
const storeRetryAfterSeconds = 5;

/** A database failover or restart: nothing was done, and the client retries after the pause asked for. */
export function storeUnavailableReply(): DavReply {
  return {
    status: 503,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': String(storeRetryAfterSeconds) },
    body: 'The calendar store is unavailable for the moment; try again shortly\n',
  };
}

/** WebDAV precondition element for each domain error code that has one. */
const preconditions: Record<string, { element: string; status?: number }> = {
  'valid-calendar-data': { element: caldav('valid-calendar-data'), status: 403 },
  'valid-calendar-object-resource': { element: caldav('valid-calendar-object-resource'), status: 403 },
  'supported-calendar-component': { element: caldav('supported-calendar-component'), status: 403 },
  'no-uid-conflict': { element: caldav('no-uid-conflict'), status: 409 },
  'max-resource-size': { element: caldav('max-resource-size'), status: 403 },
  'valid-sync-token': { element: dav('valid-sync-token'), status: 403 },
  'supported-report': { element: dav('supported-report'), status: 403 },
  'cannot-modify-protected-property': { element: dav('cannot-modify-protected-property'), status: 403 },
  'need-privileges': { element: dav('need-privileges'), status: 403 },
  'calendar-exists': { element: dav('resource-must-be-null'), status: 405 },
  'etag-mismatch': { element: dav('etag-mismatch'), status: 412 },
  'valid-filter': { element: caldav('valid-filter'), status: 400 },
  // An answer that would exceed what one request may return (RFC 4918 §15, RFC 5323 §5.2).
  'number-of-matches-within-limits': { element: dav('number-of-matches-within-limits'), status: 507 },
  'organizer-allowed': { element: caldav('organizer-allowed'), status: 403 },
  'supported-collation': { element: caldav('supported-collation'), status: 403 },
  'supported-calendar-data': { element: caldav('supported-calendar-data'), status: 415 },
  'max-attendees-per-instance': { element: caldav('max-attendees-per-instance'), status: 403 },
  // CardDAV (RFC 6352 §6.3.2.1, §8.3).
  'valid-address-data': { element: carddav('valid-address-data'), status: 403 },
  'supported-address-data': { element: carddav('supported-address-data'), status: 415 },
  'card-uid-conflict': { element: carddav('no-uid-conflict'), status: 409 },
  'card-max-resource-size': { element: carddav('max-resource-size'), status: 403 },
  'supported-address-collation': { element: carddav('supported-collation'), status: 403 },
  'collection-exists': { element: dav('resource-must-be-null'), status: 405 },
  // The sender's sending limits (as on SMTP submission): temporary, so 429 (RFC 6585).
  'sending-limit': { element: '{urn:holdfast:dav}sending-limit', status: 429 },
};

export function errorReply(error: HoldfastError, path?: string): DavReply {
  const precondition = preconditions[error.code];
  const status = precondition?.status ?? error.httpStatus;
  // A UID conflict names the resource that has the UID (RFC 4791 §5.3.2.1, RFC 6352 §6.3.2.1): it is
  // in the collection the request's path is in.
  const conflicting =
    error instanceof ResourceConflict && path
      ? [node(dav('href'), objectHref(path.slice(0, path.lastIndexOf('/') + 1), error.resource))]
      : [];
  const body = writeXml(
    node(dav('error'), [
      ...(precondition ? [node(precondition.element, conflicting)] : []),
      node('{urn:holdfast:dav}message', error.message),
    ]),
  );
  return { status, headers: { 'Content-Type': 'application/xml; charset=utf-8' }, body };
}

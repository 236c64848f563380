// PROPFIND (RFC 4918 §9.1): properties of a resource and, with Depth 1, of its members. Depth
// infinity is answered as Depth 1, which is as deep as calendar clients look.
import { sharedCalendarUri, sharedWith, rightOn } from '../../../calendar/calendar-access.ts';
import { getObject, listCalendars, listObjects } from '../../../calendar/calendars.ts';
import { notFound } from '../../../errors.ts';
import { calendarHref, objectHref, principalHref, type DavResource } from '../dav-resources.ts';
import type { DavContext, MethodHandler } from '../dav-reply.ts';
import { xmlReply } from '../dav-reply.ts';
import { limitProperties } from '../request-limits.ts';
import { getInboxItem, listInbox, type InboxItem } from '../../../calendar/scheduling/schedule-inbox.ts';
import { inboxItemProperties, objectProperties, propstats, resourceProperties } from '../properties.ts';
import {
  child,
  dav,
  expectRoot,
  multistatus,
  parseXml,
  propstatResponse,
  type XmlElement,
  type XmlNode,
} from '../xml/dav-xml.ts';

export type PropertyRequest = XmlElement[] | 'all' | 'names';

export const handlePropfind: MethodHandler = async (context, resource, request) => {
  const wanted = propertyRequest(request.body);
  const depth = request.headers.depth === '0' ? 0 : 1;
  const responses: XmlNode[] = [];
  for (const member of await membersOf(context, resource, depth)) {
    responses.push(await describe(context, member, wanted));
  }
  return xmlReply(207, multistatus(responses));
};

/** What a PROPFIND body asks for; an empty body means allprop (RFC 4918 §9.1). */
export function propertyRequest(body: string): PropertyRequest {
  if (!body.trim()) return 'all';
  const root = expectRoot(parseXml(body), dav('propfind'));
  if (child(root, dav('propname'))) return 'names';
  const prop = child(root, dav('prop'));
  return prop ? limitProperties(prop.children) : 'all';
}

type Member =
  | DavResource
  | {
      kind: 'object-row';
      resource: Extract<DavResource, { kind: 'calendar' | 'object' }>;
      href: string;
      row: Awaited<ReturnType<typeof getObject>> & object;
    }
  | { kind: 'inbox-row'; href: string; item: InboxItem };

async function membersOf(context: DavContext, resource: DavResource, depth: number): Promise<Member[]> {
  switch (resource.kind) {
    case 'missing':
    case 'new-calendar':
      throw notFound('no-such-resource', `${resource.href} does not exist`);
    case 'object': {
      const row = await getObject(context.db, resource.calendar.id, resource.uri);
      if (!row) throw notFound('no-such-object', `${resource.href} does not exist`);
      return [{ kind: 'object-row', resource, href: resource.href, row }];
    }
    case 'calendar': {
      if (depth === 0) return [resource];
      const rows = await listObjects(context.db, resource.calendar.id);
      return [
        resource,
        ...rows.map((row) => ({
          kind: 'object-row' as const,
          resource,
          href: objectHref(resource.href, row.uri),
          row,
        })),
      ];
    }
    case 'home':
      return depth === 0 ? [resource] : [resource, ...(await calendarsInHome(context, resource))];
    case 'schedule-inbox': {
      if (depth === 0) return [resource];
      const items = await listInbox(context.db, resource.principal.id);
      return [
        resource,
        ...items.map((item) => ({ kind: 'inbox-row' as const, href: objectHref(resource.href, item.uri), item })),
      ];
    }
    case 'inbox-item': {
      const item = await getInboxItem(context.db, resource.principal.id, resource.uri);
      if (!item) throw notFound('no-such-object', `${resource.href} does not exist`);
      return [{ kind: 'inbox-row', href: resource.href, item }];
    }
    case 'principals':
      return depth === 0
        ? [resource]
        : [resource, { kind: 'principal', href: principalHref(context.viewer.address), principal: context.viewer }];
    default:
      return [resource];
  }
}

/** The calendars a home lists to the viewer: all of their own plus those shared with them, or, in
 * someone else's home, only the calendars the viewer has rights on. */
export async function calendarsInHome(
  context: DavContext,
  home: Extract<DavResource, { kind: 'home' }>,
): Promise<DavResource[]> {
  const { principal } = home;
  const members: DavResource[] = [];
  for (const calendar of await listCalendars(context.db, principal.id)) {
    const right = await rightOn(context.db, context.viewer, calendar);
    if (right)
      members.push({
        kind: 'calendar',
        href: calendarHref(principal.address, calendar.uri),
        principal,
        calendar,
        right,
      });
  }
  if (principal.id === context.viewer.id) {
    members.push(
      { kind: 'schedule-inbox', href: calendarHref(principal.address, 'inbox'), principal },
      { kind: 'schedule-outbox', href: calendarHref(principal.address, 'outbox'), principal },
    );
    for (const shared of await sharedWith(context.db, context.viewer)) {
      const uri = sharedCalendarUri(shared.calendar.id);
      members.push({
        kind: 'calendar',
        href: calendarHref(principal.address, uri),
        principal,
        calendar: shared.calendar,
        right: shared.access,
        sharedBy: shared.ownerName ?? shared.owner,
      });
    }
  }
  return members;
}

async function describe(context: DavContext, member: Member, wanted: PropertyRequest): Promise<XmlNode> {
  const propertyContext = { viewer: context.viewer, maxResourceSize: context.maxResourceSize };
  if (member.kind === 'inbox-row')
    return propstatResponse(
      member.href,
      propstats(inboxItemProperties(member.item, propertyContext), wanted, context.preferMinimal),
    );
  if (member.kind === 'object-row') {
    return propstatResponse(
      member.href,
      propstats(
        objectProperties({ href: member.href, row: member.row }, propertyContext, member.resource.right),
        wanted,
        context.preferMinimal,
      ),
    );
  }
  return propstatResponse(
    member.href,
    propstats(resourceProperties(member, propertyContext), wanted, context.preferMinimal),
  );
}

// The methods of CardDAV (RFC 6352): GET, HEAD, PUT and DELETE of vCards with ETag preconditions,
// PROPFIND, PROPPATCH, address book creation by extended MKCOL (RFC 5689), DELETE of address books,
// and REPORT addressbook-query (§8.6), addressbook-multiget (§8.7) and sync-collection (RFC 6578).
// The directory address book is read-only: every change to it is refused with 403.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { dropAddressBookGrant } from '../../../contacts/address-book-access.ts';
import {
  cardChangesSince,
  cardProperties as storedProperties,
  createAddressBook,
  defaultAddressBook,
  deleteAddressBook,
  deleteCard,
  getCard,
  getCards,
  listCardIndex,
  listCardSummaries,
  listCards,
  type CardSummary,
  putCard,
  updateAddressBook,
} from '../../../contacts/address-books.ts';
import { matchesCardFilter } from '../../../contacts/card-query.ts';
import { conflict, forbidden, HoldfastError, notFound } from '../../../errors.ts';
import { multigetBody, syncCollectionBody } from '../collection-reports.ts';
import { objectHref } from '../dav-resources.ts';
import { xmlReply, type DavContext, type DavReply, type DavRequest } from '../dav-reply.ts';
import { deleteCollection } from '../methods/collection-delete.ts';
import { propertyRequest, type PropertyRequest } from '../methods/propfind.ts';
import { propstats } from '../properties.ts';
import { limitProperties } from '../request-limits.ts';
import {
  carddav,
  child,
  childrenNamed,
  dav,
  displayName,
  expectRoot,
  multistatus,
  multistatusInSlices,
  node,
  parseXml,
  propstatResponse,
  statusResponse,
  type XmlElement,
  type XmlNode,
} from '../xml/dav-xml.ts';
import { maxQueryResults, parseCardFilter, parseLimit } from './card-filter-xml.ts';
import {
  cardProperties,
  cardResourceProperties,
  deadProperties,
  protectedAddressBookProperties,
  writableAddressBookProperties,
} from './card-properties.ts';
import { addressBooksInHome, type CardResource } from './card-resources.ts';

/** Cards an addressbook-query filters between two turns of the event loop. */
const cardsPerSlice = 500;

export type CardMethodHandler = (context: DavContext, resource: CardResource, request: DavRequest) => Promise<DavReply>;

type BookResource = Extract<CardResource, { kind: 'address-book' }>;
type CardItem = Extract<CardResource, { kind: 'card' }>;

const missing = (resource: CardResource) => notFound('no-such-resource', `${resource.href} does not exist`);

function readOnlyRefusal(resource: BookResource | CardItem): HoldfastError {
  return resource.book.kind === 'directory'
    ? forbidden(
        'need-privileges',
        "the directory address book is generated from the organisation's directory and cannot be changed; store contacts in your own address book",
      )
    : forbidden(
        'need-privileges',
        `you may read ${resource.kind === 'card' ? resource.collectionHref : resource.href} but not change it`,
      );
}

const mayWrite = (resource: BookResource | CardItem) => resource.right === 'owner' || resource.right === 'write';

// GET, PUT, DELETE -------------------------------------------------------------------------------

const handleGet: CardMethodHandler = async (context, resource, request): Promise<DavReply> => {
  const body = (text: string) => (request.method === 'HEAD' ? undefined : text);
  if (resource.kind === 'address-book') {
    // The whole address book as one .vcf file (export).
    const rows = await listCards(context.db, resource.book.id);
    return {
      status: 200,
      headers: {
        'Content-Type': 'text/vcard; charset=utf-8',
        'Content-Disposition': `attachment; filename="${resource.book.uri}.vcf"`,
      },
      body: body(rows.map((row) => row.data.replace(/\r?\n?$/, '\r\n')).join('')),
    };
  }
  if (resource.kind === 'card-home')
    return {
      status: 200,
      headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      body: body('Holdfast CardDAV: add this server to a contacts client with your email address and password.\n'),
    };
  if (resource.kind !== 'card') throw missing(resource);
  const row = await getCard(context.db, resource.book.id, resource.uri);
  if (!row) throw missing(resource);
  const headers = {
    'Content-Type': 'text/vcard; charset=utf-8',
    ETag: row.etag,
    'Last-Modified': new Date(row.updated_at).toUTCString(),
  };
  if (request.headers['if-none-match'] === row.etag) return { status: 304, headers };
  return { status: 200, headers, body: body(row.data) };
};

const handlePut: CardMethodHandler = async (context, resource, request) => {
  if (resource.kind === 'missing' || resource.kind === 'new-address-book')
    throw notFound('no-such-resource', `${resource.href}: there is no address book here to hold it`);
  if (resource.kind !== 'card')
    throw forbidden('need-privileges', `${resource.href} is a collection; PUT vCards inside an address book`);
  if (!mayWrite(resource)) throw readOnlyRefusal(resource);
  const type = request.headers['content-type'];
  if (type && !/^text\/((x-)?vcard|directory)\b/i.test(type))
    throw new HoldfastError(
      'invalid',
      'supported-address-data',
      `Content-Type ${type} is not allowed: address books hold text/vcard`,
    );
  const result = await putCard(
    context.db,
    resource.book,
    resource.uri,
    request.body,
    { ifMatch: request.headers['if-match'], ifNoneMatch: request.headers['if-none-match'] },
    context.now(),
  );
  // Stored exactly as sent, so the ETag is strong and may be returned.
  return { status: result.created ? 201 : 204, headers: { ETag: result.etag } };
};

const handleDelete: CardMethodHandler = async (context, resource, request) => {
  if (resource.kind === 'card') {
    if (!mayWrite(resource)) throw readOnlyRefusal(resource);
    await deleteCard(context.db, resource.book, resource.uri, { ifMatch: request.headers['if-match'] });
    return { status: 204 };
  }
  if (resource.kind === 'address-book') {
    const { book } = resource;
    if (book.kind === 'directory') throw readOnlyRefusal(resource);
    return deleteCollection({
      href: resource.href,
      right: resource.right,
      sharedBy: resource.sharedBy,
      isDefault: book.uri === defaultAddressBook.uri,
      defaultStays: 'the default address book cannot be deleted',
      dropShare: () => dropAddressBookGrant(context.db, book.id, context.viewer.id),
      remove: () => deleteAddressBook(context.db, book.id),
    });
  }
  if (resource.kind === 'missing' || resource.kind === 'new-address-book') throw missing(resource);
  throw forbidden('need-privileges', `${resource.href} cannot be deleted`);
};

// PROPFIND, PROPPATCH, MKCOL ----------------------------------------------------------------------

const handlePropfind: CardMethodHandler = async (context, resource, request) => {
  const wanted = propertyRequest(request.body);
  const depth = request.headers.depth === '0' ? 0 : 1;
  const propertyContext = { viewer: context.viewer, maxResourceSize: context.maxResourceSize };
  const describe = (member: CardResource) =>
    propstatResponse(
      member.href,
      propstats(cardResourceProperties(member, propertyContext), wanted, context.preferMinimal),
    );
  switch (resource.kind) {
    case 'missing':
    case 'new-address-book':
      throw missing(resource);
    case 'card': {
      const row = await getCard(context.db, resource.book.id, resource.uri);
      if (!row) throw missing(resource);
      return xmlReply(207, multistatus([cardResponse(context, resource, row, wanted)]));
    }
    case 'address-book': {
      const rows = depth === 0 ? [] : await cardsFor(context, resource.book.id, wanted);
      const members: (CardSummary | undefined)[] = [undefined, ...rows];
      const body = await multistatusInSlices(members, (row) =>
        row ? cardResponse(context, resource, row, wanted) : describe(resource),
      );
      return xmlReply(207, body);
    }
    case 'card-home': {
      const books = depth === 0 ? [] : await addressBooksInHome({ ...context, now: context.now() }, resource);
      return xmlReply(207, multistatus([resource, ...books].map(describe)));
    }
  }
};

/** An address book's cards for a listing: with their text only when the request asks for it. */
function cardsFor(context: DavContext, addressBookId: number, wanted: PropertyRequest): Promise<CardSummary[]> {
  const wantsText = Array.isArray(wanted) && wanted.some((element) => element.name === carddav('address-data'));
  return wantsText ? listCards(context.db, addressBookId) : listCardSummaries(context.db, addressBookId);
}

function cardResponse(
  context: DavContext,
  resource: BookResource | CardItem,
  row: CardSummary,
  wanted: PropertyRequest,
): XmlNode {
  const collection = resource.kind === 'card' ? resource.collectionHref : resource.href;
  const getters = cardProperties(
    row,
    { viewer: context.viewer, maxResourceSize: context.maxResourceSize },
    resource.right,
  );
  return propstatResponse(objectHref(collection, row.uri), propstats(getters, wanted, context.preferMinimal));
}

const handleProppatch: CardMethodHandler = async (context, resource, request) => {
  if (resource.kind === 'missing' || resource.kind === 'new-address-book') throw missing(resource);
  const root = expectRoot(parseXml(request.body), dav('propertyupdate'));
  const changes = root.children.flatMap((instruction) => {
    const remove = instruction.name === dav('remove');
    if (!remove && instruction.name !== dav('set')) return [];
    return (child(instruction, dav('prop'))?.children ?? []).map((element) => ({ element, remove }));
  });
  const answer = (groups: { status: number; names: string[] }[]) =>
    xmlReply(
      207,
      multistatus([
        propstatResponse(
          resource.href,
          groups.map(({ status, names }) => ({ status, properties: names.map((name) => node(name)) })),
        ),
      ]),
    );
  const names = changes.map((c) => c.element.name);
  if (resource.kind !== 'address-book') return answer([{ status: 403, names }]);
  if (!mayWrite(resource) || resource.book.kind === 'directory') throw readOnlyRefusal(resource);
  const dead = deadProperties(resource.book);
  const refused = new Set<string>();
  const update: { displayName?: string | null; description?: string | null } = {};
  for (const { element, remove } of changes) {
    const value = remove ? null : element.text.trim() || null;
    if (protectedAddressBookProperties.has(element.name)) refused.add(element.name);
    else if (element.name === dav('displayname')) update.displayName = value;
    else if (element.name === carddav('addressbook-description')) update.description = value;
    else if (remove) delete dead[element.name];
    else if (element.children.length) refused.add(element.name);
    else dead[element.name] = element.text;
  }
  if (refused.size)
    return answer([
      { status: 403, names: [...refused] },
      { status: 424, names: names.filter((n) => !refused.has(n)) },
    ]);
  await updateAddressBook(context.db, resource.book.id, { ...update, deadProperties: JSON.stringify(dead) });
  return answer([{ status: 200, names }]);
};

/** Extended MKCOL (RFC 5689, RFC 6352 §6.3.1): a new address book in the viewer's own home. */
const handleMkcol: CardMethodHandler = async (context, resource, request) => {
  if (resource.kind === 'address-book') throw conflict('collection-exists', `${resource.href} already exists`);
  if (resource.kind !== 'new-address-book')
    throw resource.kind === 'missing'
      ? notFound('no-such-resource', `${resource.href}: address books are created inside your own address book home`)
      : forbidden('need-privileges', `${resource.href} cannot become an address book`);
  if (request.method !== 'MKCOL' || !request.body.trim())
    throw forbidden(
      'need-privileges',
      'only address books can be created here: send MKCOL with a CR:addressbook resourcetype (RFC 6352 §6.3.1)',
    );
  const root = expectRoot(parseXml(request.body), dav('mkcol'));
  const set = childrenNamed(root, dav('set')).flatMap((s) => child(s, dav('prop'))?.children ?? []);
  if (
    !child(
      set.find((e) => e.name === dav('resourcetype')),
      carddav('addressbook'),
    )
  )
    throw forbidden(
      'need-privileges',
      'only address books can be created here: the resourcetype must include CR:addressbook',
    );
  const dead: Record<string, string> = {};
  const properties: { displayName?: string | null; description?: string | null } = {};
  for (const element of set) {
    if (element.name === dav('resourcetype')) continue;
    if (element.name === dav('displayname')) properties.displayName = element.text.trim() || null;
    else if (element.name === carddav('addressbook-description')) properties.description = element.text.trim() || null;
    else if (protectedAddressBookProperties.has(element.name) || writableAddressBookProperties.has(element.name))
      throw forbidden(
        'cannot-modify-protected-property',
        `cannot set ${displayName(element.name)} on a new address book`,
      );
    else dead[element.name] = element.text;
  }
  await createAddressBook(
    context.db,
    resource.principal,
    resource.uri,
    { ...properties, deadProperties: Object.keys(dead).length ? JSON.stringify(dead) : null },
    context.now(),
  );
  return { status: 201, headers: { 'Cache-Control': 'no-cache' } };
};

// REPORT -----------------------------------------------------------------------------------------

const handleReport: CardMethodHandler = async (context, resource, request) => {
  const root = parseXml(request.body);
  if (resource.kind !== 'address-book')
    throw new HoldfastError(
      'forbidden',
      'supported-report',
      `${displayName(root.name)} is answered on address books; ${resource.href} is not one`,
    );
  const wanted = reportProperties(root);
  const respond = (row: CardSummary) => cardResponse(context, resource, row, wanted);
  const { book } = resource;
  switch (root.name) {
    case carddav('addressbook-query'):
      return addressBookQuery(context, resource, root, wanted);
    case carddav('addressbook-multiget'):
      return xmlReply(
        207,
        await multigetBody(root, resource.href, (uris) => getCards(context.db, book.id, uris), respond),
      );
    case dav('sync-collection'):
      return xmlReply(
        207,
        await syncCollectionBody(root, {
          href: resource.href,
          collection: book,
          all: () => cardsFor(context, book.id, wanted),
          changesSince: (since) => cardChangesSince(context.db, book.id, since),
          members: (uris) => getCards(context.db, book.id, uris),
          response: respond,
        }),
      );
    default:
      throw new HoldfastError(
        'forbidden',
        'supported-report',
        `REPORT ${displayName(root.name)} is not supported on address books: use addressbook-query, addressbook-multiget or sync-collection`,
      );
  }
};

function reportProperties(root: XmlElement): PropertyRequest {
  if (child(root, dav('allprop'))) return 'all';
  if (child(root, dav('propname'))) return 'names';
  const prop = child(root, dav('prop'));
  return prop ? limitProperties(prop.children) : 'all';
}

async function addressBookQuery(
  context: DavContext,
  resource: BookResource,
  root: XmlElement,
  wanted: PropertyRequest,
) {
  const filter = parseCardFilter(child(root, carddav('filter')));
  const limit = Math.min(parseLimit(root) ?? maxQueryResults, maxQueryResults);
  // The filter reads each card's stored properties; only the matches' text is read afterwards. The
  // event loop is let go between slices, so a large address book does not hold the thread.
  const matches: string[] = [];
  let truncated = false;
  const index = await listCardIndex(context.db, resource.book.id);
  for (let at = 0; at < index.length && !truncated; at++) {
    if (at > 0 && at % cardsPerSlice === 0) await nextTurn();
    const row = index[at]!;
    if (!matchesCardFilter(storedProperties(row), filter)) continue;
    if (matches.length === limit) truncated = true;
    else matches.push(row.uri);
  }
  const rows = await getCards(context.db, resource.book.id, matches);
  // More matches than the limit: the request-URI is answered 507 (RFC 6352 §8.6.1).
  const overLimit = truncated
    ? [
        node(dav('response'), [
          ...statusResponse(resource.href, 507).children!,
          node(dav('error'), [node(dav('number-of-matches-within-limits'))]),
        ]),
      ]
    : [];
  const body = await multistatusInSlices(rows, (row) => cardResponse(context, resource, row, wanted), overLimit);
  return xmlReply(207, body);
}

export const cardHandlers: Record<string, CardMethodHandler> = {
  GET: handleGet,
  HEAD: handleGet,
  PUT: handlePut,
  DELETE: handleDelete,
  PROPFIND: handlePropfind,
  PROPPATCH: handleProppatch,
  MKCOL: handleMkcol,
  MKCALENDAR: handleMkcol,
  REPORT: handleReport,
};

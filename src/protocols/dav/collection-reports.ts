// The REPORTs calendars and address books answer alike: a multiget of members by href
// (calendar-multiget, RFC 4791 §7.9; addressbook-multiget, RFC 6352 §8.7) and WebDAV sync-collection
// (RFC 6578) for any collection that keeps a change number and a log of which member changed with
// which number. The token is the change number in a URL; tokens below the collection's floor were
// issued before a restore to an older state (backup/restored-identities.ts) and are refused, so the
// client syncs again in full.
import { HoldfastError, invalid } from '../../errors.ts';
import { objectHref } from './dav-resources.ts';
import {
  child,
  childrenNamed,
  dav,
  multistatusInSlices,
  node,
  statusResponse,
  type XmlElement,
  type XmlNode,
} from './xml/dav-xml.ts';

export const syncToken = (collection: { sync_seq: number }) => `http://holdfast.invalid/ns/sync/${collection.sync_seq}`;

/** The change number in a sync token this server issued, or undefined. */
export function parseSyncToken(token: string): number | undefined {
  const match = /^http:\/\/holdfast\.invalid\/ns\/sync\/(\d+)$/.exec(token.trim());
  return match ? Number(match[1]) : undefined;
}

/** A collection as sync-collection reads it: where it is, its change numbers and its members. */
export interface SyncSource<Row extends { uri: string }> {
  href: string;
  collection: { sync_seq: number; sync_floor: number };
  /** Every member (a sync without a token). */
  all(): Promise<Row[]>;
  changesSince(since: number): Promise<{ changed: string[]; deleted: string[] }>;
  members(uris: string[]): Promise<Row[]>;
  response(row: Row): XmlNode;
}

/** The multistatus body of a sync-collection REPORT on the source. */
export async function syncCollectionBody<Row extends { uri: string }>(
  root: XmlElement,
  source: SyncSource<Row>,
): Promise<string> {
  const level = child(root, dav('sync-level'))?.text.trim() ?? '1';
  if (level !== '1')
    throw invalid(
      'valid-sync-level',
      `sync-level ${level} is not supported: collections here have no sub-collections, use 1`,
    );
  const tokenText = child(root, dav('sync-token'))?.text.trim() ?? '';
  const { collection } = source;
  const current = syncToken(collection);
  if (!tokenText) return multistatusInSlices(await source.all(), source.response, [node(dav('sync-token'), current)]);
  {
    const since = parseSyncToken(tokenText);
    if (since === undefined || since > collection.sync_seq || since < Number(collection.sync_floor)) {
      throw new HoldfastError(
        'forbidden',
        'valid-sync-token',
        `sync token ${tokenText} was not issued for this collection; sync again without a token`,
      );
    }
    const { changed, deleted } = await source.changesSince(since);
    const members: (Row | string)[] = [...(await source.members(changed)), ...deleted];
    return multistatusInSlices(
      members,
      (member) =>
        typeof member === 'string' ? statusResponse(objectHref(source.href, member), 404) : source.response(member),
      [node(dav('sync-token'), current)],
    );
  }
}

/** The multistatus body of a multiget: each href's member, or 404 for an href that names none. */
export async function multigetBody<Row extends { uri: string }>(
  root: XmlElement,
  collectionHref: string,
  members: (uris: string[]) => Promise<Row[]>,
  response: (row: Row) => XmlNode,
): Promise<string> {
  const hrefs = childrenNamed(root, dav('href')).map((h) => h.text.trim());
  const names = new Map<string, string>();
  for (const href of hrefs) {
    const uri = memberName(collectionHref, href);
    if (uri !== undefined) names.set(href, uri);
  }
  const rows = new Map((await members([...new Set(names.values())])).map((row) => [row.uri, row]));
  return multistatusInSlices(hrefs, (href) => {
    const row = rows.get(names.get(href) ?? '');
    return row ? response(row) : statusResponse(href, 404);
  });
}

/** The object name an href names inside the collection (full URL or absolute path), if it does. */
function memberName(collectionHref: string, href: string): string | undefined {
  let path = href;
  try {
    path = new URL(href, 'http://placeholder').pathname;
  } catch {
    return undefined;
  }
  if (!path.startsWith(collectionHref)) return undefined;
  const rest = path.slice(collectionHref.length);
  if (!rest || rest.includes('/')) return undefined;
  try {
    return decodeURIComponent(rest);
  } catch {
    return undefined;
  }
}

// LIST (with LIST-EXTENDED selection and return options, SPECIAL-USE, LIST-STATUS), LSUB and NAMESPACE.
import { folderDelimiter, listFolders, subscriptionsWithoutFolder, type Folder } from '../../../mailbox/folders.ts';
import { sharedFolders, sharedPrefix } from '../../../mailbox/shared-folders.ts';
import { decodeModifiedUtf7 } from '../mailbox-name.ts';
import { Args } from '../parser/args.ts';
import { ParseError, type Token } from '../parser/tokenizer.ts';
import { atom } from '../response/encode.ts';
import type { ImapSession } from '../session.ts';
import type { AuthenticatedCommand, CommandInput } from './index.ts';
import { parseStatusItems, sendStatus } from './status.ts';
import { folderOut } from './values.ts';

interface ListOptions {
  subscribedOnly: boolean;
  specialUseOnly: boolean;
  recursiveMatch: boolean;
  returnSubscribed: boolean;
  returnSpecialUse: boolean;
  status?: string[];
  lsub: boolean;
  /** The one pattern is a folder's name, not a pattern (its `*` and `%` are characters). */
  exact?: boolean;
}

/** A plain LIST: every folder the patterns match, with its special use. */
const plainList = (): ListOptions => ({
  subscribedOnly: false,
  specialUseOnly: false,
  recursiveMatch: false,
  returnSubscribed: false,
  returnSpecialUse: true,
  lsub: false,
});

export async function listCommand(command: AuthenticatedCommand) {
  const { session, args } = command;
  const options = plainList();
  const selection = args.optionalList();
  for (const token of selection ?? []) {
    const option = token.kind === 'atom' ? token.value.toUpperCase() : '';
    if (option === 'SUBSCRIBED') options.subscribedOnly = options.returnSubscribed = true;
    else if (option === 'SPECIAL-USE') options.specialUseOnly = true;
    else if (option === 'RECURSIVEMATCH') options.recursiveMatch = true;
    else if (option !== 'REMOTE') throw new ParseError(`Unknown LIST selection option ${option}`);
  }
  if (options.recursiveMatch && !options.subscribedOnly)
    throw new ParseError('RECURSIVEMATCH needs another selection option');
  const reference = nameArg(session, args, 'reference name');
  const patterns = patternArgs(session, args);
  if (args.accept('RETURN')) parseReturnOptions(args.list('RETURN options'), options);
  args.end();
  await list(command, reference, patterns, options);
  return 'LIST completed';
}

export async function lsubCommand(command: AuthenticatedCommand) {
  const { session, args } = command;
  const reference = nameArg(session, args, 'reference name');
  const patterns = patternArgs(session, args);
  args.end();
  await list(command, reference, patterns, {
    subscribedOnly: true,
    specialUseOnly: false,
    recursiveMatch: false,
    returnSubscribed: false,
    returnSpecialUse: false,
    lsub: true,
  });
  return 'LSUB completed';
}

/**
 * IMAP4rev2 SELECT and EXAMINE: the folder's LIST response, its attributes as LIST gives them
 * (RFC 9051 6.3.2 requires it). `name` is the folder's name as the client sees it, normalized.
 */
export async function listSelected(command: AuthenticatedCommand, name: string) {
  await list(command, '', [name], { ...plainList(), exact: true });
}

export async function namespaceCommand({ session, args }: CommandInput) {
  args.end();
  session.untagged(atom('NAMESPACE'), [['', folderDelimiter]], null, [[sharedPrefix, folderDelimiter]]);
  return 'NAMESPACE completed';
}

function nameArg(session: ImapSession, args: Args, what: string): string {
  const raw = args.astring(what);
  return session.utf8 ? raw : decodeModifiedUtf7(raw);
}

function patternArgs(session: ImapSession, args: Args): string[] {
  const list = args.optionalList();
  if (!list) return [nameArg(session, args, 'folder pattern')];
  return list.map((t) => {
    if (t.kind === 'list') throw new ParseError('Expected a folder pattern');
    return session.utf8 ? t.value : decodeModifiedUtf7(t.value);
  });
}

function parseReturnOptions(tokens: Token[], options: ListOptions) {
  const args = new Args(tokens);
  while (args.more()) {
    const option = args.atom('RETURN option').toUpperCase();
    if (option === 'SUBSCRIBED') options.returnSubscribed = true;
    else if (option === 'SPECIAL-USE') options.returnSpecialUse = true;
    else if (option === 'STATUS') options.status = parseStatusItems(args.list('STATUS items'));
    else if (option !== 'CHILDREN') throw new ParseError(`Unknown LIST return option ${option}`);
  }
}

/** A LIST pattern as a regular expression: "*" matches anything, "%" anything but the delimiter. */
function patternRegex(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/%/g, `[^${folderDelimiter}]*`);
  // INBOX matches case-insensitively.
  return new RegExp(`^${escaped.replace(/^INBOX(?=$|\/)/i, '[Ii][Nn][Bb][Oo][Xx]')}$`);
}

async function list(
  { session, principal }: AuthenticatedCommand,
  reference: string,
  patterns: string[],
  options: ListOptions,
) {
  if (patterns.length === 1 && patterns[0] === '' && !options.lsub) {
    // An empty pattern asks for the hierarchy delimiter and root.
    session.untagged(atom('LIST'), [atom('\\Noselect')], folderDelimiter, '');
    return;
  }
  const { db, now } = session.context.mail;
  const principalId = principal.id;
  const shared = (await sharedFolders(db, principal, now())).map((f) => ({
    ...f,
    name: f.visibleName,
    special_use: null,
  }));
  const folders = [...(await listFolders(db, principalId)), ...shared];
  const byName = new Map(folders.map((f) => [f.name, f]));
  // Subscriptions outlive their folders (DELETE leaves them): those are listed only when subscriptions are asked for.
  const subscribed = new Set([
    ...folders.filter((f) => f.subscribed === 1).map((f) => f.name),
    ...(await subscriptionsWithoutFolder(db, principalId)),
  ]);
  // Parents that do not exist themselves but have children are listed as \NonExistent (\Noselect).
  const names = new Set([...folders.map((f) => f.name), ...(options.subscribedOnly ? subscribed : [])]);
  for (const name of [...names]) {
    const levels = name.split(folderDelimiter);
    for (let i = 1; i < levels.length; i++) names.add(levels.slice(0, i).join(folderDelimiter));
  }
  const regexes = patterns.map((p) =>
    patternRegex(reference && !p.startsWith(folderDelimiter) ? `${reference}${p}` : p),
  );
  const matches = options.exact
    ? (name: string) => name === patterns[0]
    : (name: string) => regexes.some((r) => r.test(name));
  const hasChildren = (name: string) => [...names].some((n) => n.startsWith(`${name}${folderDelimiter}`));
  // A subscribed name below this one that the pattern does not reach (LSUB's \Noselect parent, RFC 3501
  // 6.3.9; CHILDINFO under RECURSIVEMATCH, RFC 5258 3.5): the client learns where it lies.
  const hasSubscribedBelow = (name: string) =>
    [...subscribed].some((n) => n.startsWith(`${name}${folderDelimiter}`) && !matches(n));
  const sorted = [...names].sort((a, b) => (a === 'INBOX' ? -1 : b === 'INBOX' ? 1 : a.localeCompare(b)));
  for (const name of sorted) {
    if (!matches(name)) continue;
    const folder: Folder | undefined = byName.get(name);
    const isSubscribed = subscribed.has(name);
    let childInfo = false;
    if (options.subscribedOnly && !isSubscribed) {
      if (!(options.lsub || options.recursiveMatch) || !hasSubscribedBelow(name)) continue;
      childInfo = true;
    }
    if (options.specialUseOnly && !folder?.special_use) continue;
    const attributes: string[] = [];
    if (options.lsub) {
      if (childInfo) attributes.push('\\Noselect');
    } else {
      if (!folder) attributes.push('\\NonExistent');
      // \NonExistent implies \Noselect; a parent that is only implied says both, as it always has.
      if (!folder && !isSubscribed) attributes.push('\\Noselect');
      attributes.push(hasChildren(name) ? '\\HasChildren' : '\\HasNoChildren');
      if (options.returnSpecialUse && folder?.special_use) attributes.push(folder.special_use);
      if ((options.returnSubscribed || options.subscribedOnly) && isSubscribed) attributes.push('\\Subscribed');
    }
    const extended = childInfo && !options.lsub ? [['CHILDINFO', ['SUBSCRIBED']]] : [];
    session.untagged(
      atom(options.lsub ? 'LSUB' : 'LIST'),
      attributes.map(atom),
      folderDelimiter,
      folderOut(session, name),
      ...extended,
    );
    if (options.status && folder) await sendStatus(session, folder, options.status);
  }
}

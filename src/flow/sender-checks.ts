// Who a signed-in user may send as, checked the same way for every way they send: SMTP submission
// (intake.ts) and JMAP EmailSubmission. An address passes when it reaches the user's own mailbox (its
// primary address or an alias) or one they hold a send-as grant on; a message names its author in
// exactly one From field, every address of which passes.
import type { Directory, Principal } from '../directory/directory.ts';
import { authorsOf, type HeaderField } from '../message/headers.ts';
import { isStoreUnavailable } from '../store/store-unavailable.ts';

/** Whether `principal` may send as `address` (a store that cannot be reached is thrown, never a "no"). */
export async function maySendFrom(directory: Directory, principal: Principal, address: string): Promise<boolean> {
  let resolved: Awaited<ReturnType<Directory['resolveAddress']>> | undefined;
  try {
    resolved = await directory.resolveAddress(address);
  } catch (error) {
    if (isStoreUnavailable(error)) throw error;
    resolved = undefined;
  }
  return Boolean(resolved && (await directory.maySendAs(principal.id, resolved.principal.id)));
}

export type AuthorRefusal =
  /** Not exactly one From field, a group, or no address in it: the message is malformed for sending. */
  | { kind: 'malformed'; text: string }
  /** An author the user may not send as. */
  | { kind: 'not-permitted'; address: string; text: string };

/**
 * The one author of a message to be sent (null when From names several), or why it may not be sent
 * (RFC 5322 §3.6: From occurs once; each of its addresses must be one the user may send as).
 */
export async function checkAuthor(
  directory: Directory,
  principal: Principal,
  fields: HeaderField[],
): Promise<{ author: string | null } | { refusal: AuthorRefusal }> {
  const from = fields.filter((f) => f.name === 'from');
  if (from.length !== 1) {
    const found = from.length === 0 ? 'has no From header' : `has ${from.length} From headers`;
    return {
      refusal: {
        kind: 'malformed',
        text: `Message rejected: it ${found}; a message needs exactly one, naming its author`,
      },
    };
  }
  const { addresses, group } = authorsOf(from[0]!.value);
  if (group)
    return {
      refusal: {
        kind: 'malformed',
        text: `From header rejected: a group ("${from[0]!.value.slice(0, 100)}") names no author; give an address ${principal.address} may send as`,
      },
    };
  if (addresses.length === 0)
    return {
      refusal: {
        kind: 'malformed',
        text: `From header rejected: it names no address; give an address ${principal.address} may send as`,
      },
    };
  for (const address of addresses)
    if (!(await maySendFrom(directory, principal, address)))
      return { refusal: { kind: 'not-permitted', address, text: sendAsRefusal(principal, address, 'From header') } };
  return { author: addresses.length === 1 ? addresses[0]! : null };
}

export const sendAsRefusal = (principal: Principal, address: string, what = 'Sender address') =>
  `${what} rejected: <${address}> is not an address ${principal.address} may send as`;

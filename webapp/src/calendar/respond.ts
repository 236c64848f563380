// Answers an invitation from its mail (invitation-bar.tsx): finds the user's copy of the event by
// its UID on their own calendars (calendar-query), stores it with the new PARTSTAT (If-Match), and
// the server's scheduling sends the answer to the organizer.
import { currentSession, SignedOut } from '../jmap.ts';
import { CalDav } from './caldav.ts';
import { itipOf, withAnswer } from './ics.ts';

export async function respondToInvitation(itip: string, partstat: string): Promise<void> {
  const found = itipOf(itip);
  if (!found?.uid) throw new Error('The invitation names no event');
  const me = await currentSession();
  if (!me) throw new SignedOut('The session has ended');
  const dav = new CalDav(me);
  for (const calendar of (await dav.calendars()).filter((c) => c.own && c.writable)) {
    const copies = await dav.byUid(calendar.href, found.uid);
    const copy = copies.find((c) => itipOf(c.data)?.uid === found.uid);
    if (!copy) continue;
    const current = await dav.get(copy.href);
    await dav.put(copy.href, withAnswer(current.data, me.address, partstat), current.etag);
    return;
  }
  throw new Error('This invitation is not on your calendar (it may have been cancelled or removed)');
}

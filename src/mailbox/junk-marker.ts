// How intake tells local delivery that a copy belongs in the Junk folder: a header line of its own
// in the message's prefix (the lines Holdfast adds, never the sender's bytes, so no sender can write
// it). Delivery appends such a copy to Junk with the $Junk keyword (RFC 5788) instead of the INBOX.
// The line is the one SpamAssassin and rspamd write, which mail clients read too.

export const junkMarker = 'X-Spam-Flag: YES';
export const junkFolder = 'Junk';
export const junkKeyword = '$Junk';

export function markedAsJunk(prefix: string): boolean {
  return prefix.startsWith(`${junkMarker}\r\n`) || prefix.includes(`\r\n${junkMarker}\r\n`);
}

// rspamd's "rewrite subject" action: its answer carries the subject to write (its `subject` field,
// decoded text such as "*** SPAM *** Grüße", from actions.conf's `subject` setting). The copy that is
// delivered gets it in place of the sender's Subject field, encoded as RFC 2047 encoded words where it
// is not ASCII and folded (RFC 5322 2.2.3), every other byte of the message unchanged. Pure: no I/O.
import libmime from 'libmime';

/** The longest subject written, in characters: rspamd's answer is bounded like any input. */
const maxSubjectLength = 500;

/**
 * The message with its Subject field(s) replaced by one saying `subject`, at the first one's place
 * (at the end of the header section if it had none); undefined when there is nothing to write.
 */
export function withSubject(message: Buffer, subject: string): Buffer | undefined {
  const field = subjectField(subject);
  if (!field) return undefined;
  const end = headerSectionEnd(message);
  // latin1 maps bytes to characters one to one, so 8-bit and UTF-8 header bytes pass unchanged.
  const lines = end
    ? message
        .subarray(0, end)
        .toString('latin1')
        .split(/(?<=\n)/)
    : [];
  const kept: string[] = [];
  let at = -1;
  let dropping = false;
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      if (!dropping) kept.push(line);
      continue;
    }
    const colon = line.indexOf(':');
    dropping = colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'subject';
    if (dropping) {
      if (at < 0) at = kept.length;
    } else kept.push(line);
  }
  if (at < 0) {
    // No Subject: after the last field (a last line without its line break gets one first).
    at = kept.length;
    if (at > 0 && !kept[at - 1]!.endsWith('\n')) kept[at - 1] += '\r\n';
  }
  kept.splice(at, 0, field);
  return Buffer.concat([Buffer.from(kept.join(''), 'latin1'), message.subarray(end)]);
}

/** `Subject: …` with its line break, or undefined for an empty subject. */
export function subjectField(subject: string): string | undefined {
  const text = [...subject.replace(/[\x00-\x1f\x7f]+/g, ' ').trim()].slice(0, maxSubjectLength).join('');
  if (!text) return undefined;
  // Encoded words of at most 52 characters of input keep each within a 76-character line.
  const value = /^[\x20-\x7e]*$/.test(text) ? text : libmime.encodeWords(text, 'Q', 52);
  return `${libmime.foldLines(`Subject: ${value}`, 76)}\r\n`;
}

/** Where the header section ends (after its last field's line break), or the whole length if it does not. */
function headerSectionEnd(data: Buffer): number {
  if (data[0] === 0x0a || (data[0] === 0x0d && data[1] === 0x0a)) return 0;
  const crlf = data.indexOf('\r\n\r\n');
  const lf = data.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 2;
  return lf >= 0 ? lf + 1 : data.length;
}

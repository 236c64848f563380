// The base subject of RFC 5256 §2.1: the subject with reply and forward markers, list tags and
// "(fwd)" trailers removed, for sorting and threading by subject. The text is given in the form the
// i;ascii-casemap comparator compares (ASCII letters in upper case, nothing else changed), so that
// plain string order is RFC 5256's order: "_" sorts after "Z", as Dovecot sorts it.

export interface BaseSubject {
  text: string;
  /** Whether a reply or forward marker was removed (threading prefers the original as parent). */
  isReply: boolean;
}

const blob = String.raw`\[[^\[\]]*\]\s*`;
const leader = new RegExp(String.raw`^(?:${blob})*(?:re|fwd?)\s*(?:${blob})?:\s*`, 'i');
const leadingBlob = new RegExp(`^${blob}`);
const trailer = /\s*\(fwd\)\s*$/i;
const fwdWrapper = /^\[fwd:\s*(.*)\]$/i;

export function baseSubject(subject: string | null | undefined): BaseSubject {
  let text = (subject ?? '').replace(/\s+/g, ' ').trim();
  let isReply = false;
  for (;;) {
    const before = text;
    // (2) trailing "(fwd)"
    while (trailer.test(text)) {
      text = text.replace(trailer, '');
      isReply = true;
    }
    // (3)-(4) leading "Re:", "Fw:", "Fwd:" with list tags, and a leading tag if text remains
    for (;;) {
      const inner = text;
      if (leader.test(text)) {
        text = text.replace(leader, '');
        isReply = true;
      }
      const withoutBlob = text.replace(leadingBlob, '');
      if (withoutBlob !== text && withoutBlob.length > 0) text = withoutBlob;
      if (text === inner) break;
    }
    // (5) "[fwd: ...]"
    const wrapped = fwdWrapper.exec(text);
    if (wrapped) {
      text = wrapped[1]!.trim();
      isReply = true;
    }
    if (text === before) break;
  }
  return { text: asciiCasemap(text), isReply };
}

/** RFC 4790's i;ascii-casemap: a-z as A-Z, every other character as it is. */
export function asciiCasemap(text: string): string {
  return text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}

// ENVELOPE, BODY and BODYSTRUCTURE responses (RFC 9051 section 7.5.2), built from the metadata
// stored at delivery.
import type { Envelope } from '../../../message/envelope.ts';
import { decodeExtendedValue } from '../../../message/mime-params.ts';
import type { MimePart } from '../../../message/mime-tree.ts';
import { Multipart, Utf8Alternative, type Value } from '../response/encode.ts';

export function envelopeValue(envelope: Envelope): Value {
  const addresses = (list: Envelope['from']): Value => (list ? list.map((a) => [a[0], a[1], a[2], a[3]]) : null);
  return [
    envelope.date,
    envelope.subject,
    addresses(envelope.from),
    addresses(envelope.sender),
    addresses(envelope.replyTo),
    addresses(envelope.to),
    addresses(envelope.cc),
    addresses(envelope.bcc),
    envelope.inReplyTo,
    envelope.messageId,
  ];
}

/**
 * A parameter list. RFC 2231 values (`NAME*` "utf-8''%E2%82%AC.bin") go to IMAP4rev1 clients as the
 * message has them, as Dovecot sends them: decoded they would be 8-bit text such a client cannot be
 * sent. A client that enabled UTF-8 gets body parameters decoded, still named `NAME*`, as RFC 9051
 * §7.5.2 asks; disposition parameters only have their sections joined, as it asks for those.
 */
const params = (p: Record<string, string>, decode = false): Value => {
  const entries = Object.entries(p);
  if (!entries.length) return null;
  return entries.flatMap(([k, v]) => {
    const decoded = decode && k.endsWith('*') ? decodeExtendedValue(v) : undefined;
    return [k.toUpperCase(), decoded === undefined ? v : new Utf8Alternative(decoded, v)];
  });
};

/** BODYSTRUCTURE with `extended`, BODY without. */
export function bodyStructureValue(part: MimePart, extended: boolean): Value {
  if (part.children) {
    const rest: Value[] = [part.subtype.toUpperCase()];
    if (extended) rest.push(params(part.params, true), disposition(part), language(part), part.location);
    return new Multipart(
      part.children.map((child) => bodyStructureValue(child, extended)),
      rest,
    );
  }
  const value: Value[] = [
    part.type.toUpperCase(),
    part.subtype.toUpperCase(),
    params(part.params, true),
    part.id,
    part.description,
    (part.encoding ?? '7bit').toUpperCase(),
    part.end - part.bodyStart,
  ];
  if (part.message)
    value.push(envelopeValue(part.message.envelope), bodyStructureValue(part.message.root, extended), part.lines);
  else if (part.type === 'text') value.push(part.lines);
  if (extended) value.push(part.md5, disposition(part), language(part), part.location);
  return value;
}

const disposition = (part: MimePart): Value =>
  part.disposition ? [part.disposition.type.toUpperCase(), params(part.disposition.params)] : null;
const language = ({ language }: MimePart): Value => {
  if (!language) return null;
  const [only] = language;
  return language.length === 1 && only !== undefined ? only : language;
};

// ENVELOPE, BODY and BODYSTRUCTURE responses (RFC 9051 section 7.5.2), built from the metadata
// stored at delivery.
import type { Envelope } from '../../../message/envelope.ts';
import type { MimePart } from '../../../message/mime-tree.ts';
import { Multipart, type Value } from '../response/encode.ts';

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

const params = (p: Record<string, string>): Value => {
  const entries = Object.entries(p);
  return entries.length ? entries.flatMap(([k, v]) => [k.toUpperCase(), v]) : null;
};

/** BODYSTRUCTURE with `extended`, BODY without. */
export function bodyStructureValue(part: MimePart, extended: boolean): Value {
  if (part.children) {
    const rest: Value[] = [part.subtype.toUpperCase()];
    if (extended) rest.push(params(part.params), disposition(part), language(part), part.location);
    return new Multipart(part.children.map((child) => bodyStructureValue(child, extended)), rest);
  }
  const value: Value[] = [
    part.type.toUpperCase(),
    part.subtype.toUpperCase(),
    params(part.params),
    part.id,
    part.description,
    (part.encoding ?? '7bit').toUpperCase(),
    part.end - part.bodyStart,
  ];
  if (part.message) value.push(envelopeValue(part.message.envelope), bodyStructureValue(part.message.root, extended), part.lines);
  else if (part.type === 'text') value.push(part.lines);
  if (extended) value.push(part.md5, disposition(part), language(part), part.location);
  return value;
}

const disposition = (part: MimePart): Value => (part.disposition ? [part.disposition.type.toUpperCase(), params(part.disposition.params)] : null);
const language = (part: MimePart): Value => (part.language ? (part.language.length === 1 ? part.language[0] : part.language) : null);

// The WebDAV XML layer, apart from any calendar logic: reading request bodies into namespaced
// elements, and writing responses from a small tree. Names are in Clark notation, `{namespace}local`,
// so that prefixes chosen by a client never matter.
import { DOMParser, type Element as DomElement } from '@xmldom/xmldom';
import { invalid } from '../../../errors.ts';

export const ns = {
  dav: 'DAV:',
  caldav: 'urn:ietf:params:xml:ns:caldav',
  carddav: 'urn:ietf:params:xml:ns:carddav',
  calendarServer: 'http://calendarserver.org/ns/',
  apple: 'http://apple.com/ns/ical/',
} as const;

export const dav = (local: string) => `{DAV:}${local}`;
export const caldav = (local: string) => `{${ns.caldav}}${local}`;
export const carddav = (local: string) => `{${ns.carddav}}${local}`;
export const calendarServer = (local: string) => `{${ns.calendarServer}}${local}`;
export const apple = (local: string) => `{${ns.apple}}${local}`;

// Reading -----------------------------------------------------------------------------------------

export interface XmlElement {
  name: string;
  children: XmlElement[];
  attributes: Record<string, string>;
  text: string;
}

/**
 * Tags one request body may hold. xmldom takes some 15 µs per element, so this keeps parsing under
 * about 100 ms; a calendar-multiget of 4,000 hrefs fits (clients send tens to hundreds).
 */
export const maxXmlTags = 10_000;

/** Parses a request body; malformed XML (and DTD entities, which xmldom never expands) is refused. */
export function parseXml(body: string): XmlElement {
  const tags = countTags(body);
  if (tags > maxXmlTags)
    throw invalid(
      'bad-xml',
      `the request body has more than ${maxXmlTags} XML tags; Holdfast reads at most that many in one request`,
    );
  let problem: string | undefined;
  const parser = new DOMParser({
    onError: (level, message) => {
      if (level === 'warning') return;
      problem ??= message;
      throw new Error(message);
    },
  });
  let root: DomElement | null = null;
  try {
    root = parser.parseFromString(body, 'text/xml').documentElement;
  } catch (error) {
    throw invalid('bad-xml', `the request body is not well-formed XML: ${problem ?? (error as Error).message}`);
  }
  if (!root) throw invalid('bad-xml', 'the request body is not well-formed XML: no root element');
  return toElement(root, 0);
}

/** Counts `<` up to one past the limit: enough to refuse, without reading a huge body to its end. */
function countTags(body: string): number {
  let count = 0;
  for (let at = body.indexOf('<'); at !== -1 && count <= maxXmlTags; at = body.indexOf('<', at + 1)) count++;
  return count;
}

/** WebDAV requests nest a dozen levels at most (calendar-query filters); deeper is refused. */
const maxDepth = 32;

function toElement(node: DomElement, depth: number): XmlElement {
  if (depth > maxDepth) throw invalid('bad-xml', `the request body nests elements more than ${maxDepth} levels deep`);
  const children: XmlElement[] = [];
  let text = '';
  for (let child = node.firstChild; child; child = child.nextSibling) {
    if (child.nodeType === 1) children.push(toElement(child as DomElement, depth + 1));
    else if (child.nodeType === 3 || child.nodeType === 4) text += child.nodeValue ?? '';
  }
  const attributes: Record<string, string> = {};
  for (let i = 0; i < node.attributes.length; i++) {
    const attribute = node.attributes.item(i)!;
    if (attribute.name === 'xmlns' || attribute.name.startsWith('xmlns:')) continue;
    attributes[attribute.localName ?? attribute.name] = attribute.value;
  }
  return { name: `{${node.namespaceURI ?? ''}}${node.localName}`, children, attributes, text };
}

export function child(element: XmlElement | undefined, name: string): XmlElement | undefined {
  return element?.children.find((c) => c.name === name);
}

export function childrenNamed(element: XmlElement | undefined, name: string): XmlElement[] {
  return element?.children.filter((c) => c.name === name) ?? [];
}

/** Checks the document element of a request body: a precise 400 naming what was expected. */
export function expectRoot(element: XmlElement, ...names: string[]): XmlElement {
  if (!names.includes(element.name))
    throw invalid(
      'bad-xml',
      `expected ${names.map(displayName).join(' or ')} as the document element, found ${displayName(element.name)}`,
    );
  return element;
}

export function displayName(clark: string): string {
  const { namespace, local } = splitName(clark);
  const prefix = Object.entries(prefixes).find(([, uri]) => uri === namespace)?.[0];
  return prefix ? `${prefix}:${local}` : `{${namespace}}${local}`;
}

// Writing -----------------------------------------------------------------------------------------

/** An element to write: children elements, or text. */
export interface XmlNode {
  name: string;
  attributes?: Record<string, string>;
  children?: XmlNode[];
  text?: string;
}

export const node = (name: string, content?: XmlNode[] | string, attributes?: Record<string, string>): XmlNode =>
  typeof content === 'string' ? { name, text: content, attributes } : { name, children: content, attributes };

const prefixes: Record<string, string> = {
  D: ns.dav,
  C: ns.caldav,
  CR: ns.carddav,
  CS: ns.calendarServer,
  A: ns.apple,
};

/** Serialises a document, declaring the usual prefixes on the root and any other namespace where used. */
export function writeXml(root: XmlNode): string {
  const declarations = Object.entries(prefixes)
    .map(([prefix, uri]) => ` xmlns:${prefix}="${uri}"`)
    .join('');
  const out: string[] = ['<?xml version="1.0" encoding="utf-8"?>\n'];
  writeNode(root, out, declarations);
  return out.join('');
}

/** How an element name is written: its tag, and the declaration a namespace without a prefix needs. */
interface WrittenName {
  tag: string;
  declaration: string;
}

/** Names repeat in every response of a multistatus: each is worked out once per process. */
const writtenNames = new Map<string, WrittenName>();
const maxWrittenNames = 1000;

function writtenName(clark: string): WrittenName {
  let written = writtenNames.get(clark);
  if (written) return written;
  const { namespace, local } = splitName(clark);
  const prefix = Object.entries(prefixes).find(([, uri]) => uri === namespace)?.[0];
  if (prefix) written = { tag: `${prefix}:${local}`, declaration: '' };
  else if (namespace) written = { tag: `x:${local}`, declaration: ` xmlns:x="${escapeAttribute(namespace)}"` };
  else written = { tag: local, declaration: '' };
  // Clients name the properties they want: a bounded number of them is kept.
  if (writtenNames.size < maxWrittenNames) writtenNames.set(clark, written);
  return written;
}

/** Appends the element to `out`, piece by piece: one join at the end instead of a string per level. */
function writeNode(xml: XmlNode, out: string[], declarations = ''): void {
  const { tag, declaration } = writtenName(xml.name);
  let extra = declarations + declaration;
  if (xml.attributes)
    for (const [name, value] of Object.entries(xml.attributes)) extra += ` ${name}="${escapeAttribute(value)}"`;
  if (xml.text !== undefined && xml.text !== '') {
    out.push(`<${tag}${extra}>`, escapeXml(xml.text), `</${tag}>`);
  } else if (!xml.children?.length) {
    out.push(`<${tag}${extra}/>`);
  } else {
    out.push(`<${tag}${extra}>`);
    for (const child of xml.children) writeNode(child, out);
    out.push(`</${tag}>`);
  }
}

export function splitName(clark: string): { namespace: string; local: string } {
  const match = /^\{([^}]*)\}(.+)$/.exec(clark);
  return match ? { namespace: match[1]!, local: match[2]! } : { namespace: '', local: clark };
}

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\r': '&#13;' };

/** Escapes element text; CR is written as a reference so that iCalendar's CRLF survives parsing. */
export function escapeXml(text: string): string {
  return /[&<>\r]/.test(text) ? text.replace(/[&<>\r]/g, (c) => escapes[c]!) : text;
}

function escapeAttribute(text: string): string {
  return text.replace(/[&<>"\r]/g, (c) => escapes[c]!);
}

// Multistatus (RFC 4918 §13) --------------------------------------------------------------------

export interface PropStat {
  status: number;
  properties: XmlNode[];
}

export function propstatResponse(href: string, propstats: PropStat[]): XmlNode {
  return node(dav('response'), [
    node(dav('href'), href),
    ...propstats
      .filter((p) => p.properties.length > 0)
      .map((p) => node(dav('propstat'), [node(dav('prop'), p.properties), node(dav('status'), statusLine(p.status))])),
  ]);
}

export function statusResponse(href: string, status: number): XmlNode {
  return node(dav('response'), [node(dav('href'), href), node(dav('status'), statusLine(status))]);
}

export function multistatus(responses: XmlNode[], extra: XmlNode[] = []): string {
  return writeXml(node(dav('multistatus'), [...responses, ...extra]));
}

/** Responses made and written between two turns of the event loop in `multistatusInSlices`. */
const responsesPerSlice = 100;

/**
 * A multistatus of one response per item, made and written a slice at a time with the event loop
 * free in between: an address book or calendar of thousands of members never holds the thread for
 * the whole answer. Each slice's nodes are garbage once written.
 */
export async function multistatusInSlices<T>(
  items: readonly T[],
  respond: (item: T) => XmlNode,
  extra: XmlNode[] = [],
): Promise<string> {
  const document = writeXml(node(dav('multistatus'), [node('{}slot')]));
  const [head, tail] = document.split('<slot/>') as [string, string];
  const out: string[] = [head];
  for (let at = 0; at < items.length; at += responsesPerSlice) {
    if (at > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const item of items.slice(at, at + responsesPerSlice)) writeNode(respond(item), out);
  }
  for (const element of extra) writeNode(element, out);
  out.push(tail);
  return out.join('');
}

const reasons: Record<number, string> = {
  200: 'OK',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  424: 'Failed Dependency',
  507: 'Insufficient Storage',
};

export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${reasons[status] ?? ''}`.trimEnd();
}

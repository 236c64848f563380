// A DNS server on 127.0.0.1 answering from a table, so no test ever asks the machine's resolver.
// Names not in the table get NXDOMAIN; a known name without the asked type gets an empty answer; a
// `dropped` name gets no answer at all. The table is set a name at a time (`set`) or all at once from
// records as a zone file writes them (`zone`).
import { createSocket, type Socket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';

export interface DnsRecords {
  MX?: { exchange: string; priority: number }[];
  A?: string[];
  AAAA?: string[];
  TXT?: string[];
  /** Service records (RFC 2782); a target of "" is ".", no such service here. */
  SRV?: { priority: number; weight: number; port: number; target: string }[];
  /** The name is an alias of this one: answered to CNAME questions only (the stub does not follow it). */
  CNAME?: string;
  /** Host names of a reverse name (1.0.0.127.in-addr.arpa): an address's PTR records. */
  PTR?: string[];
}

/**
 * A record as a zone file writes it: "10 host." for MX, "0 1 993 host." for SRV ("0 0 0 ." for none),
 * "host." for CNAME, the text or address as it is for TXT, A and AAAA.
 */
export interface ZoneRecord {
  name: string;
  type: string;
  value: string;
}

const host = (name: string) => name.replace(/\.$/, '');

/** One record of a zone added to a name's records. */
function addRecord(records: DnsRecords, { type, value }: ZoneRecord) {
  const parts = value.split(' ');
  if (type === 'MX') (records.MX ??= []).push({ priority: Number(parts[0]), exchange: host(parts[1]!) });
  else if (type === 'SRV')
    (records.SRV ??= []).push({
      priority: Number(parts[0]),
      weight: Number(parts[1]),
      port: Number(parts[2]),
      target: parts[3] === '.' ? '' : host(parts[3]!),
    });
  else if (type === 'CNAME') records.CNAME = host(value);
  else if (type === 'TXT' || type === 'A' || type === 'AAAA') (records[type] ??= []).push(value);
  else throw new Error(`the DNS stub answers no ${type} records`);
}

/** The answers to a question about a name with these records. */
function answersFor(name: string, type: string, records: DnsRecords): dnsPacket.Answer[] {
  const ttl = 60;
  switch (type) {
    case 'MX':
      return (records.MX ?? []).map((mx) => ({
        type: 'MX',
        name,
        ttl,
        data: { preference: mx.priority, exchange: mx.exchange },
      }));
    case 'A':
    case 'AAAA':
      return (records[type] ?? []).map((a) => ({ type, name, ttl, data: a }));
    // A TXT string holds at most 255 bytes; longer values (DKIM keys) are split into several.
    case 'TXT':
      return (records.TXT ?? []).map((t) => ({
        type: 'TXT',
        name,
        ttl,
        data: t.match(/.{1,255}/g)!.map((part) => Buffer.from(part)),
      }));
    case 'SRV':
      return (records.SRV ?? []).map((data) => ({ type: 'SRV', name, ttl, data }));
    case 'CNAME':
      return records.CNAME ? [{ type: 'CNAME', name, ttl, data: records.CNAME }] : [];
    case 'PTR':
      return (records.PTR ?? []).map((data) => ({ type: 'PTR', name, ttl, data }));
    default:
      return [];
  }
}

export class DnsStub {
  readonly records = new Map<string, DnsRecords>();
  /** Names answered SERVFAIL (the server could not get an answer). */
  readonly failing = new Set<string>();
  /** Names whose questions get no answer at all (a server that never replies): the asker times out. */
  readonly dropped = new Set<string>();
  /** Questions received so far, as "TYPE name". */
  readonly questions: string[] = [];
  private socket?: Socket;
  port = 0;

  set(name: string, records: DnsRecords) {
    this.records.set(name.toLowerCase(), { ...this.records.get(name.toLowerCase()), ...records });
  }

  /** Replaces the whole table with these records. */
  zone(records: ZoneRecord[]) {
    this.records.clear();
    for (const record of records) {
      const name = record.name.toLowerCase();
      const entry = this.records.get(name) ?? {};
      addRecord(entry, record);
      this.records.set(name, entry);
    }
  }

  get server(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const socket = createSocket('udp4');
    this.socket = socket;
    socket.on('message', (message, remote) => {
      const query = dnsPacket.decode(message);
      const question = query.questions?.[0];
      if (!question) return;
      this.questions.push(`${question.type} ${question.name.toLowerCase()}`);
      if (this.dropped.has(question.name.toLowerCase())) return;
      const records = this.records.get(question.name.toLowerCase());
      const answers = records ? answersFor(question.name, question.type, records) : [];
      const response = dnsPacket.encode({
        type: 'response',
        id: query.id,
        // rcode 2 = SERVFAIL, 3 = NXDOMAIN
        flags:
          dnsPacket.RECURSION_DESIRED |
          dnsPacket.RECURSION_AVAILABLE |
          (this.failing.has(question.name.toLowerCase()) ? 2 : records ? 0 : 3),
        questions: query.questions,
        answers,
      });
      socket.send(response, remote.port, remote.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    this.port = socket.address().port;
    return this;
  }

  stop() {
    this.socket?.close();
  }
}

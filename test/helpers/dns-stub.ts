// A DNS server on 127.0.0.1 answering from a table, so no test ever asks the machine's resolver.
// Names not in the table get NXDOMAIN; a known name without the asked type gets an empty answer.
import { createSocket, type Socket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';

export interface DnsRecords {
  MX?: { exchange: string; priority: number }[];
  A?: string[];
  AAAA?: string[];
  TXT?: string[];
}

export class DnsStub {
  readonly records = new Map<string, DnsRecords>();
  /** Names answered SERVFAIL (the server could not get an answer). */
  readonly failing = new Set<string>();
  /** Questions received so far, as "TYPE name". */
  readonly questions: string[] = [];
  private socket?: Socket;
  port = 0;

  set(name: string, records: DnsRecords) {
    this.records.set(name.toLowerCase(), { ...this.records.get(name.toLowerCase()), ...records });
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
      const records = this.records.get(question.name.toLowerCase());
      const answers: dnsPacket.Answer[] = [];
      if (records) {
        if (question.type === 'MX')
          for (const mx of records.MX ?? [])
            answers.push({
              type: 'MX',
              name: question.name,
              ttl: 60,
              data: { preference: mx.priority, exchange: mx.exchange },
            });
        if (question.type === 'A')
          for (const a of records.A ?? []) answers.push({ type: 'A', name: question.name, ttl: 60, data: a });
        if (question.type === 'AAAA')
          for (const a of records.AAAA ?? []) answers.push({ type: 'AAAA', name: question.name, ttl: 60, data: a });
        // A TXT string holds at most 255 bytes; longer values (DKIM keys) are split into several.
        if (question.type === 'TXT')
          for (const t of records.TXT ?? [])
            answers.push({
              type: 'TXT',
              name: question.name,
              ttl: 60,
              data: t.match(/.{1,255}/g)!.map((part) => Buffer.from(part)),
            });
      }
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

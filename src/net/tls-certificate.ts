// The certificate every TLS listener uses: the configured one, or a self-signed certificate for
// the host name, created once in <data dir>/tls so that STARTTLS and implicit TLS work from the
// first start (clients will warn until a real certificate is configured).
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import selfsigned from 'selfsigned';
import type { Config } from '../config/schema.ts';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  selfSigned: boolean;
  certPath: string;
}

export async function loadTlsMaterial(config: Config): Promise<TlsMaterial> {
  if (config.tls.cert && config.tls.key) {
    return {
      cert: await readFile(config.tls.cert),
      key: await readFile(config.tls.key),
      selfSigned: false,
      certPath: config.tls.cert,
    };
  }
  const dir = join(config.dataDir, 'tls');
  const certPath = join(dir, `${config.hostname}.crt`);
  const keyPath = join(dir, `${config.hostname}.key`);
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // selfsigned 2.x (node-forge): 5.x breaks when mailauth's @peculiar/asn1-schema is hoisted beside it.
    const pems = selfsigned.generate([{ name: 'commonName', value: config.hostname }], {
      keySize: 2048,
      days: 5 * 365,
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: config.hostname },
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
          ],
        },
      ],
    });
    await writeFile(keyPath, pems.private, { mode: 0o600 });
    await writeFile(certPath, pems.cert);
  }
  return { cert: await readFile(certPath), key: await readFile(keyPath), selfSigned: true, certPath };
}

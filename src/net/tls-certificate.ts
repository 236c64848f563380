// The certificate every TLS listener uses: the configured one, or a self-signed certificate for
// the host name, created once in <data dir>/tls so that STARTTLS and implicit TLS work from the
// first start (clients will warn until a real certificate is configured).
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
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
    const pems = generateUsable(config.hostname);
    await writeFile(keyPath, pems.private, { mode: 0o600 });
    await writeFile(certPath, pems.cert);
  }
  return { cert: await readFile(certPath), key: await readFile(keyPath), selfSigned: true, certPath };
}

/**
 * A self-signed certificate and key that OpenSSL takes. Very rarely a pair made by selfsigned
 * (node-forge) is refused when a listener loads it (OpenSSL 3: "asn1 encoding routines::illegal
 * padding"; seen once in a test run of some 600 first starts, not in 2,150 pairs made on purpose):
 * the server would then fail its first start. Each pair is loaded once here, and made again if refused.
 */
function generateUsable(hostname: string): { private: string; cert: string } {
  for (let attempt = 1; ; attempt++) {
    const pems = generate(hostname);
    try {
      createSecureContext({ key: pems.private, cert: pems.cert });
      return pems;
    } catch (error) {
      if (attempt >= 5) throw error;
    }
  }
}

function generate(hostname: string): { private: string; cert: string } {
  // selfsigned 2.x (node-forge): 5.x breaks when mailauth's @peculiar/asn1-schema is hoisted beside it.
  return selfsigned.generate([{ name: 'commonName', value: hostname }], {
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
          { type: 2, value: hostname },
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
}

// Domains: the list, adding one, and for the domain chosen the DNS records it needs (a zone file's
// lines to copy) and a live check of each against DNS through the server's resolver.
import { useEffect, useState } from 'preact/hooks';
import type { PageProps } from './admin-app.tsx';
import { adminApi } from './api.ts';
import { Choice, Field, OutcomeLine, Section, useRequests } from './common.tsx';

interface Domain {
  name: string;
  kind: string;
  tenant: string;
  addresses: number;
}

interface DnsRecord {
  name: string;
  type: string;
  value: string;
  note: string;
  status?: 'ok' | 'missing' | 'different' | 'unknown';
  found?: string[];
  problem?: string;
}

const statusText = { ok: 'Published', missing: 'Missing', different: 'Different', unknown: 'Could not ask' };

export function DomainsPage({ admin, onSignedOut }: PageProps) {
  const { outcome, busy, run } = useRequests(onSignedOut);
  const [domains, setDomains] = useState<Domain[] | undefined>(undefined);
  const [chosen, setChosen] = useState<string | undefined>(undefined);
  const [records, setRecords] = useState<{ records: DnsRecord[]; zone?: string; checked: boolean } | undefined>(
    undefined,
  );
  const [name, setName] = useState('');
  const [kind, setKind] = useState('authoritative');

  const load = () => run(() => adminApi(admin, 'GET', 'domains')).then((found) => found && setDomains(found.value));
  useEffect(() => {
    load();
  }, []);
  const show = (domain: string) => {
    setChosen(domain);
    setRecords(undefined);
    run(() => adminApi(admin, 'GET', `domains/${encodeURIComponent(domain)}/dns`)).then(
      (found) => found && setRecords({ records: found.records, zone: found.zone, checked: false }),
    );
  };
  const check = (domain: string) =>
    run(
      () => adminApi(admin, 'GET', `domains/${encodeURIComponent(domain)}/dns/check`),
      (found: { published: boolean; records: DnsRecord[] }) => {
        setRecords({ ...records, records: found.records, checked: true });
        const bad = found.records.filter((r) => r.status !== 'ok').length;
        return bad ? `${bad} of ${found.records.length} records missing or different` : 'Every record is published';
      },
    );

  return (
    <div class="domains-page">
      <OutcomeLine outcome={outcome} />
      {domains && (
        <table class="admin-table">
          <caption>{domains.length === 1 ? '1 domain' : `${domains.length} domains`}</caption>
          <thead>
            <tr>
              <th scope="col">Domain</th>
              <th scope="col">Type</th>
              <th scope="col">Addresses</th>
              <th scope="col">Tenant</th>
            </tr>
          </thead>
          <tbody>
            {domains.map((d) => (
              <tr key={d.name} class={chosen === d.name ? 'current' : ''}>
                <th scope="row">
                  <button
                    type="button"
                    class="link"
                    onClick={() => show(d.name)}
                    aria-label={`DNS records of ${d.name}`}
                  >
                    {d.name}
                  </button>
                </th>
                <td>{d.kind}</td>
                <td>{d.addresses}</td>
                <td>{d.tenant}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {chosen && records && (
        <Section title={`DNS records of ${chosen}`}>
          <button type="button" class="primary" disabled={busy} onClick={() => check(chosen)}>
            Check DNS now
          </button>
          <table class="admin-table dns-records">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">Value</th>
                {records.checked && <th scope="col">In DNS</th>}
              </tr>
            </thead>
            <tbody>
              {records.records.map((r) => (
                <tr key={`${r.name} ${r.type} ${r.value}`} class={r.status ? `dns-${r.status}` : ''}>
                  <td>{r.name}</td>
                  <td>{r.type}</td>
                  <td>
                    <code class="record-value">{r.value}</code>
                    <div class="note">{r.note}</div>
                  </td>
                  {records.checked && (
                    <td>
                      {r.status ? statusText[r.status] : ''}
                      {r.found?.length && r.status !== 'ok' ? (
                        <div class="note">found: {r.found.join(', ')}</div>
                      ) : null}
                      {r.problem && <div class="note">{r.problem}</div>}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
          {records.zone && (
            <details>
              <summary>As zone file lines</summary>
              <pre class="zone">{records.zone}</pre>
            </details>
          )}
        </Section>
      )}
      <Section title="Add a domain">
        <form
          class="admin-form"
          onSubmit={(e) => {
            e.preventDefault();
            run(
              () => adminApi(admin, 'POST', 'domains', { name: name.trim(), kind }),
              (added: Domain) => {
                setName('');
                load();
                return `Added ${added.name}: publish its DNS records`;
              },
            );
          }}
        >
          <Field label="Domain name" name="domain" required value={name} onInput={setName} />
          <Choice
            label="Type"
            value={kind}
            choices={[
              ['authoritative', 'Authoritative: every address is here'],
              ['internal-relay', 'Internal relay: unknown addresses are passed on'],
            ]}
            onChange={setKind}
          />
          <button type="submit" class="primary" disabled={busy}>
            Add domain
          </button>
        </form>
      </Section>
    </div>
  );
}

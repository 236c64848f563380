// The public status page's words and colours: the headline names the worst open issue, restored
// issues are green, and days before the installation are grey.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PublicIssue, StatusSnapshot } from '../../src/health/status-snapshot.ts';
import { renderStatusPage } from '../../src/web/status-page.ts';

const now = Date.UTC(2026, 11, 5, 12);
const issue = (
  id: string,
  classification: string,
  status: PublicIssue['status'],
  component: string,
  endAt: number | null = null,
): PublicIssue => ({
  id,
  classification,
  status,
  component,
  summary: `${component} trouble`,
  startAt: now - 3_600_000,
  endAt,
  updatedAt: now,
});
const snapshot = (active: PublicIssue[], history: PublicIssue[] = [], installedAt?: number): StatusSnapshot => ({
  generatedAt: now,
  installedAt,
  store: { available: true },
  components: [
    {
      id: 'Imap',
      name: 'IMAP',
      group: 'MailboxAccess',
      status: active.some((i) => i.component === 'IMAP') ? 'serviceInterruption' : 'serviceOperational',
    },
    {
      id: 'RemoteDelivery',
      name: 'Remote delivery',
      group: 'MailFlow',
      status: active.some((i) => i.component === 'Remote delivery') ? 'serviceDegradation' : 'serviceOperational',
    },
  ],
  active,
  history,
});

describe('Status page', () => {
  it('names the worst open issue in the headline', () => {
    assert.match(
      renderStatusPage(
        snapshot([issue('MF1', 'advisory', 'serviceDegradation', 'Remote delivery')]),
        'mail.test.example',
      ),
      /<h1>Advisory: Remote delivery degraded<\/h1>/,
    );
    const both = renderStatusPage(
      snapshot([
        issue('MF1', 'advisory', 'serviceDegradation', 'Remote delivery'),
        issue('MA2', 'incident', 'serviceInterruption', 'IMAP'),
      ]),
      'mail.test.example',
    );
    assert.match(both, /<h1>Incident: IMAP interrupted \(and 1 more open issue\)<\/h1>/);
    assert.match(renderStatusPage(snapshot([]), 'mail.test.example'), /<h1>All services are operational<\/h1>/);
  });

  it('shows restored issues in green', () => {
    const page = renderStatusPage(
      snapshot([], [issue('MA3', 'incident', 'serviceRestored', 'IMAP', now - 60_000)]),
      'mail.test.example',
    );
    assert.match(page, /<span class="ok">Restored<\/span>/);
  });

  it('starts the history at the installation', () => {
    const page = renderStatusPage(snapshot([], [], now - 2 * 86_400_000), 'mail.test.example');
    assert.match(page, /<h2>Since installation \(2026-12-03\)<\/h2>/);
    assert.equal(page.match(/class="none"/g)?.length, 2 * 27, 'two components, 27 days before the installation');
    assert.match(
      renderStatusPage(snapshot([], [], now - 90 * 86_400_000), 'mail.test.example'),
      /<h2>Last 30 days<\/h2>/,
    );
  });
});

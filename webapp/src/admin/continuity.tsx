// Continuity status (global administrators): each upstream whose domains Holdfast relays to and
// takes over when it fails — normal, active (an event: mail held here) or recovering (held mail
// replayed to it) — with the event, what was held and replayed, what waits, and its last replies.
import { useEffect, useState } from 'preact/hooks';
import type { PageProps } from './admin-app.tsx';
import { adminApi, when } from './api.ts';
import { OutcomeLine, Section, useRequests } from './common.tsx';

interface UpstreamStatus {
  upstream: string;
  domains: string[];
  server: string;
  state: 'normal' | 'active' | 'recovering';
  since: string | null;
  event: { id: number; reason: string; startedAt: string; startedBy: string; issueId: string | null } | null;
  lastEvent: { id: number; startedAt: string; endedAt: string | null } | null;
  failingSince: string | null;
  lastSuccessAt: string | null;
  lastReplies: { at: string; source: string; reply: string }[];
  held: number;
  replayed: number;
  waiting: number;
  perMinute: number;
}

const stateText = {
  normal: 'Normal: mail goes to the upstream',
  active: 'Active: the upstream is down, mail is held here',
  recovering: 'Recovering: held mail is replayed to the upstream',
};

export function ContinuityPage({ admin, onSignedOut }: PageProps) {
  const { outcome, run } = useRequests(onSignedOut);
  const [statuses, setStatuses] = useState<UpstreamStatus[] | undefined>(undefined);
  useEffect(() => {
    run(() => adminApi(admin, 'GET', 'continuity')).then((found) => found && setStatuses(found.value));
  }, []);
  return (
    <div class="continuity-page">
      <OutcomeLine outcome={outcome} />
      {statuses?.length === 0 && (
        <p class="empty">No continuity upstream is configured ([[continuity.upstream]] in holdfast.toml).</p>
      )}
      {statuses?.map((s) => (
        <Section key={s.upstream} title={`${s.upstream} (${s.server})`}>
          <dl class="facts">
            <dt>Domains</dt>
            <dd>{s.domains.join(', ')}</dd>
            <dt>State</dt>
            <dd>
              {stateText[s.state]}
              {s.since ? ` since ${when(s.since)}` : ''}
            </dd>
            {s.event && (
              <>
                <dt>Event {s.event.id}</dt>
                <dd>
                  started {s.event.startedBy === 'admin' ? 'by an administrator' : 'by itself'} at{' '}
                  {when(s.event.startedAt)}: {s.event.reason}
                  {s.event.issueId ? ` (service health issue ${s.event.issueId})` : ''}
                </dd>
                <dt>Mail</dt>
                <dd>
                  {s.held} held, {s.replayed} replayed, {s.waiting} waiting, {s.perMinute} a minute
                </dd>
              </>
            )}
            {!s.event && s.lastEvent && (
              <>
                <dt>Last event {s.lastEvent.id}</dt>
                <dd>
                  {when(s.lastEvent.startedAt)} to {when(s.lastEvent.endedAt)}, {s.held} messages held
                </dd>
              </>
            )}
            {s.failingSince && (
              <>
                <dt>Failing since</dt>
                <dd>{when(s.failingSince)}</dd>
              </>
            )}
            <dt>Last success</dt>
            <dd>{when(s.lastSuccessAt)}</dd>
          </dl>
          {s.lastReplies.length > 0 && (
            <ol class="timeline" aria-label={`Last replies of ${s.upstream}`}>
              {s.lastReplies.slice(-3).map((r, i) => (
                <li key={i}>
                  <time dateTime={r.at}>{when(r.at)}</time> {r.source}: {r.reply}
                </li>
              ))}
            </ol>
          )}
        </Section>
      ))}
    </div>
  );
}

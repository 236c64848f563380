// What the admin center's pages share: running a request with its outcome announced (a status line
// for screen readers, an alert for a refusal, naming the field the server named), and a labelled field.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { SignedOut } from '../jmap.ts';

export interface Outcome {
  message: string;
  error: boolean;
}

/** Runs requests one at a time; `outcome` says how the last one went. */
export function useRequests(onSignedOut: () => void) {
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const run = async <T,>(work: () => Promise<T>, done?: (result: T) => string | undefined): Promise<T | undefined> => {
    setBusy(true);
    setOutcome(undefined);
    try {
      const result = await work();
      const message = done?.(result);
      if (message) setOutcome({ message, error: false });
      return result;
    } catch (e) {
      if (e instanceof SignedOut) onSignedOut();
      else setOutcome({ message: (e as Error).message, error: true });
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { outcome, busy, run };
}

/** The outcome of the last request: a polite status, or an alert when refused. */
export function OutcomeLine(props: { outcome: Outcome | undefined }) {
  const { outcome } = props;
  return (
    <p class={outcome?.error ? 'error' : 'status-line'} role={outcome?.error ? 'alert' : 'status'}>
      {outcome?.message ?? ''}
    </p>
  );
}

/** A labelled input whose value lives in the caller's state. */
export function Field(props: {
  label: string;
  value: string;
  onInput(value: string): void;
  type?: 'text' | 'email' | 'password' | 'datetime-local';
  name?: string;
  required?: boolean;
  placeholder?: string;
  autocomplete?: string;
}) {
  return (
    <label>
      {props.label}
      <input
        name={props.name}
        autocomplete={props.autocomplete}
        type={(props.type ?? 'text') as 'text'}
        required={props.required}
        placeholder={props.placeholder}
        value={props.value}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
      />
    </label>
  );
}

/** A labelled select of `choices` ([value, label]). */
export function Choice(props: {
  label: string;
  value: string;
  choices: readonly (readonly [string, string])[];
  onChange(value: string): void;
}) {
  return (
    <label>
      {props.label}
      <select value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        {props.choices.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A form section with its heading. */
export function Section(props: { title: string; children: ComponentChildren }) {
  const id = `section-${props.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section aria-labelledby={id} class="admin-section">
      <h2 id={id}>{props.title}</h2>
      {props.children}
    </section>
  );
}

/** Previous and next page of a listing `size` rows at a time, from `offset`. */
export function Pager(props: { offset: number; size: number; more: boolean; onMove(offset: number): void }) {
  return (
    <div class="pager">
      <button
        type="button"
        disabled={props.offset === 0}
        onClick={() => props.onMove(Math.max(0, props.offset - props.size))}
      >
        Previous page
      </button>
      <button type="button" disabled={!props.more} onClick={() => props.onMove(props.offset + props.size)}>
        Next page
      </button>
    </div>
  );
}

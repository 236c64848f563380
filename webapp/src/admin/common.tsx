// What the admin center's pages share: running a request with its outcome announced (a status line
// for screen readers, an alert for a refusal, naming the field the server named), a labelled field,
// and asking before something that cannot be undone (a modal dialog, focus given back after it).
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
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

interface Question {
  title: string;
  text: string;
  /** The button that goes ahead, naming the action ("Bounce"). */
  action: string;
  work: () => Promise<unknown>;
  /** What had focus when the question was asked: focus goes back there. */
  opener: HTMLElement | null;
}

/**
 * Asks before an action that cannot be undone: `ask(…)` opens a modal dialog (Escape or "Cancel"
 * leaves, the action's button goes ahead); render `dialog` in the page. Focus starts on "Cancel" and
 * goes back to the button that asked, or to the page when that button is gone once the work is done.
 */
export function useConfirm() {
  const [question, setQuestion] = useState<Question | undefined>(undefined);
  const ask = (title: string, text: string, action: string, work: () => Promise<unknown>) =>
    setQuestion({ title, text, action, work, opener: document.activeElement as HTMLElement | null });
  const giveFocusBack = (opener: HTMLElement | null) => {
    if (opener?.isConnected && !(opener as HTMLButtonElement).disabled) opener.focus();
    else document.querySelector<HTMLElement>('.admin-page')?.focus();
  };
  const answer = async (yes: boolean) => {
    const asked = question;
    setQuestion(undefined);
    if (!asked) return;
    giveFocusBack(asked.opener);
    if (!yes) return;
    await asked.work();
    // Once the page has shown the outcome: the button that asked may be gone with its row.
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (!document.activeElement || document.activeElement === document.body) giveFocusBack(asked.opener);
  };
  const dialog = question && (
    <ConfirmDialog title={question.title} text={question.text} action={question.action} onAnswer={answer} />
  );
  return { ask, dialog };
}

function ConfirmDialog(props: { title: string; text: string; action: string; onAnswer(yes: boolean): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (!dialog.open) dialog.showModal();
    cancel.current?.focus();
    return () => dialog.open && dialog.close();
  }, []);
  // Closed before the answer is acted on: while it is open the rest of the page cannot take focus.
  const close = (yes: boolean) => {
    if (ref.current?.open) ref.current.close();
    props.onAnswer(yes);
  };
  return (
    <dialog
      ref={ref}
      class="confirm-dialog"
      aria-labelledby="confirm-title"
      aria-describedby="confirm-text"
      onCancel={(e) => {
        e.preventDefault();
        close(false);
      }}
    >
      <h2 id="confirm-title">{props.title}</h2>
      <p id="confirm-text">{props.text}</p>
      <div class="dialog-actions">
        <button type="button" ref={cancel} onClick={() => close(false)}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={() => close(true)}>
          {props.action}
        </button>
      </div>
    </dialog>
  );
}

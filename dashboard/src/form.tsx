// Form fields with their labels and berth's message for the field beside them.
import { ReactNode, useState } from "react";

export function Field(props: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  error?: string;
  type?: string;
  autoComplete?: string;
  hint?: string;
}): JSX.Element {
  const describedBy = props.error ? `${props.id}-error` : props.hint ? `${props.id}-hint` : undefined;
  return (
    <div className={props.error ? "field invalid" : "field"}>
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        name={props.id}
        type={props.type ?? "text"}
        value={props.value}
        autoComplete={props.autoComplete}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={describedBy}
        onChange={(e) => props.onChange(e.target.value)}
      />
      {props.error ? (
        <p className="field-error" id={`${props.id}-error`} role="alert">
          {props.error}
        </p>
      ) : props.hint ? (
        <p className="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}

export function Banner(props: { children: ReactNode }): JSX.Element {
  return (
    <p className="banner" role="alert">
      {props.children}
    </p>
  );
}

/**
 * A destructive action asked twice: a button (`label`), then `question` with the action itself
 * (`action`) and a way back. `question` may hold choices of its own (a checkbox).
 */
export function Confirm(props: {
  label: string;
  ariaLabel?: string;
  group: string;
  question: ReactNode;
  action: string;
  onConfirm: () => void;
}): JSX.Element {
  const [asking, setAsking] = useState(false);
  return asking ? (
    <span className="confirm" role="group" aria-label={props.group}>
      {props.question}{" "}
      <button
        type="button"
        className="danger"
        onClick={() => {
          setAsking(false);
          props.onConfirm();
        }}
      >
        {props.action}
      </button>{" "}
      <button type="button" onClick={() => setAsking(false)}>
        Keep it
      </button>
    </span>
  ) : (
    <button type="button" className="danger-outline" aria-label={props.ariaLabel} onClick={() => setAsking(true)}>
      {props.label}
    </button>
  );
}

/**
 * A table's head: a header cell per column; `hidden` names a last column of buttons for
 * screen readers only.
 */
export function TableHead(props: { columns: string[]; hidden?: string }): JSX.Element {
  return (
    <thead>
      <tr>
        {props.columns.map((c) => (
          <th key={c} scope="col">
            {c}
          </th>
        ))}
        {props.hidden !== undefined ? (
          <th scope="col">
            <span className="visually-hidden">{props.hidden}</span>
          </th>
        ) : null}
      </tr>
    </thead>
  );
}

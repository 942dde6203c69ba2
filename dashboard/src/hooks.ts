// The two things every page does: read what it shows (again after each change), and run an
// action that may be refused, keeping berth's answer to show beside the fields it names.
import { useCallback, useEffect, useState } from "react";

import { Problem, problemOf } from "./client";

export interface Loaded<T> {
  data: T | null;
  problem: Problem | null;
  reload: () => Promise<void>;
}

/** Reads `read()` now and whenever `reload` is called; the newest answer wins. */
export function useLoad<T>(read: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const stable = useCallback(read, deps);
  const reload = useCallback(async () => {
    try {
      setData(await stable());
      setProblem(null);
    } catch (e) {
      setProblem(await problemOf(e));
    }
  }, [stable]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, problem, reload };
}

export interface Action {
  /** berth's refusal of the last attempt, if it refused. */
  problem: Problem | null;
  busy: boolean;
  /** Runs `act`; true when it went through. */
  run: (act: () => Promise<unknown>) => Promise<boolean>;
  clear: () => void;
}

export function useAction(): Action {
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const run = useCallback(async (act: () => Promise<unknown>) => {
    setBusy(true);
    setProblem(null);
    try {
      await act();
      return true;
    } catch (e) {
      setProblem(await problemOf(e));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  const clear = useCallback(() => setProblem(null), []);
  return { problem, busy, run, clear };
}

/** berth's message for the first of `names` it named. */
export function fieldError(problem: Problem | null, ...names: string[]): string | undefined {
  if (problem === null) {
    return undefined;
  }
  for (const n of names) {
    const m = problem.fields[n];
    if (m !== undefined) {
      return m;
    }
  }
  return undefined;
}

/**
 * `s` as one of an enumeration of the generated client (`PortInputModeEnum`), or `fallback`
 * when it is none of them: a form's free string made into the type a body needs.
 */
export function enumValue<T extends string>(values: Record<string, T>, s: string, fallback: T): T {
  return Object.values(values).find((v) => v === s) ?? fallback;
}

/** The refusal to show as a banner: one that names no field the form shows. */
export function unshown(problem: Problem | null, shown: string[]): Problem | null {
  if (problem === null) {
    return null;
  }
  const named = Object.keys(problem.fields);
  return named.some((f) => shown.some((s) => f === s || f.startsWith(`${s}.`))) ? null : problem;
}

/**
 * What a form field becomes once what it held was sent and saved: empty, unless the user has
 * already typed something else meanwhile (`setName(cleared(sent))`).
 */
export function cleared(sent: string): (now: string) => string {
  return (now) => (now === sent || now.trim() === sent ? "" : now);
}

// Status that follows changes live: one stream of the changes the caller may see
// (`/api/v1/events/stream`), opened once for the tab and shared by every page. A page says
// which changes concern it; when the stream fell behind, or came back after a break, every
// page reads what it shows again. When berth says the session ended, the tab signs out.
import { createContext, ReactNode, useContext, useEffect, useRef } from "react";

import { follow } from "./stream";

/** One change: an application's, a deployment's or an operation's status. */
export interface Change {
  kind: "application" | "deployment" | "operation";
  applicationId: string;
  id: string;
  status: string;
}

type Listener = (change: Change | "resync") => void;

class Changes {
  private listeners = new Set<Listener>();

  listen(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  tell(change: Change | "resync"): void {
    for (const l of this.listeners) {
      l(change);
    }
  }
}

const LiveContext = createContext<Changes | null>(null);

function changeOf(kind: string, data: unknown): Change | null {
  if (kind !== "application" && kind !== "deployment" && kind !== "operation") {
    return null;
  }
  const d = data as Record<string, unknown>;
  const applicationId = String(d["application_id"] ?? "");
  const id = String(d[`${kind}_id`] ?? applicationId);
  return { kind, applicationId, id, status: String(d["status"] ?? "") };
}

/** Keeps the tab's stream open (again after a break, waiting longer each time, up to 30 s). */
export function LiveChanges(props: { token: string; onEnded: () => void; children: ReactNode }): JSX.Element {
  const changes = useRef(new Changes()).current;
  const onEnded = useRef(props.onEnded);
  onEnded.current = props.onEnded;
  useEffect(() => {
    const abort = new AbortController();
    let wait = 1000;
    let ended = false;
    let first = true;
    const run = async (): Promise<void> => {
      while (!abort.signal.aborted && !ended) {
        try {
          await follow(
            "/api/v1/events/stream",
            props.token,
            (e) => {
              if (e.event === "ready") {
                wait = 1000;
                // Back after a break: what changed meanwhile was not told.
                if (!first) {
                  changes.tell("resync");
                }
                first = false;
              } else if (e.event === "resync") {
                changes.tell("resync");
              } else if (e.event === "end") {
                ended = true;
                onEnded.current();
              } else {
                const c = changeOf(e.event, e.data);
                if (c !== null) {
                  changes.tell(c);
                }
              }
            },
            abort.signal,
          );
        } catch {
          // Refused or broken: tried again below.
        }
        if (abort.signal.aborted || ended) {
          return;
        }
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, 30_000);
      }
    };
    void run();
    return () => abort.abort();
  }, [props.token, changes]);
  return <LiveContext.Provider value={changes}>{props.children}</LiveContext.Provider>;
}

/**
 * Calls `onChange` for each change `concerns` says is this page's, and `onChange("resync")`
 * when the page should read everything again. Changes that come in a burst are told once,
 * after 200 ms of quiet, with the last of them.
 */
export function useLive(concerns: (c: Change) => boolean, onChange: (c: Change | "resync") => void): void {
  const changes = useContext(LiveContext);
  const latest = useRef({ concerns, onChange });
  latest.current = { concerns, onChange };
  useEffect(() => {
    if (changes === null) {
      return;
    }
    let timer: number | null = null;
    let pending: Change | "resync" | null = null;
    const stop = changes.listen((c) => {
      if (c !== "resync" && !latest.current.concerns(c)) {
        return;
      }
      pending = pending === "resync" ? "resync" : c;
      if (timer !== null) {
        window.clearTimeout(timer);
      }
      timer = window.setTimeout(() => {
        timer = null;
        const told = pending;
        pending = null;
        if (told !== null) {
          latest.current.onChange(told);
        }
      }, 200);
    });
    return () => {
      stop();
      if (timer !== null) {
        window.clearTimeout(timer);
      }
    };
  }, [changes]);
}

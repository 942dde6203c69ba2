// Logs that may grow to hundreds of thousands of lines without freezing the page: lines are
// kept in an array outside React's state, the view is redrawn at most once a frame, and only
// the lines in sight (and a few around them) are in the document. A search box narrows the
// view to the lines that contain its text; at the bottom, the view follows new lines.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { LogLineViewFromJSON } from "@api";

import { Banner } from "./form";
import { follow } from "./stream";
import type { StreamEvent } from "./stream";

export interface LogEntry {
  key: number;
  text: string;
  level: string;
}

/** Lines gathered outside React's state, announced at most once a frame. */
export function useLines(): { lines: LogEntry[]; version: number; push: (e: LogEntry) => void; reset: () => void } {
  const lines = useRef<LogEntry[]>([]);
  const [version, setVersion] = useState(0);
  const frame = useRef<number | null>(null);
  const announce = useCallback(() => {
    if (frame.current === null) {
      frame.current = requestAnimationFrame(() => {
        frame.current = null;
        setVersion((v) => v + 1);
      });
    }
  }, []);
  useEffect(
    () => () => {
      if (frame.current !== null) {
        cancelAnimationFrame(frame.current);
      }
    },
    [],
  );
  const push = useCallback(
    (e: LogEntry) => {
      lines.current.push(e);
      announce();
    },
    [announce],
  );
  const reset = useCallback(() => {
    lines.current = [];
    announce();
  }, [announce]);
  return { lines: lines.current, version, push, reset };
}

const LINE_PX = 18;
const OVERSCAN = 20;

/** The lines, searchable, drawn in a window of what is in sight. */
export function LogView(props: { label: string; lines: LogEntry[]; version: number; id: string }): JSX.Element {
  const { label, lines, version, id } = props;
  const [query, setQuery] = useState("");
  const box = useRef<HTMLDivElement | null>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(448);
  const following = useRef(true);
  // Where the view last scrolled itself to: a scroll event at or past it is the view's own,
  // one above it is the reader's, who then stops following.
  const placed = useRef(0);

  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    return q === "" ? lines : lines.filter((l) => l.text.toLowerCase().includes(q));
    // `version` says the array grew (it is the same array, changed in place).
  }, [lines, version, query]);

  useEffect(() => {
    const el = box.current;
    if (el !== null && following.current) {
      el.scrollTop = el.scrollHeight;
      placed.current = el.scrollTop;
      setTop(el.scrollTop);
    }
  }, [shown, version]);

  useEffect(() => {
    const el = box.current;
    if (el === null) {
      return;
    }
    setHeight(el.clientHeight || 448);
  }, []);

  // The browser moves the view up when a search shortens it; the window follows at once.
  const at = Math.min(top, Math.max(0, shown.length * LINE_PX - height));
  const first = Math.max(0, Math.floor(at / LINE_PX) - OVERSCAN);
  const last = Math.min(shown.length, Math.ceil((at + height) / LINE_PX) + OVERSCAN);
  const visible = shown.slice(first, last);

  return (
    <div className="logview">
      <div className="log-tools">
        <label htmlFor={`${id}-search`}>Search</label>
        <input id={`${id}-search`} type="search" value={query} onChange={(e) => setQuery(e.target.value)} />
        <span className="hint" aria-live="polite">
          {query.trim() === "" ? `${lines.length} lines` : `${shown.length} of ${lines.length} lines`}
        </span>
      </div>
      <div
        className="log"
        ref={box}
        role="log"
        aria-label={label}
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          setTop(el.scrollTop);
          following.current = el.scrollTop >= placed.current - 1 || el.scrollTop + el.clientHeight >= el.scrollHeight - LINE_PX;
        }}
      >
        <div className="log-space" style={{ height: `${shown.length * LINE_PX}px` }}>
          <div className="log-lines" style={{ transform: `translateY(${first * LINE_PX}px)` }}>
            {visible.map((l) => (
              <div key={l.key} className={`line level-${l.level}`}>
                {l.text}
              </div>
            ))}
          </div>
        </div>
      </div>
    </div>
  );
}

/**
 * Follows the live stream at `path` while the component stays, handing each event to
 * `onEvent` (the newest one given); the reason, when the stream was refused or broke.
 */
export function useFollow(path: string, token: string, onEvent: (e: StreamEvent) => void): string | null {
  const [failure, setFailure] = useState<string | null>(null);
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    const abort = new AbortController();
    follow(path, token, (e) => handler.current(e), abort.signal).catch((err: unknown) => {
      if (!abort.signal.aborted) {
        setFailure(err instanceof Error ? err.message : String(err));
      }
    });
    return () => abort.abort();
  }, [path, token]);
  return failure;
}

/** A deployment's log, followed live: every stored line, then each new one, until it ends. */
export function DeploymentLog(props: { token: string; id: string; onStep: () => void; onEnded: () => void }): JSX.Element {
  const { token, id } = props;
  const { lines, version, push } = useLines();
  const [status, setStatus] = useState<string | null>(null);
  const [ended, setEnded] = useState(false);
  // The newest handler is the one called (useFollow keeps it), so it sees the newest props.
  const failure = useFollow(`/api/v1/deployments/${id}/logs/stream`, token, (e) => {
    if (e.event === "log") {
      const l = LogLineViewFromJSON(e.data);
      push({ key: l.seq, text: l.step ? `[${l.step}] ${l.message}` : l.message, level: l.level });
    } else if (e.event === "step") {
      props.onStep();
    } else if (e.event === "status" || e.event === "end") {
      setStatus((e.data as { status: string }).status);
      if (e.event === "end") {
        setEnded(true);
        props.onEnded();
      }
    }
  });

  return (
    <section className="card wide" aria-labelledby="log-title">
      <h2 id="log-title">
        Log {status !== null ? <span className={`status status-${status}`}>{status}</span> : null}
        {ended ? null : <span className="live"> live</span>}
      </h2>
      {failure !== null ? <Banner>{failure}</Banner> : null}
      <LogView label="Deployment log" lines={lines} version={version} id="deployment-log" />
    </section>
  );
}

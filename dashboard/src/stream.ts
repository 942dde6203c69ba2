// berth's live streams (server-sent events) read with `fetch`, which can send the bearer token
// that `EventSource` cannot: a small typed parser of the event stream.

/** One event of a stream: its name (`log`, `status`, `step`, `end`, …), its data as JSON, its id. */
export interface StreamEvent {
  event: string;
  data: unknown;
  id: string | null;
}

/**
 * Follows `path` until the stream ends or `signal` aborts, calling `onEvent` for each event.
 * Resolves when the server closes the stream; rejects with the status when it refuses it.
 */
export async function follow(
  path: string,
  token: string,
  onEvent: (e: StreamEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await fetch(path, {
    headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream" },
    signal,
  });
  if (!response.ok || response.body === null) {
    throw new Error(`the stream was refused (${response.status})`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      return;
    }
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const parsed = parseBlock(block);
      if (parsed !== null) {
        onEvent(parsed);
      }
      end = buffer.indexOf("\n\n");
    }
  }
}

function parseBlock(block: string): StreamEvent | null {
  let event = "message";
  let id: string | null = null;
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) {
      continue; // a comment: the keep-alive
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") {
      event = value;
    } else if (field === "data") {
      data.push(value);
    } else if (field === "id") {
      id = value;
    }
  }
  if (data.length === 0) {
    return null;
  }
  const text = data.join("\n");
  try {
    return { event, data: JSON.parse(text) as unknown, id };
  } catch {
    return { event, data: text, id };
  }
}

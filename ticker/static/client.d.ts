// Types of /client.js, the ticker v1 live protocol client (see docs/client.md and
// /api/v1/asyncapi.json for the frames).

/** One breaking item, as the server sends it. */
export interface Item {
  id: string;
  feed: string;
  text: string;
  source?: string | null;
  urgency: number;
  category?: string | null;
  regions: string[];
  url?: string | null;
  lang: string;
  author: string;
  published_at: string;
  updated_at: string;
  version: number;
  status: "usable" | "withheld" | "canceled";
  pinned?: boolean;
  expires?: string | null;
  [field: string]: unknown; // fields added to the contract later
}

export interface Filter {
  categories?: string[];
  regions?: string[];
  max_urgency?: number;
}

export type Status = "connecting" | "live" | "reconnecting" | "offline";

/** Replace what you show: the latest items (newest last) and the pinned item. */
export interface SnapshotFrame { type: "snapshot"; feed: string; cursor: string; items: Item[]; pinned?: Item | null }
/** Resumed: every event after your cursor follows. */
export interface SubscribedFrame { type: "subscribed"; feed: string; recovered: true }
/** A new item, one gone live from a schedule or approval, or a released one (its old id). */
export interface ItemFrame { type: "item"; cursor: string; item: Item }
/** A correction: `item.version` increased. */
export interface UpdateFrame { type: "update"; cursor: string; item: Item }
/** The item left the air (killed, held or expired): remove it, whatever the reason. */
export interface RetractFrame {
  type: "retract"; cursor: string; feed: string; id: string;
  reason?: "retracted" | "withheld" | "expired";
}
/** The feed's pinned item changed (`id: null`: none). */
export interface PinFrame { type: "pin"; cursor: string; feed: string; id: string | null; item?: Item | null }
/** A frame the server refused (e.g. an unknown feed or filter); nothing will come for it. */
export interface ErrorFrame { type: "error"; code: string; message: string }
/** The shared connection's state changed (not a server frame). */
export interface StatusFrame { type: "status"; status: Status }

export type Frame =
  | SnapshotFrame | SubscribedFrame | ItemFrame | UpdateFrame | RetractFrame | PinFrame
  | ErrorFrame | StatusFrame;

export interface SubscribeOptions {
  /** Only new items that match (corrections, retractions and pins always come). */
  filter?: Filter;
  /** Resume after this cursor (e.g. one you stored): the events after it, then live ones. */
  since?: string | null;
}

export interface Subscription {
  readonly feed: string;
  readonly filter: Filter;
  /** The last cursor this subscription saw. */
  readonly cursor: string | null;
  readonly status: Status;
  /** Reconnect now (resuming from the cursors) instead of waiting for the backoff. */
  reconnect(): void;
  close(): void;
}

export interface ConnectOptions {
  /** "auto" (WebSocket, falling back to Server-Sent Events), "websocket" or "sse". */
  transport?: "auto" | "websocket" | "sse";
  /** Share one connection among the tabs of this origin (default true; needs Web Locks and
   *  BroadcastChannel, else each page has its own). */
  shared?: boolean;
}

export interface Ticker {
  /** The server's base URL. */
  readonly base: string;
  readonly status: Status;
  /** Whether this tab holds the shared connection. */
  readonly leader: boolean;
  /** Frames of `feed` for `onFrame`: first a snapshot (or, with `since`, a `subscribed` and
   *  the events after it), then live events, exactly once, in order; and status changes. */
  subscribe(feed: string, options?: SubscribeOptions, onFrame?: (frame: Frame) => void): Subscription;
  reconnect(): void;
}

/** The connection to a ticker server (default: the one this module was loaded from), shared by
 *  everything on the page. */
export function connect(server?: string | URL, options?: ConnectOptions): Ticker;

/** Whether a new item passes a filter, as the server decides it. */
export function matches(item: Item, filter?: Filter): boolean;

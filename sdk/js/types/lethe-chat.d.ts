// Types of the Lethe browser chat SDK (src/lethe-chat.js).

/** The localStorage key of the chat's one object. */
export const STORAGE_KEY: string;

/** What the consent manager said: accepted categories, and whether all were. */
export interface ConsentDecision {
  categories: Record<string, boolean>;
  /** At least one category, and every one accepted. */
  all: boolean;
}

/** Anything that can tell the consent decision once the banner is closed. */
export interface ConsentAdapter {
  decision(): Promise<ConsentDecision>;
}

export interface ConsentOptions {
  /**
   * basic: start once the banner is closed, if `category` was accepted
   * (else the chat stays unloaded). smart: start once the banner is closed,
   * with localStorage only if every category was accepted, else in memory.
   * none: no consent manager; storage allowed. Default: smart.
   */
  mode?: 'basic' | 'smart' | 'none';
  adapter?: ConsentAdapter;
  /** The cookie category the chat belongs to (basic mode). */
  category?: string;
}

export interface ChatOptions {
  tenant: string;
  /** Base URL of the Lethe server; "" for the page's own origin. */
  server?: string;
  /** The session token the application minted for this visitor. */
  token?: string;
  /**
   * Lifetime of the saved state in seconds; 0 switches storage off and
   * removes saved state. Default: the session token's expiry.
   */
  ttl?: number;
  consent?: ConsentOptions;
  storageKey?: string;
  /** Clock in milliseconds (tests). */
  now?: () => number;
  window?: Window;
}

export interface ChatMessage {
  from: string;
  text: string;
  /** Milliseconds since the epoch. */
  at: number;
}

export interface ChatState {
  messages: ChatMessage[];
  /** The signed session token (JWT); its personal data is sealed. */
  session: string | null;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export class Chat {
  constructor(options: ChatOptions);
  readonly tenant: string;
  state: ChatState;
  /** When the saved state expires (ms since the epoch); 0 when never saved. */
  expires: number;
  status: 'waiting' | 'ready' | 'blocked' | 'expired';
  /** Whether the state is in localStorage (else in memory only). */
  persistent: boolean;
  opened: boolean;
  start(): Promise<boolean>;
  on(listener: (chat: Chat) => void): () => void;
  add(text: string, from?: string): ChatMessage;
  clear(): void;
  /** Reports the opening to the server, which only then stores the IP address. */
  open(): Promise<{ session_id: string; delete_at: string } | null>;
  saveVariables(): Promise<{ id: string; delete_at: string }>;
}

export function createChat(options: ChatOptions): Chat;
export function memoryStorage(): StorageLike;
export function callbackAdapter(subscribe: (done: (categories: Record<string, boolean>) => void) => void): ConsentAdapter;
export function eventAdapter(options: {
  event: string;
  read: (event?: Event) => Record<string, boolean>;
  ready?: () => boolean;
  target?: EventTarget;
}): ConsentAdapter;
export function tcfAdapter(win?: Window): ConsentAdapter;

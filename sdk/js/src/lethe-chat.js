// Lethe browser chat SDK. The chat keeps its state (messages and the
// signed session token) in the browser, not on the server (C13): one
// localStorage object {messages, session, expires} that is removed when
// it expires and never written when the lifetime is 0. Storage waits for
// the consent manager (C14) and falls back to memory without consent. The
// server learns the customer's IP address only when the chat is opened
// (C15). No runtime dependencies; no cookies, ever.

/** The localStorage key of the chat's one object. */
export const STORAGE_KEY = 'lethe-chat';

// setTimeout takes at most 2^31-1 ms (about 24.8 days); a 14-day lifetime
// fits, a longer clock skew does not matter.
const MAX_TIMER = 2147483647;

/** A Storage-like object that forgets everything with the page. */
export function memoryStorage() {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => void m.set(k, String(v)),
    removeItem: (k) => void m.delete(k),
  };
}

// A decision is {categories: {name: boolean}, all: boolean}: "all" holds
// only when there is at least one category and every one was accepted.
function decision(categories) {
  const c = Object.assign({}, categories);
  const v = Object.values(c);
  return { categories: c, all: v.length > 0 && v.every(Boolean) };
}

/**
 * A consent adapter for any consent manager with a callback: subscribe is
 * called once with a function to call with {category: accepted} when the
 * banner is closed (or was closed on an earlier visit).
 */
export function callbackAdapter(subscribe) {
  return { decision: () => new Promise((resolve) => subscribe((cats) => resolve(decision(cats)))) };
}

/**
 * A consent adapter for managers that fire a window event when the banner
 * closes (Cookiebot's CookiebotOnConsentReady, Usercentrics' UC_CONSENT,
 * ...): read() returns {category: accepted}, given the event; ready()
 * says whether the decision is known already (a returning visitor).
 */
export function eventAdapter({ event, read, ready, target = globalThis }) {
  return callbackAdapter((done) => {
    if (ready && ready()) return done(read());
    target.addEventListener(event, function once(e) {
      target.removeEventListener(event, once);
      done(read(e));
    });
  });
}

/**
 * The IAB TCF v2.2 adapter (__tcfapi). Categories are the TCF purposes
 * 1..11; "every category accepted" means consent to all of them. Where
 * the GDPR does not apply (gdprApplies false) everything counts as
 * accepted; a page without a CMP gives no consent.
 */
export function tcfAdapter(win = globalThis) {
  return {
    decision: () =>
      new Promise((resolve) => {
        const api = win.__tcfapi;
        if (typeof api !== 'function') return resolve(decision({}));
        api('addEventListener', 2, (tc, ok) => {
          if (!ok || !tc) return;
          let d;
          if (tc.gdprApplies === false) {
            d = { categories: {}, all: true };
          } else if (tc.eventStatus === 'tcloaded' || tc.eventStatus === 'useractioncomplete') {
            const given = (tc.purpose && tc.purpose.consents) || {};
            const cats = {};
            for (let p = 1; p <= 11; p++) cats[p] = given[p] === true;
            d = decision(cats);
          } else {
            return; // the banner is still open ("cmpuishown")
          }
          api('removeEventListener', 2, () => {}, tc.listenerId);
          resolve(d);
        });
      }),
  };
}

// tokenExpiry reads exp (ms) from a JWT without verifying it: the server
// verifies; the browser only needs to know when to forget.
function tokenExpiry(token) {
  try {
    const p = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const exp = JSON.parse(atob(p)).exp;
    return typeof exp === 'number' ? exp * 1000 : 0;
  } catch {
    return 0;
  }
}

/** Creates a chat; call start() before anything else. */
export function createChat(options) {
  return new Chat(options);
}

export class Chat {
  constructor(o) {
    if (!o || !o.tenant) throw new TypeError('lethe-chat: tenant is required');
    const c = o.consent || { mode: 'smart' };
    if (!['basic', 'smart', 'none'].includes(c.mode || 'smart')) throw new TypeError('lethe-chat: consent.mode is basic, smart or none');
    if (c.mode === 'basic' && !c.category) throw new TypeError('lethe-chat: basic consent needs a category');
    this.server = (o.server || '').replace(/\/$/, '');
    this.tenant = o.tenant;
    this.token = o.token || null;
    this.ttl = o.ttl; // seconds; undefined: the session token's own expiry
    this.consent = c;
    this.key = o.storageKey || STORAGE_KEY;
    this.now = o.now || Date.now;
    this.win = o.window || globalThis;
    this.state = { messages: [], session: null };
    this.expires = 0;
    this.status = 'waiting'; // then ready, blocked or expired
    this.persistent = false;
    this.opened = false;
    this._storage = null;
    this._timer = 0;
    this._listeners = new Set();
  }

  /**
   * Waits for the consent decision, then loads the saved state. Resolves
   * false when basic mode's category was refused: the chat stays unloaded.
   */
  async start() {
    const c = this.consent;
    const mode = c.mode || 'smart';
    let allowed = mode === 'none';
    if (!allowed) {
      const d = c.adapter ? await c.adapter.decision() : decision({});
      if (mode === 'basic' && !d.categories[c.category]) {
        this.status = 'blocked';
        this._emit();
        return false;
      }
      allowed = mode === 'basic' || d.all;
    }
    let ls = null;
    if (allowed) {
      try {
        ls = this.win.localStorage;
      } catch {
        ls = null; // storage blocked by the browser: memory it is
      }
    }
    const now = this.now();
    if (ls) {
      let saved = null;
      try {
        saved = JSON.parse(ls.getItem(this.key));
      } catch {
        saved = null;
      }
      if (saved !== null && (typeof saved !== 'object' || !(saved.expires > now) || this.ttl === 0)) {
        ls.removeItem(this.key); // expired, damaged, or storage switched off
        saved = null;
      }
      if (saved) {
        this.state = { messages: Array.isArray(saved.messages) ? saved.messages : [], session: saved.session || null };
        this.expires = saved.expires;
      }
    }
    if (!this.state.session) this.state.session = this.token;
    if (!this.expires) this.expires = this._expiry(now);
    if (!(this.expires > now)) ls = null; // lifetime 0: keep nothing beyond the page
    this._storage = ls || memoryStorage();
    this.persistent = !!ls;
    this.status = 'ready';
    this._save();
    this._arm(now);
    this._emit();
    return true;
  }

  _expiry(now) {
    const exp = this.state.session ? tokenExpiry(this.state.session) : 0;
    if (this.ttl === undefined) return exp;
    if (!(this.ttl > 0)) return 0;
    const t = now + this.ttl * 1000;
    return exp ? Math.min(t, exp) : t;
  }

  _arm(now) {
    clearTimeout(this._timer);
    if (this.expires > now) this._timer = setTimeout(() => this._expire(), Math.min(this.expires - now, MAX_TIMER));
  }

  _expire() {
    if (this.now() < this.expires) return this._arm(this.now());
    this.clear();
    this.status = 'expired';
    this._emit();
  }

  _save() {
    if (this._storage && this.persistent) {
      this._storage.setItem(this.key, JSON.stringify({ messages: this.state.messages, session: this.state.session, expires: this.expires }));
    }
  }

  _emit() {
    for (const fn of this._listeners) fn(this);
  }

  /** Calls fn on every change; returns a function that stops it. */
  on(fn) {
    this._listeners.add(fn);
    return () => this._listeners.delete(fn);
  }

  /** Adds a message ({from, text, at}) to the chat's state. */
  add(text, from = 'customer') {
    if (this.status !== 'ready') throw new Error('lethe-chat: not started');
    const m = { from, text: String(text), at: this.now() };
    this.state.messages.push(m);
    this._save();
    this._emit();
    return m;
  }

  /** Forgets the state, in storage and in memory. */
  clear() {
    clearTimeout(this._timer);
    if (this._storage) this._storage.removeItem(this.key);
    this.state = { messages: [], session: null };
  }

  /**
   * Reports that the customer opened the chat: the one call that lets the
   * server record the IP address (30 days). Once per page.
   */
  async open() {
    if (this.opened) return null;
    const r = await this._post('open');
    this.opened = true;
    this._save();
    return r;
  }

  /** Asks the server to store the session's variables for export. */
  saveVariables() {
    return this._post('variables');
  }

  async _post(what) {
    if (!this.state.session) throw new Error('lethe-chat: no session token');
    const res = await fetch(`${this.server}/v1/tenants/${encodeURIComponent(this.tenant)}/sessions/${what}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: this.state.session }),
      credentials: 'omit',
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(`lethe-chat: ${what}: ${body.detail || body.title || res.status}`);
      err.status = res.status;
      throw err;
    }
    return body;
  }
}

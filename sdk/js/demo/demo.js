// The demo page's wiring: a stand-in consent banner, a chat bubble that
// opens the chat (the only moment the server learns the IP address), and
// a message list kept by the SDK.
import { createChat, eventAdapter, tcfAdapter } from './lethe-chat.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.hash.slice(1));
const banner = $('banner');

// The demo banner remembers nothing (a real consent manager would): it
// announces its decision as an event, the way Cookiebot or Usercentrics do.
function decide(all) {
  banner.hidden = true;
  const detail = { necessary: true, preferences: all, statistics: all, marketing: all };
  dispatchEvent(new CustomEvent('lethe-demo-consent', { detail }));
}
$('accept-all').onclick = () => decide(true);
$('necessary-only').onclick = () => decide(false);

let adapter = eventAdapter({ event: 'lethe-demo-consent', read: (e) => e.detail });
if (params.get('adapter') === 'tcf') {
  banner.hidden = true; // the page's own CMP shows its banner
  adapter = tcfAdapter();
}

const chat = createChat({
  tenant: params.get('tenant') || '',
  token: params.get('token') || undefined,
  ttl: params.has('ttl') ? Number(params.get('ttl')) : undefined,
  consent: { mode: params.get('mode') || 'smart', adapter, category: params.get('category') || 'preferences' },
});
window.demoChat = chat;

function render() {
  $('status').textContent = chat.status === 'ready' ? (chat.persistent ? 'ready, stored in this browser' : 'ready, in memory only') : chat.status;
  $('bubble').disabled = chat.status !== 'ready';
  const ul = $('messages');
  ul.replaceChildren(
    ...chat.state.messages.map((m) => {
      const li = document.createElement('li');
      li.textContent = `${m.from}: ${m.text}`;
      return li;
    }),
  );
}
chat.on(render);

$('bubble').onclick = async () => {
  $('panel').hidden = false;
  try {
    await chat.open();
  } catch (e) {
    $('status').textContent = e.message;
  }
};
$('form').onsubmit = (e) => {
  e.preventDefault();
  const text = $('text').value.trim();
  if (text) chat.add(text);
  $('text').value = '';
};

chat.start().then(render);

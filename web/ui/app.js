// The dashboard: a hash-routed single page fed by the REST API for lists
// and by the live socket for a stats snapshot every second and events as
// they happen.
import { session, request, live } from './api.js';
import { Chart } from './chart.js';
import { h, bits, bytes, duration, since, resolution, byProtocol } from './format.js';

const $ = (id) => document.getElementById(id);
const state = { streams: [], clients: [], apps: [], events: [], server: null, detail: null };
const maxEvents = 500;

// The overview charts span the server's history: 600 ticks, ten minutes
// at the default interval.
const historyPoints = 600;
const bwChart = new Chart($('chart-bw'), [{ name: 'in', color: '#2f7de1' }, { name: 'out', color: '#e1742f' }], { format: bits, points: historyPoints });
const connChart = new Chart($('chart-conns'), [{ name: 'connections', color: '#3aa55d' }], { points: historyPoints });
// charted is the time (ms) of the newest tick on the overview charts: the
// live socket's first snapshot may be the history's last sample.
let charted = 0;
const streamChart = new Chart($('chart-stream'), [{ name: 'bitrate', color: '#2f7de1' }], { format: bits });

function toast(msg, bad = false) {
  const t = $('toast');
  t.textContent = msg;
  t.className = bad ? 'toast bad' : 'toast';
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

async function act(what, method, path) {
  try {
    await request(method, path);
    toast(what);
    refreshLists();
  } catch (e) {
    toast(`${what} failed: ${e.message}`, true);
  }
}

const streamKey = (s) => `${s.app}/${s.instance}/${s.name}`;
const streamPath = (s) => `/api/v1/streams/${encodeURIComponent(s.app)}/${encodeURIComponent(s.instance)}/${s.name.split('/').map(encodeURIComponent).join('/')}`;

function stopStream(s) {
  if (confirm(`Stop ${s.name}? Its publisher is disconnected.`)) act(`Stopped ${s.name}`, 'DELETE', streamPath(s));
}

// The record endpoint takes the name as one path segment: its slashes
// are escaped.
const recordPath = (s) => `/api/v1/streams/${encodeURIComponent(s.app)}/${encodeURIComponent(s.instance)}/${encodeURIComponent(s.name)}/record`;
const recordingPath = (r) => `/api/v1/recordings/${encodeURIComponent(r.app)}/${encodeURIComponent(r.instance)}/${r.name.split('/').map(encodeURIComponent).join('/')}`;

// toggleRecording starts or stops writing a live stream to its file;
// the recording also ends when the publisher stops.
function toggleRecording(s) {
  if (s.recording) act(`Stopped recording ${s.name}`, 'DELETE', recordPath(s));
  else act(`Recording ${s.name}`, 'POST', recordPath(s));
}

const recordButton = (s, cls) => h('button', {
  class: s.recording ? `${cls} recording` : cls, data: { action: 'record' }, onclick: () => toggleRecording(s),
}, s.recording ? 'Stop recording' : 'Record');
const recBadge = (on) => (on ? h('span', { class: 'rec', title: 'being recorded' }, '● REC') : null);

function streamsTable(table, streams) {
  const head = h('tr', {}, ...['Stream', 'App', 'Publisher', 'Video', 'Audio', 'Resolution', 'FPS', 'Bitrate', 'Keyframes', 'Players', 'Uptime', ''].map((c) => h('th', {}, c)));
  const rows = streams.filter((s) => s.published).map((s) => h('tr', { data: { stream: streamKey(s) } },
    h('td', { class: 'name' }, h('a', { href: `#/stream/${encodeURIComponent(streamKey(s))}` }, s.name), recBadge(s.recording)),
    h('td', {}, `${s.app}/${s.instance}`),
    h('td', { class: 'publisher' }, s.publisher ? `#${s.publisher} ${s.publisherProtocol || ''}` : '–'),
    h('td', { class: 'codec' }, s.videoCodec || '–'),
    h('td', { class: 'acodec' }, s.audioCodec || '–'),
    h('td', { class: 'resolution' }, resolution(s)),
    h('td', { class: 'fps' }, s.frameRate ? s.frameRate.toFixed(1) : '–'),
    h('td', { class: 'bitrate', data: { bps: String(Math.round(s.bitrate)) } }, bits(s.bitrate)),
    h('td', {}, s.keyframeInterval ? `${s.keyframeInterval.toFixed(1)} s` : '–'),
    h('td', { class: 'subs', title: byProtocol(s.subscribersByProtocol) }, String(s.subscribers)),
    h('td', {}, since(s.since)),
    h('td', { class: 'actions' }, recordButton(s, 'small'), ' ', h('button', { class: 'danger small', onclick: () => stopStream(s) }, 'Stop')),
  ));
  table.replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
  if (!rows.length) table.append(h('tbody', {}, h('tr', {}, h('td', { colspan: '12', class: 'empty' }, 'No live streams'))));
}

function clientsTable() {
  const head = h('tr', {}, ...['ID', 'Protocol', 'Address', 'Agent', 'App', 'Connected', 'In', 'Out', 'RTT', ''].map((c) => h('th', {}, c)));
  const rows = state.clients.map((c) => h('tr', { data: { client: c.id } },
    h('td', {}, c.id), h('td', {}, c.protocol), h('td', {}, c.address), h('td', { class: 'agent' }, c.agent || '–'),
    h('td', {}, c.app), h('td', {}, since(c.since)), h('td', {}, bytes(c.bytesIn)), h('td', {}, bytes(c.bytesOut)),
    h('td', {}, c.rttMs ? `${c.rttMs.toFixed(0)} ms` : '–'),
    h('td', { class: 'actions' }, h('button', {
      class: 'danger small',
      onclick: () => { if (confirm(`Disconnect client ${c.id}?`)) act(`Disconnected ${c.id}`, 'DELETE', `/api/v1/clients/${encodeURIComponent(c.id)}`); },
    }, 'Disconnect')),
  ));
  $('clients').replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
  if (!rows.length) $('clients').append(h('tbody', {}, h('tr', {}, h('td', { colspan: '10', class: 'empty' }, 'No clients'))));
}

function appsTable() {
  const head = h('tr', {}, ...['Application', 'Instance', 'Loaded', 'Clients', 'Streams', ''].map((c) => h('th', {}, c)));
  const rows = [];
  for (const a of state.apps) {
    const insts = a.instances.length ? a.instances : [null];
    for (const i of insts) {
      const q = i ? `?instance=${encodeURIComponent(i.name)}` : '';
      const base = `/api/v1/apps/${encodeURIComponent(a.name)}`;
      rows.push(h('tr', {},
        h('td', {}, a.name), h('td', {}, i ? i.name : '(not loaded)'), h('td', {}, i ? since(i.since) : '–'),
        h('td', {}, i ? String(i.clients) : '0'), h('td', {}, i ? String(i.streams) : '0'),
        h('td', { class: 'actions' }, i ? [
          h('button', { class: 'small', onclick: () => { if (confirm(`Reload ${i.path}? Its clients are disconnected.`)) act(`Reloaded ${i.path}`, 'POST', `${base}/reload${q}`); } }, 'Reload'),
          ' ',
          h('button', { class: 'danger small', onclick: () => { if (confirm(`Unload ${i.path}? Its clients are disconnected.`)) act(`Unloaded ${i.path}`, 'POST', `${base}/unload${q}`); } }, 'Unload'),
        ] : []),
      ));
    }
  }
  $('apps').replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
}

function recordingsTable(list) {
  const head = h('tr', {}, ...['Recording', 'App', 'Size', 'Duration', 'Modified', ''].map((c) => h('th', {}, c)));
  const rows = list.map((r) => h('tr', { data: { recording: `${r.app}/${r.instance}/${r.name}` } },
    h('td', { class: 'name' }, r.name, recBadge(r.recording)),
    h('td', {}, `${r.app}/${r.instance}`),
    h('td', { class: 'size' }, bytes(r.size)),
    h('td', { class: 'duration' }, r.duration ? duration(r.duration) : '–'),
    h('td', {}, new Date(r.modified).toLocaleString()),
    h('td', { class: 'actions' }, h('a', { href: recordingPath(r), download: r.name.split('/').pop() }, 'Download')),
  ));
  if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: '6', class: 'empty' }, 'No recordings')));
  $('recordings').replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
}

function simpleTable(id, cols, items, cells, empty) {
  const rows = items.map((it) => h('tr', {}, ...cells(it).map((c) => h('td', {}, c))));
  if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: String(cols.length), class: 'empty' }, empty)));
  $(id).replaceChildren(h('thead', {}, h('tr', {}, ...cols.map((c) => h('th', {}, c)))), h('tbody', {}, ...rows));
}

function renderStreams() {
  streamsTable($('overview-streams'), state.streams);
  streamsTable($('streams'), state.streams);
  $('c-streams').textContent = String(state.streams.filter((s) => s.published).length);
  renderDetail();
}

// Playback of a stream: the preview (the playback listener's player page
// in a frame: that listener is another origin, which the page's WebRTC
// and HLS requests need), its players by protocol and its URLs to copy.

// listener is the server's listener of protocol p, from the latest stats.
const listener = (p) => ((state.server && state.server.listeners) || []).find((l) => l.protocol === p);

// hostPort is a listener's address as this browser reaches it: a listener
// on every address by the name the dashboard was reached by.
function hostPort(addr) {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i);
  return `${host === '0.0.0.0' || host === '[::]' ? location.hostname : host}:${addr.slice(i + 1)}`;
}

// playbackURLs lists [label, URL] of the ways to play s. The playback
// listener's paths cannot name a stream with '/' in it, and the player
// page none with a '.'.
function playbackURLs(s) {
  const path = [s.app, ...(s.instance === '_definst_' ? [] : [s.instance]), s.name].map(encodeURIComponent).join('/');
  const out = [];
  for (const [p, label] of [['rtmp', 'RTMP'], ['rtmps', 'RTMPS'], ['rtmfp', 'RTMFP']]) {
    const l = listener(p);
    if (l) out.push([label, `${p}://${hostPort(l.addr)}/${path}`]);
  }
  const play = listener('play');
  if (!play || s.name.includes('/')) return out;
  const host = hostPort(play.addr);
  const base = `${play.tls ? 'https' : 'http'}://${host}/${path}`;
  const serves = play.serves || [];
  if (!s.name.includes('.')) out.push(['Player page', base]);
  out.push(['HTTP-FLV', `${base}.flv`], ['WebSocket-FLV', `${play.tls ? 'wss' : 'ws'}://${host}/${path}.flv`]);
  if (serves.includes('hls')) out.push(['LL-HLS', `${base}/index.m3u8`], ['HLS (MPEG-TS)', `${base}/ts/index.m3u8`]);
  if (serves.includes('webrtc')) out.push(['WebRTC (WHEP)', `${base}/whep`]);
  return out;
}

// renderPreview shows the player page at src, or why there is none. The
// frame is made again only when src changes: every stats tick renders.
let previewShown = null;
function renderPreview(src, why) {
  if (previewShown === (src || why)) return;
  previewShown = src || why;
  $('sd-preview').replaceChildren(src
    ? h('iframe', { id: 'sd-player', src, title: 'Preview', allow: 'autoplay; fullscreen', allowfullscreen: '' })
    : h('p', {}, why));
}

const protocolGroups = [['RTMP', ['rtmp', 'rtmps', 'rtmpt', 'rtmpe', 'rtmpte']], ['RTMFP', ['rtmfp']], ['HTTP-FLV', ['http-flv']],
  ['WS-FLV', ['ws-flv']], ['HLS', ['hls']], ['WebRTC', ['webrtc']]];

function protocolsTable(s) {
  const by = s.subscribersByProtocol || {};
  const known = new Set(protocolGroups.flatMap(([, ps]) => ps));
  const rows = protocolGroups.map(([label, ps]) => [label, ps[0], ps.reduce((n, p) => n + (by[p] || 0), 0)]);
  const other = Object.entries(by).filter(([p]) => !known.has(p)).reduce((n, [, c]) => n + c, 0);
  if (other) rows.push(['Other', 'other', other]);
  $('sd-protocols').replaceChildren(
    h('thead', {}, h('tr', {}, h('th', {}, 'Players by protocol'), h('th', {}, String(s.subscribers)))),
    h('tbody', {}, ...rows.map(([label, key, n]) => h('tr', { data: { protocol: key } }, h('td', {}, label), h('td', { class: 'count' }, String(n))))));
}

// copyURL copies a URL field's value: through the clipboard API where the
// page may use it (a secure context), else as the selection.
async function copyURL(input, label) {
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    input.select();
    if (!document.execCommand('copy')) {
      toast(`Select the ${label} URL and copy it`, true);
      return;
    }
  }
  toast(`Copied the ${label} URL`);
}

// urlsTable lists the URLs with copy buttons, made again only when they
// change, so that a selection survives the stats ticks.
let urlsShown = '';
function urlsTable(urls) {
  const key = JSON.stringify(urls);
  if (key === urlsShown) return;
  urlsShown = key;
  const rows = urls.map(([label, url]) => {
    const input = h('input', { readonly: '', value: url, 'aria-label': `${label} URL` });
    return h('tr', { data: { kind: label } }, h('td', {}, label), h('td', { class: 'url' }, input),
      h('td', { class: 'actions' }, h('button', { class: 'small', onclick: () => copyURL(input, label) }, 'Copy')));
  });
  if (!rows.length) rows.push(h('tr', {}, h('td', { class: 'empty' }, 'Not live')));
  $('sd-urls').replaceChildren(h('tbody', {}, ...rows));
}

function renderDetail() {
  const key = state.detail;
  if (!key) return;
  const s = state.streams.find((x) => streamKey(x) === key);
  $('sd-title').textContent = s ? `${s.name} — ${s.app}/${s.instance}` : `${key} (not live)`;
  $('sd-stop').disabled = !s || !s.published;
  const rec = $('sd-record');
  rec.disabled = !s || !s.published;
  rec.textContent = s && s.recording ? 'Stop recording' : 'Record';
  rec.classList.toggle('recording', Boolean(s && s.recording));
  if (!s || !s.published) {
    $('sd-cards').replaceChildren();
    $('sd-protocols').replaceChildren();
    urlsTable([]);
    renderPreview(null, 'Not live');
    return;
  }
  const urls = playbackURLs(s);
  const page = urls.find(([label]) => label === 'Player page');
  renderPreview(page && page[1], listener('play')
    ? 'The player page takes no stream name with a dot or a slash: use the URLs below.'
    : 'No preview: the playback listener is off ([play] listen).');
  protocolsTable(s);
  urlsTable(urls);
  const card = (t, v, extra = '') => h('div', { class: 'card' }, h('h3', {}, t), h('p', {}, v), extra ? h('small', { class: 'muted' }, extra) : null);
  $('sd-cards').replaceChildren(
    card('Publisher', s.publisher ? `#${s.publisher}` : '–', `${s.publisherProtocol || ''} ${s.publisherAddress || ''}`),
    card('Video', s.videoCodec || '–', `${resolution(s)} · ${s.frameRate ? s.frameRate.toFixed(1) : '–'} fps`),
    card('Audio', s.audioCodec || '–', bits(s.audioBitrate)),
    card('Bitrate', bits(s.bitrate), `video ${bits(s.videoBitrate)}`),
    card('Keyframe interval', s.keyframeInterval ? `${s.keyframeInterval.toFixed(2)} s` : '–'),
    card('Players', String(s.subscribers), byProtocol(s.subscribersByProtocol) +
      (s.framesPerWrite > 1 ? ` · ${s.framesPerWrite} frames per write` : '')),
    card('Uptime', since(s.since), `${bytes(s.bytesIn)} in · ${s.framesIn} frames`),
  );
  streamChart.push(s.bitrate);
}

// loadHistory starts the overview charts from the server's last minutes,
// so that a page opened now does not start empty.
async function loadHistory() {
  const { samples } = await request('GET', '/api/v1/stats/history');
  bwChart.load([samples.map((s) => s.bandwidthIn), samples.map((s) => s.bandwidthOut)]);
  connChart.load([samples.map((s) => s.connections)]);
  if (samples.length) charted = Date.parse(samples[samples.length - 1].time);
}

function renderServer(st, time) {
  state.server = st;
  $('version').textContent = `v${st.version}`;
  $('c-uptime').textContent = duration(st.uptime);
  $('c-conns').textContent = String(st.totalConnections);
  $('c-conns-by').textContent = byProtocol(st.connections);
  $('c-bwin').textContent = bits(st.bandwidthIn);
  $('c-bwout').textContent = bits(st.bandwidthOut);
  $('c-cpu').textContent = `${st.cpuPercent.toFixed(1)} %`;
  $('c-mem').textContent = bytes(st.memoryBytes);
  $('c-heap').textContent = `heap ${bytes(st.heapBytes)}`;
  $('c-gor').textContent = String(st.goroutines);
  const t = Date.parse(time);
  if (t > charted) {
    charted = t;
    bwChart.push(st.bandwidthIn, st.bandwidthOut);
    connChart.push(st.totalConnections);
  }
}

function logEvent(ev) {
  state.events.unshift(ev);
  if (state.events.length > maxEvents) state.events.pop();
  const t = new Date(ev.time).toLocaleTimeString();
  const what = ev.client
    ? `client #${ev.client.id} (${ev.client.protocol} ${ev.client.address}${ev.client.agent ? `, ${ev.client.agent}` : ''})`
    : `stream ${ev.stream}`;
  const li = h('li', { class: `ev ${ev.type}` }, h('time', {}, t), h('span', { class: 'kind' }, ev.type), h('span', {}, `${what} on ${ev.app}`));
  const list = $('events');
  list.prepend(li);
  while (list.children.length > maxEvents) list.lastChild.remove();
}

let refreshing = null;
function refreshLists() {
  if (refreshing) return;
  refreshing = setTimeout(async () => {
    refreshing = null;
    try {
      const [clients, apps, sos, groups, recordings] = await Promise.all([
        request('GET', '/api/v1/clients'), request('GET', '/api/v1/apps'),
        request('GET', '/api/v1/sharedobjects'), request('GET', '/api/v1/netgroups'),
        request('GET', '/api/v1/recordings'),
      ]);
      recordingsTable(recordings);
      state.clients = clients;
      state.apps = apps;
      clientsTable();
      appsTable();
      simpleTable('sharedobjects', ['App', 'Name', 'Persistent', 'Version', 'Slots', 'Subscribers'], sos,
        (o) => [`${o.app}/${o.instance}`, o.name, o.persistent ? 'yes' : 'no', String(o.version), String(o.slots), String(o.subscribers)], 'No shared objects');
      simpleTable('netgroups', ['App', 'Group', 'Members'], groups, (g) => [`${g.app}/${g.instance}`, g.id, String(g.members)], 'No NetGroups');
    } catch (e) {
      toast(e.message, true);
    }
  }, 150);
}

function route() {
  const hash = location.hash || '#/';
  let view = hash.slice(2).split('/')[0] || 'overview';
  state.detail = null;
  renderPreview(null, ''); // a view left stops its player
  if (view === 'stream') {
    state.detail = decodeURIComponent(hash.slice('#/stream/'.length));
    streamChart.data = [[]];
    renderDetail();
  }
  if (!document.getElementById(`view-${view}`)) view = 'overview';
  for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== `view-${view}`;
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.dataset.view === view || (view === 'stream' && a.dataset.view === 'streams'));
  }
  if (view === 'clients' || view === 'apps' || view === 'streams') refreshLists();
}

$('sd-stop').addEventListener('click', () => {
  const s = state.streams.find((x) => streamKey(x) === state.detail);
  if (s) stopStream(s);
});
$('sd-record').addEventListener('click', () => {
  const s = state.streams.find((x) => streamKey(x) === state.detail);
  if (s) toggleRecording(s);
});

async function main() {
  window.addEventListener('hashchange', route);
  route();
  const s = await session();
  // An open server (no credentials) has no sign-in to leave.
  $('logout-form').hidden = s.open;
  refreshLists();
  try {
    await loadHistory();
  } catch (e) {
    toast(`Chart history: ${e.message}`, true);
  }
  let tick = 0;
  live((msg) => {
    if (msg.type === 'stats') {
      renderServer(msg.server, msg.time);
      state.streams = msg.streams || [];
      renderStreams();
      // Byte counters, "connected since" and the sizes of recordings
      // being written move every second too.
      if (++tick % 2 === 0 && (!$('view-clients').hidden || !$('view-streams').hidden)) refreshLists();
      return;
    }
    logEvent(msg);
    refreshLists();
  }, (up) => { $('live').className = up ? 'dot on' : 'dot off'; });
}

main().catch((e) => toast(e.message, true));

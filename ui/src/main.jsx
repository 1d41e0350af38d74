// floe's web UI (docs/ui.md): the view, the query and the selected entry live in the URL
// (?view=&q=&id=&range=), so a link shows someone else the same view.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Traffic } from './traffic.jsx';
import { ServiceMap } from './map.jsx';
import { Health } from './health.jsx';
import { onTokenNeeded, setToken } from './api.js';

function readURL() {
	const p = new URLSearchParams(location.search);
	return { view: p.get('view') || 'traffic', q: p.get('q') || '', id: p.get('id') || '', range: p.get('range') || '15m' };
}
function writeURL(s, push) {
	const p = new URLSearchParams();
	if (s.view !== 'traffic') p.set('view', s.view);
	if (s.q) p.set('q', s.q);
	if (s.id) p.set('id', s.id);
	if (s.range !== '15m') p.set('range', s.range);
	const url = `${location.pathname}${p.toString() ? '?' + p : ''}`;
	if (url !== location.pathname + location.search) history[push ? 'pushState' : 'replaceState'](null, '', url);
}

function setTheme(t) {
	if (t) document.documentElement.dataset.theme = t;
	else delete document.documentElement.dataset.theme;
	localStorage.setItem('floe.theme', t || '');
}

// The hub answered 401 (floe-hub --token): ask for the token; every waiting request retries
// with it (api.js). A wrong one is asked for again, with why.
function TokenPrompt() {
	const [ask, setAsk] = useState(null); // { resolve, again }
	useEffect(() => {
		let tries = 0;
		onTokenNeeded(() => new Promise((resolve) => setAsk({ resolve, again: tries++ > 0 })));
	}, []);
	if (!ask) return null;
	const submit = (ev) => {
		ev.preventDefault();
		const t = ev.target.elements.token.value.trim();
		if (!t) return;
		setToken(t);
		setAsk(null);
		ask.resolve(t);
	};
	return (
		<div class="modal" role="dialog" aria-modal="true" aria-labelledby="token-title">
			<form id="token-form" onSubmit={submit}>
				<h2 id="token-title">This hub needs a token</h2>
				<p class="muted">{ask.again ? 'The hub refused that token. ' : ''}floe-hub was started with --token. It is kept in this tab only (session storage).</p>
				<input id="token" name="token" type="password" autocomplete="off" autofocus aria-label="token" />
				<button type="submit">Use token</button>
			</form>
		</div>
	);
}

function App() {
	const [s, setS] = useState(readURL);
	const update = (patch, push = true) => setS((old) => {
		const n = { ...old, ...patch };
		writeURL(n, push);
		return n;
	});
	useEffect(() => {
		const pop = () => setS(readURL());
		addEventListener('popstate', pop);
		setTheme(localStorage.getItem('floe.theme') || '');
		const key = (ev) => {
			if (ev.target.matches('input, select, textarea') || ev.ctrlKey || ev.metaKey || ev.altKey) return;
			if (ev.key === '/') { ev.preventDefault(); document.getElementById('kfl')?.focus(); }
			else if (ev.key === 't') update({ view: 'traffic' });
			else if (ev.key === 'm') update({ view: 'map' });
			else if (ev.key === 'h') update({ view: 'health' });
			else if (ev.key === 'p') document.getElementById('pause')?.click();
			else if (ev.key === 'o') document.getElementById('order')?.click();
		};
		addEventListener('keydown', key);
		return () => { removeEventListener('popstate', pop); removeEventListener('keydown', key); };
	}, []);
	const dark = document.documentElement.dataset.theme === 'dark' ||
		(!document.documentElement.dataset.theme && matchMedia('(prefers-color-scheme: dark)').matches);
	const [, redraw] = useState(0);
	const tab = (v, label, k) => (
		<button role="tab" aria-selected={s.view === v} aria-pressed={s.view === v} id={`tab-${v}`} title={k} onClick={() => update({ view: v })}>{label}</button>
	);
	return (
		<div class="shell">
			<TokenPrompt />
			<header>
				<h1>floe</h1>
				<nav role="tablist">{tab('traffic', 'Traffic', 't')}{tab('map', 'Service map', 'm')}{tab('health', 'Health', 'h')}</nav>
				<span class="spacer" />
				<button id="theme" aria-label="toggle dark mode" onClick={() => { setTheme(dark ? 'light' : 'dark'); redraw((x) => x + 1); }}>
					{dark ? '☀ light' : '☾ dark'}
				</button>
			</header>
			<main>
				{s.view === 'traffic' && (
					<Traffic q={s.q} id={s.id} range={s.range}
						setQuery={(q) => update({ q, id: '' })} setId={(id) => update({ id }, false)} setRange={(range) => update({ range })} />
				)}
				{s.view === 'map' && (
					<ServiceMap q={s.q} setQuery={(q) => update({ q })}
						openEdge={(e) => update({ view: 'traffic', id: '', q: `src.name == "${e.srcName}" and dst.name == "${e.dstName}" and protocol == "${e.protocol}"` })} />
				)}
				{s.view === 'health' && <Health />}
			</main>
		</div>
	);
}

render(<App />, document.getElementById('app'));

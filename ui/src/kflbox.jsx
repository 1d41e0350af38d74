// The KFL box: validates as you type (the hub's /api/v1/validate, the error's column marked),
// completes field names from the hub's schema, keeps recent queries (localStorage).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { schema, validate } from './api.js';

const RECENT_KEY = 'floe.recentQueries';
export const recentQueries = () => {
	try {
		return JSON.parse(localStorage.getItem(RECENT_KEY)) || [];
	} catch {
		return [];
	}
};
function remember(q) {
	if (!q) return;
	const r = [q, ...recentQueries().filter((x) => x !== q)].slice(0, 10);
	localStorage.setItem(RECENT_KEY, JSON.stringify(r));
}

let schemaWords = null;
async function words() {
	if (!schemaWords) {
		const s = await schema();
		const set = new Set();
		for (const f of s.common) set.add(f.path);
		for (const p of s.protocols) {
			for (const w of p.words) set.add(w.word);
			for (const f of p.fields) set.add(f.path);
		}
		schemaWords = [...set].sort();
	}
	return schemaWords;
}

// The identifier being typed just before the caret.
function tokenAt(text, caret) {
	const m = /[A-Za-z_][A-Za-z0-9_.]*$/.exec(text.slice(0, caret));
	return m ? { start: m.index, word: m[0] } : null;
}

export function KflBox({ value, onApply }) {
	const [text, setText] = useState(value);
	const [check, setCheck] = useState({ ok: true });
	const [sugg, setSugg] = useState([]);
	const [sel, setSel] = useState(0);
	const [showRecent, setShowRecent] = useState(false);
	const input = useRef();
	const seq = useRef(0);
	const completeSeq = useRef(0);

	useEffect(() => setText(value), [value]);
	// Validate as you type (debounced; the last answer wins).
	useEffect(() => {
		const n = ++seq.current;
		const t = setTimeout(async () => {
			try {
				const r = await validate(text);
				if (n === seq.current) setCheck({ ...r, q: text });
			} catch (e) {
				if (n === seq.current) setCheck({ ok: false, error: String(e.message), q: text });
			}
		}, 120);
		return () => clearTimeout(t);
	}, [text]);

	async function complete(t, caret) {
		// One call per keystroke, each awaiting the schema: only the last keystroke's answer
		// may show (an earlier one resolving later would list the completions of "request.").
		const n = ++completeSeq.current;
		const tok = tokenAt(t, caret);
		if (!tok || tok.word.length < 1) return setSugg([]);
		const all = await words().catch(() => []);
		if (n !== completeSeq.current) return;
		const s = all.filter((w) => w.startsWith(tok.word) && w !== tok.word).slice(0, 30);
		setSugg(s);
		setSel(0);
	}
	function accept(w) {
		const el = input.current;
		const caret = el.selectionStart;
		const tok = tokenAt(text, caret);
		if (!tok) return;
		const t = text.slice(0, tok.start) + w + text.slice(caret);
		// The value and the caret are set here, before the next keystroke can arrive: set
		// later (a frame on), a fast typist's next characters land before the caret moves
		// back and come out in the wrong place. The render that follows finds the same value.
		el.value = t;
		el.setSelectionRange(tok.start + w.length, tok.start + w.length);
		setText(t);
		setSugg([]);
	}
	function apply(q) {
		if (!check.ok && q === text) return;
		remember(q);
		setSugg([]);
		setShowRecent(false);
		onApply(q);
	}
	function onKey(ev) {
		if (sugg.length) {
			if (ev.key === 'ArrowDown') return ev.preventDefault(), setSel((sel + 1) % sugg.length);
			if (ev.key === 'ArrowUp') return ev.preventDefault(), setSel((sel + sugg.length - 1) % sugg.length);
			if (ev.key === 'Tab' || ev.key === 'Enter') return ev.preventDefault(), accept(sugg[sel]);
			if (ev.key === 'Escape') return setSugg([]);
		}
		if (ev.key === 'Enter') apply(text);
		if (ev.key === 'Escape') input.current.blur();
	}
	const col = check.column || 0;
	const recent = useMemo(() => (showRecent ? recentQueries() : []), [showRecent]);
	return (
		<div class="kfl">
			<input
				ref={input}
				id="kfl"
				aria-label="KFL query"
				aria-invalid={!check.ok}
				class={check.ok ? '' : 'bad'}
				placeholder='KFL query, e.g. http and response.status >= 500   (/ to focus, Enter to apply)'
				value={text}
				spellcheck={false}
				autocomplete="off"
				onInput={(e) => {
					setText(e.target.value);
					complete(e.target.value, e.target.selectionStart);
				}}
				onKeyDown={onKey}
				onFocus={() => setShowRecent(true)}
				onBlur={() => setTimeout(() => { setSugg([]); setShowRecent(false); }, 150)}
			/>
			{!check.ok && (
				<div class="msg err" id="kfl-error" data-column={col}>
					{/* the text this answer is about: typing on may have changed the box since */}
					{col ? `${check.q}\n${' '.repeat(col - 1)}^ ` : ''}
					{check.error}
				</div>
			)}
			{sugg.length > 0 && (
				<ul class="complete" role="listbox" id="kfl-complete">
					{sugg.map((w, i) => (
						<li role="option" aria-selected={i === sel} onMouseDown={(e) => (e.preventDefault(), accept(w))}>
							{w}
						</li>
					))}
				</ul>
			)}
			{!sugg.length && recent.length > 0 && (
				<ul class="complete" role="listbox" id="kfl-recent">
					{recent.map((q) => (
						<li role="option" onMouseDown={(e) => (e.preventDefault(), setText(q), apply(q))}>{q}</li>
					))}
				</ul>
			)}
		</div>
	);
}

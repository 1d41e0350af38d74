// An HTTP/2 client that goes through an h2c proxy's CONNECT tunnels, for
// selftests/integration/test_entries_h2tunnel.sh (Node's built-in modules only).
//   node h2connect.js PROXY_URL BACKEND H1_PORT H2C_PORT TLS_PORT CLOSED_PORT
// On one HTTP/2 connection to the proxy, one after the other:
//   - CONNECT BACKEND:H1_PORT: two HTTP/1.1 requests (keep-alive) inside
//   - CONNECT BACKEND:H2C_PORT: two HTTP/2 requests (prior knowledge) inside
//   - CONNECT BACKEND:TLS_PORT: a TLS handshake and an HTTP/1.0 GET inside
//   - CONNECT BACKEND:CLOSED_PORT: refused by the proxy
//   - extended CONNECT (:protocol websocket): a masked WebSocket text frame, echoed
// Its own view on stdout, one JSON line each: {"kind": "connect", "authority", "status",
// "stream_id"}, {"kind": "inner", "authority", "method", "path", "status"},
// {"kind": "extended", "status", "stream_id", "echoed"}; "done" at the end.
'use strict';
const http2 = require('http2');
const tls = require('tls');

const [proxyUrl, backend, h1, h2c, tlsPort, closed] = process.argv.slice(2);
const log = (o) => process.stdout.write(JSON.stringify(o) + '\n');

function connect(session, authority) {
	return new Promise((resolve, reject) => {
		const st = session.request({ ':method': 'CONNECT', ':authority': authority },
			{ endStream: false });
		st.on('error', reject);
		st.on('response', (h) => {
			log({ kind: 'connect', authority, status: h[':status'], stream_id: st.id });
			resolve([st, h[':status']]);
		});
	});
}

// HTTP/1.1 by hand over the tunnel (Node's http client expects a socket): one request, its
// response read to its Content-Length (httpd1.py sends one), the tunnel kept for the next.
function h1Get(tunnel, authority, path) {
	return new Promise((resolve, reject) => {
		let buf = Buffer.alloc(0);
		const onData = (d) => {
			buf = Buffer.concat([buf, d]);
			const end = buf.indexOf('\r\n\r\n');
			if (end < 0)
				return;
			const head = buf.slice(0, end).toString('latin1');
			const m = /\r\ncontent-length: *(\d+)/i.exec(head);
			if (!m)
				return reject(new Error('no Content-Length: ' + head));
			if (buf.length < end + 4 + Number(m[1]))
				return;
			tunnel.removeListener('data', onData);
			log({ kind: 'inner', authority, method: 'GET', path,
				status: Number(head.split(' ')[1]) });
			resolve();
		};
		tunnel.on('data', onData);
		tunnel.write(`GET ${path} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
	});
}

async function viaH1(session) {
	const authority = `${backend}:${h1}`;
	const [st] = await connect(session, authority);
	await h1Get(st, authority, '/text?n=100&t=1');
	await h1Get(st, authority, '/text?n=2000&t=2');
	st.end();
	st.resume();
	await new Promise((r) => st.on('close', r));
}

async function viaH2c(session) {
	const authority = `${backend}:${h2c}`;
	const [st] = await connect(session, authority);
	const inner = http2.connect(`http://${authority}`, { createConnection: () => st });
	for (const path of ['/h2.txt', '/missing.txt']) {
		await new Promise((resolve, reject) => {
			const r = inner.request({ ':path': path });
			r.on('error', reject);
			r.on('response', (h) => {
				r.resume();
				r.on('end', () => {
					log({ kind: 'inner', authority, method: 'GET', path,
						status: h[':status'] });
					resolve();
				});
			});
			r.end();
		});
	}
	inner.close();
	await new Promise((r) => st.on('close', r));
}

async function viaTls(session) {
	const authority = `${backend}:${tlsPort}`;
	const [st] = await connect(session, authority);
	await new Promise((resolve, reject) => {
		const t = tls.connect({ socket: st, rejectUnauthorized: false, servername: 'backend' });
		let got = '';
		t.on('secureConnect', () => t.write('GET / HTTP/1.0\r\n\r\n'));
		t.on('data', (d) => { got += d; });
		t.on('error', reject);
		t.on('end', () => {
			log({ kind: 'tls', authority, status: Number(got.split(' ')[1]) });
			t.end();
			resolve();
		});
	});
	await new Promise((r) => st.on('close', r));
}

async function refused(session) {
	const [st] = await connect(session, `${backend}:${closed}`);
	st.resume();
	await new Promise((r) => st.on('close', r));
}

async function extended(session) {
	await new Promise((r) => (session.remoteSettings.enableConnectProtocol ? r() :
		session.once('remoteSettings', r)));
	const st = session.request({ ':method': 'CONNECT', ':protocol': 'websocket',
		':scheme': 'http', ':path': '/chat', ':authority': new URL(proxyUrl).host,
		'sec-websocket-version': '13' }, { endStream: false });
	const mask = [1, 2, 3, 4];
	const frame = Buffer.from([0x81, 0x85, ...mask,
		...Buffer.from('hello').map((b, i) => b ^ mask[i % 4])]);
	await new Promise((resolve, reject) => {
		let got = Buffer.alloc(0);
		st.on('error', reject);
		st.on('response', (h) => {
			st.write(frame);
			st.on('data', (d) => {
				got = Buffer.concat([got, d]);
				if (got.length >= frame.length) {
					log({ kind: 'extended', status: h[':status'], stream_id: st.id,
						echoed: got.equals(frame) });
					st.end();
				}
			});
		});
		st.on('close', resolve);
	});
}

(async () => {
	const session = http2.connect(proxyUrl);
	session.on('error', (e) => { console.error(e); process.exit(1); });
	await viaH1(session);
	await viaH2c(session);
	await viaTls(session);
	await refused(session);
	await extended(session);
	session.close();
	await new Promise((r) => session.on('close', r));
	log({ kind: 'done' });
})().catch((e) => { console.error(e); process.exit(1); });

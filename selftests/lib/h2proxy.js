// An HTTP/2 (h2c, prior knowledge) forward proxy for selftests/integration/
// test_entries_h2tunnel.sh, with Node's built-in http2 module only.
//   node h2proxy.js HOST PORT ALLOWED_PORTS   (ALLOWED_PORTS: comma-separated)
// CONNECT (RFC 9113 8.5) to a host:port whose port is allowed: a TCP connection to it, 200,
// then bytes both ways until either side ends; other ports: 403. Extended CONNECT (RFC 8441,
// :protocol websocket; SETTINGS_ENABLE_CONNECT_PROTOCOL is announced): the proxy is the
// endpoint, 200, and echoes what it receives. One JSON line per CONNECT on stdout:
// {"authority", "protocol", "status"}. "listening" on stdout when ready.
'use strict';
const http2 = require('http2');
const net = require('net');

const [host, port, allowed] = process.argv.slice(2);
const ports = new Set(allowed.split(',').map(Number));
const log = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const server = http2.createServer({ settings: { enableConnectProtocol: true } });
server.on('stream', (stream, headers) => {
	const authority = headers[':authority'];
	const protocol = headers[':protocol'];
	stream.on('error', () => {});
	if (headers[':method'] !== 'CONNECT') {
		stream.respond({ ':status': 405 }, { endStream: true });
		log({ authority, method: headers[':method'], status: 405 });
		return;
	}
	if (protocol) {
		stream.respond({ ':status': 200 });
		log({ authority, protocol, status: 200 });
		stream.on('data', (d) => stream.write(d));
		stream.on('end', () => stream.end());
		return;
	}
	const i = authority.lastIndexOf(':');
	const target = { host: authority.slice(0, i), port: Number(authority.slice(i + 1)) };
	if (!ports.has(target.port)) {
		stream.respond({ ':status': 403 }, { endStream: true });
		log({ authority, status: 403 });
		return;
	}
	const sock = net.connect(target, () => {
		stream.respond({ ':status': 200 });
		log({ authority, status: 200 });
		sock.pipe(stream);
		stream.pipe(sock);
	});
	sock.on('error', () => {
		if (!stream.headersSent) {
			stream.respond({ ':status': 502 }, { endStream: true });
			log({ authority, status: 502 });
		} else {
			stream.close(http2.constants.NGHTTP2_CONNECT_ERROR);
		}
	});
	stream.on('close', () => sock.destroy());
});
server.listen(Number(port), host, () => log({ listening: true }));

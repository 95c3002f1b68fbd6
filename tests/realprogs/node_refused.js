// A Node.js connect to a loopback port nobody listens on: libuv's
// non-blocking connect learns the refusal from epoll and SO_ERROR.
// Usage: node node_refused.js PORT
'use strict';
const net = require('net');

const c = net.connect(Number(process.argv[2]), '127.0.0.1', () => console.log('connected (unexpected)'));
c.on('error', (e) => console.log(`error: ${e.code} (${e.syscall})`));

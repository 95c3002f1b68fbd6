// Node.js on both ends, in one event loop (libuv: epoll, non-blocking
// sockets and connects): a net echo server with CLIENTS concurrent
// clients, then an http server with a keep-alive client making REQUESTS
// requests. Prints what came back.
'use strict';
const net = require('net');
const http = require('http');
const crypto = require('crypto');

const CLIENTS = 8, CHUNK = 64 * 1024, REQUESTS = 20;

function netEcho() {
  return new Promise((resolve) => {
    const server = net.createServer((s) => s.pipe(s));
    server.listen(0, '127.0.0.1', () => {
      const port = server.address().port;
      let done = 0, intact = 0;
      for (let i = 0; i < CLIENTS; i++) {
        const sent = crypto.createHash('sha256').update(String(i)).digest().toString('hex').repeat(CHUNK / 64);
        const c = net.connect(port, '127.0.0.1', () => c.end(sent));
        let got = '';
        c.setEncoding('latin1');
        c.on('data', (d) => { got += d; });
        c.on('close', () => {
          intact += got === sent;
          if (++done === CLIENTS) server.close(() => resolve(`net: ${intact} of ${CLIENTS} echoes intact`));
        });
      }
    });
  });
}

function httpKeepAlive() {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => res.end(`you asked for ${req.url}`));
    server.listen(0, '127.0.0.1', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const port = server.address().port;
      let right = 0;
      const sockets = new Set();
      for (let i = 0; i < REQUESTS; i++) {
        const body = await new Promise((ok, fail) => {
          http.get({ host: '127.0.0.1', port, path: `/r${i}`, agent }, (res) => {
            sockets.add(res.socket);
            let b = '';
            res.on('data', (d) => { b += d; });
            res.on('end', () => ok(b));
          }).on('error', fail);
        });
        right += body === `you asked for /r${i}`;
      }
      agent.destroy();
      server.close(() => resolve(`http: ${right} of ${REQUESTS} answers right over ${sockets.size} connection(s)`));
    });
  });
}

(async () => {
  console.log(await netEcho());
  console.log(await httpKeepAlive());
})();

// Raw Node `ws` peer: POST -> Redis PUBLISH; a Redis subscriber broadcasts
// each message to every connected client with client.send(). The upper
// reference for a Node server that frames and writes each delivery itself.
'use strict';

const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');
const { createClient } = require('redis');
const { makeEvent, httpHandler, options } = require('./common');

async function main() {
  const opt = options();
  const pub = createClient({ url: opt.redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);

  const server = http.createServer(
    httpHandler(async (feed, body) => {
      const event = makeEvent(feed, body);
      await pub.publish(`bench:${feed}`, JSON.stringify(event));
      return event;
    }),
  );
  const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: opt.deflate });

  await sub.subscribe('bench:en', (message) => {
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(message);
    }
  });

  server.listen(opt.port, opt.host, 2048, () => {
    console.log(`ws peer listening on ${opt.host}:${opt.port}`);
  });
  const stop = () => {
    for (const client of wss.clients) client.terminate();
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

// Socket.IO 4 peer with @socket.io/redis-adapter: POST -> io.emit("item", ...)
// through the adapter, which publishes to Redis for every other node and fans
// out to this node's sockets. What many newsrooms would pick.
'use strict';

const http = require('http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');
const { makeEvent, httpHandler, options } = require('./common');

async function main() {
  const opt = options();
  const pub = createClient({ url: opt.redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);

  let io = null;
  const server = http.createServer(
    httpHandler(async (feed, body) => {
      const event = makeEvent(feed, body);
      io.emit('item', event);
      return event;
    }),
  );
  io = new Server(server, {
    transports: ['websocket'],
    perMessageDeflate: opt.deflate,
    serveClient: false,
    cors: { origin: '*' },
  });
  io.adapter(createAdapter(pub, sub));

  server.listen(opt.port, opt.host, 2048, () => {
    console.log(`socket.io peer listening on ${opt.host}:${opt.port}`);
  });
  const stop = () => {
    io.disconnectSockets(true);
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

// Shared helpers for the Node peer servers: the publish endpoint's body
// parsing and an item shaped like ticker's (same fields, similar size), so
// every server sends frames of comparable length.
'use strict';

const PUBLISH_RE = /^\/api\/v1\/feeds\/([a-z0-9-]{1,32})\/items$/;

let counter = 0;
const epoch = Date.now().toString(36);

function makeEvent(feed, body) {
  counter += 1;
  const now = new Date().toISOString();
  const id = `${epoch}-${counter.toString().padStart(10, '0')}`;
  const item = {
    id,
    feed,
    text: String(body.text),
    urgency: body.urgency ?? 4,
    regions: body.regions ?? [],
    lang: 'en',
    author: 'bench',
    published_at: now,
    updated_at: now,
    version: 1,
    status: 'usable',
  };
  return { type: 'item', cursor: `${epoch}:${counter}`, item };
}

// Calls onPublish(feed, body) -> event for POST /api/v1/feeds/{feed}/items;
// answers GET /healthz; 404 otherwise.
function httpHandler(onPublish) {
  return (req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 15 });
      res.end('{"status":"ok"}');
      return;
    }
    const m = req.method === 'POST' ? PUBLISH_RE.exec(req.url) : null;
    if (!m) {
      if (req.url.startsWith('/socket.io/')) return; // handled by engine.io
      res.writeHead(404);
      res.end();
      return;
    }
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= 16384) chunks.push(c);
    });
    req.on('end', async () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        res.writeHead(400);
        res.end();
        return;
      }
      if (typeof body.text !== 'string' || body.text.length === 0) {
        res.writeHead(422);
        res.end();
        return;
      }
      try {
        const event = await onPublish(m[1], body);
        const out = Buffer.from(JSON.stringify(event.item));
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': out.length });
        res.end(out);
      } catch (err) {
        res.writeHead(503);
        res.end(String(err));
      }
    });
  };
}

function options() {
  const args = process.argv.slice(2);
  const get = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
  };
  return {
    host: get('--host', '127.0.0.1'),
    port: Number(get('--port', '8000')),
    redisUrl: get('--redis', process.env.REDIS_URL || 'redis://127.0.0.1:6379/0'),
    deflate: args.includes('--deflate'),
  };
}

module.exports = { makeEvent, httpHandler, options };

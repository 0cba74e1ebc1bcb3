// A demo application that emits one event per interval to the sink and, while the sink does not
// take it, writes it to a backlog spool instead; mend's backlog replay delivers those later.
//   SINK_URL     base URL of the sink (events are POSTed to <SINK_URL>/items)
//   SPOOL_DIR    the spool folder (items go to <SPOOL_DIR>/pending/)
//   INTERVAL_MS  milliseconds between events (default 1000)
// Spool items use mend's format: pending/<createdAt ms, 15 digits>-<id>.json holding
// {id, createdAt, payload}, written to a dot-named temp file, fsynced, then renamed into place.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const sinkUrl = (process.env.SINK_URL || 'http://127.0.0.1:4104').replace(/\/+$/, '');
const pendingDir = path.join(process.env.SPOOL_DIR || '.mend/spool/events', 'pending');
const intervalMs = Math.max(50, Number(process.env.INTERVAL_MS || 1000));
let sent = 0;
let spooled = 0;
let seq = 0;

function log(message) {
  process.stdout.write(`${new Date().toISOString()} producer[${process.pid}] ${message}\n`);
}

function spool(item) {
  fs.mkdirSync(pendingDir, { recursive: true });
  const name = `${String(Date.parse(item.createdAt)).padStart(15, '0')}-${item.id}.json`;
  const tmp = path.join(pendingDir, `.${name}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, JSON.stringify(item));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path.join(pendingDir, name));
}

async function emit() {
  seq++;
  const item = { id: crypto.randomUUID(), createdAt: new Date().toISOString(), payload: { event: 'tick', seq } };
  try {
    const res = await fetch(`${sinkUrl}/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': item.id },
      body: JSON.stringify(item),
      signal: AbortSignal.timeout(2000),
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`sink answered ${res.status}`);
    sent++;
  } catch (err) {
    spool(item);
    spooled++;
    if (spooled === 1 || spooled % 10 === 0) log(`sink unavailable (${err.cause?.code || err.message}): ${spooled} events spooled so far`);
  }
}

const timer = setInterval(() => void emit().catch((err) => log(`could not spool: ${err.message}`)), intervalMs);
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    clearInterval(timer);
    log(`${signal}: stopping (${sent} sent, ${spooled} spooled)`);
    process.exit(0);
  });
}
log(`emitting every ${intervalMs}ms to ${sinkUrl}, spooling to ${pendingDir} while it is down`);

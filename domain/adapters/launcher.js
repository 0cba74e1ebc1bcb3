'use strict';
// mend's process launcher: a small child of the worker (or agent) that starts the processes of
// `process` components on its behalf. Forking the worker itself copies the page tables of a process
// of some 400 MB: measured in a mass outage, 71 ms of the worker's one JavaScript thread per spawn,
// so 50 restarts at once queued 3.5 s on it. This process is small, so its forks are cheap, and the
// worker's thread is free meanwhile. Plain JavaScript, started with plain node: no TypeScript hook.
//
// Its parent talks to it over the IPC channel (domain/adapters/launcher-client.ts):
//   in:  { id, file, args, cwd, env, logFile }   start this, detached, output appended to logFile
//   out: { ready: true }                          once, at start
//        { id, pid } | { id, error: { code, message } }   the start's outcome
//        { exit: pid, code, signal }              a process it started ended (only a parent learns how)
// It lives as long as its parent: it ignores the signals a terminal sends to the whole process group
// (its parent decides when to stop), and exits when the channel closes. What it started is detached
// and outlives it, as it outlived the worker before.
const { spawn } = require('node:child_process');
const { openSync, closeSync } = require('node:fs');

if (!process.send) {
  console.error('mend launcher: started by mend only (it needs an IPC channel to its parent)');
  process.exit(2);
}

const ignore = () => undefined;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, ignore);
process.on('disconnect', () => process.exit(0));

function reply(message) {
  if (process.connected) process.send(message, ignore);
}

process.on('message', (req) => {
  let fd;
  try {
    fd = openSync(req.logFile, 'a');
    const child = spawn(req.file, req.args, { cwd: req.cwd, env: req.env, detached: true, stdio: ['ignore', fd, fd] });
    child.once('spawn', () => {
      reply({ id: req.id, pid: child.pid });
      // Listened for only once it runs: a start that failed has no exit to tell.
      child.once('exit', (code, signal) => reply({ exit: child.pid, code, signal }));
    });
    child.once('error', (err) => reply({ id: req.id, error: { code: err.code, message: err.message } }));
  } catch (err) {
    reply({ id: req.id, error: { code: err.code, message: err.message } });
  } finally {
    // The child has its own copy since spawn() returned.
    if (fd !== undefined) closeSync(fd);
  }
});

reply({ ready: true });

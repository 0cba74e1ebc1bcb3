/**
 * State activities (checkpoint, select, restore, move aside, clean) as the worker registers them:
 * heartbeating while they copy or hash, with typed failures. Each delegates to an idempotent
 * function in domain/state; the comment on each says why running it twice is safe.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Component } from '../../core/schemas';
import { CheckpointError, createCheckpoint, pruneCheckpoints, restoreCheckpoint, selectCheckpoint } from '../../domain/state/checkpoint';
import { whileBeating } from '../heartbeat';
import { cleanState, moveStateAside } from '../../domain/state/aside';

interface StateRef {
  component: Component;
}

/** Heartbeats at most every 500 ms while bytes flow, so a 100 MB copy shows progress and honours cancellation. */
function progressHeartbeat(): (bytes: number) => void {
  const ctx = Context.current();
  let last = 0;
  let total = 0;
  return (bytes) => {
    total += bytes;
    const now = Date.now();
    if (now - last >= 500) {
      last = now;
      ctx.heartbeat({ bytes: total });
    }
  };
}

async function typed<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CheckpointError) {
      throw ApplicationFailure.create({ message: err.message, type: err.failureClass, nonRetryable: err.failureClass === 'data' });
    }
    throw err;
  }
}

export function createStateActivities() {
  return {
    /** Idempotent: a checkpoint id that already exists with a valid manifest is returned as it is. */
    async createCheckpoint({ component, id, label }: StateRef & { id?: string; label?: string }) {
      return typed(() => createCheckpoint(component, { id, label, onProgress: progressHeartbeat() }));
    },

    /** Read-only: lists and re-hashes checkpoints to choose one; changes nothing. */
    async selectCheckpoint({ component, id, before }: StateRef & { id?: string; before?: string }) {
      return typed(() => selectCheckpoint(component, { id, before }, progressHeartbeat()));
    },

    /** Idempotent: restoring the same verified checkpoint again writes the same bytes (temp file + rename). */
    async restoreCheckpoint({ component, id }: StateRef & { id: string }) {
      return typed(() => restoreCheckpoint(component, id, progressHeartbeat()));
    },

    /** Idempotent: paths already moved aside under this run's key are skipped. */
    async moveStateAside({ component, runKey }: StateRef & { runKey: string }) {
      return typed(() => whileBeating(() => moveStateAside(component, runKey)));
    },

    /** Idempotent: a second pass finds nothing left to move. */
    async cleanState({ component, runKey }: StateRef & { runKey: string }) {
      return typed(() => whileBeating(() => cleanState(component, runKey)));
    },

    /** Idempotent: pruning an already-pruned folder removes nothing more. */
    async pruneCheckpoints({ component }: StateRef) {
      return typed(() => pruneCheckpoints(component));
    },
  };
}

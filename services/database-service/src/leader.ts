import { coerceError, DeadlineError, type Logger, withDeadline } from '@chunk-archiver/common';
import type postgres from 'postgres';

/** One key for every retention manager of a database: whoever holds it acts, the rest stand by. */
export const LEADER_LOCK_KEY = 7_243_110_000;

/**
 * Leadership of one database through a session-level advisory lock, held on a connection of its
 * own. If that connection dies the server releases the lock; ensure() notices, throws the
 * connection away whole and tries again on a new one. (A reserved pool connection was used before:
 * once its server process was terminated, the pool handed the broken connection back again and
 * again, and the manager never led again.)
 */
export function createLeaderLock(
  connect: () => postgres.Sql,
  logger: Logger,
  options: { timeoutMs?: number } = {},
) {
  const timeoutMs = options.timeoutMs ?? 5_000;
  let client: postgres.Sql | undefined;
  let leader = false;

  async function release(): Promise<void> {
    const held = client;
    client = undefined;
    leader = false;
    if (!held) return;
    try {
      await withDeadline(
        held`select pg_advisory_unlock(${LEADER_LOCK_KEY})`.execute(),
        2_000,
        'leader unlock',
      );
    } catch {
      // the connection is gone, and with it the lock
    }
    await withDeadline(held.end({ timeout: 1 }), 2_000, 'leader connection end').catch(() => undefined);
  }

  async function attempt(): Promise<boolean> {
    try {
      if (client && leader) {
        await client`select 1`;
        return true;
      }
      client ??= connect();
      const [row] = await client<{ ok: boolean }[]>`select pg_try_advisory_lock(${LEADER_LOCK_KEY}) as ok`;
      const was = leader;
      leader = row!.ok;
      if (leader && !was) logger.info('became leader for this database');
      if (!leader) await release();
      return leader;
    } catch (error) {
      if (leader) logger.warn({ err: coerceError(error) }, 'lost the leader connection; standing by');
      await release();
      throw error;
    }
  }

  // One attempt at a time: concurrent callers (the scanner and several confirmation handlers)
  // racing here took the lock on two connections, or released a connection another was using.
  let inflight: Promise<boolean> | undefined;

  return {
    isLeader: () => leader,
    /**
     * Becomes or stays leader if possible; returns whether this process leads now. Throws when the
     * database cannot be reached: an outage must not pass for "another manager leads".
     */
    ensure(): Promise<boolean> {
      // A server that hangs mid-handshake or mid-query must not hang leadership: past the
      // deadline the connection is thrown away and the attempt fails.
      inflight ??= withDeadline(attempt(), timeoutMs, 'leader election')
        .catch(async (error: unknown) => {
          if (error instanceof DeadlineError) await release();
          throw error;
        })
        .finally(() => {
          inflight = undefined;
        });
      return inflight;
    },
    release,
  };
}

export type LeaderLock = ReturnType<typeof createLeaderLock>;

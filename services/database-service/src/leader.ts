import { coerceError, type Logger } from '@chunk-archiver/common';
import type postgres from 'postgres';

/** One key for every retention manager of a database: whoever holds it acts, the rest stand by. */
export const LEADER_LOCK_KEY = 7_243_110_000;

/**
 * Leadership of one database through a session-level advisory lock held on a reserved connection.
 * If that connection dies the server releases the lock, and ensure() notices and tries again.
 */
export function createLeaderLock(sql: postgres.Sql, logger: Logger) {
  let reserved: postgres.ReservedSql | undefined;
  let leader = false;

  async function release(): Promise<void> {
    const held = reserved;
    reserved = undefined;
    leader = false;
    if (!held) return;
    try {
      await held`select pg_advisory_unlock(${LEADER_LOCK_KEY})`;
    } catch {
      // the connection is gone, and with it the lock
    }
    held.release();
  }

  async function attempt(): Promise<boolean> {
    try {
      if (reserved && leader) {
        await reserved`select 1`;
        return true;
      }
      reserved ??= await sql.reserve();
      const [row] = await reserved<{ ok: boolean }[]>`select pg_try_advisory_lock(${LEADER_LOCK_KEY}) as ok`;
      const was = leader;
      leader = row!.ok;
      if (leader && !was) logger.info('became leader for this database');
      if (!leader) {
        reserved.release();
        reserved = undefined;
      }
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
      inflight ??= attempt().finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
    release,
  };
}

export type LeaderLock = ReturnType<typeof createLeaderLock>;

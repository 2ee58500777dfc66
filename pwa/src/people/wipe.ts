/**
 * Device wipe (an administrator's order, e.g. for a lost phone). Every API answer to a device that
 * must wipe carries `Fengqiao-Wipe: requested`. The phone then:
 *   1. sends what is still in its outbox (the sync engine, forced past any backoff);
 *   2. if anything of this user's is still waiting (no signal, server busy), stops and tries again
 *      at the next contact: unsent records are never deleted;
 *   3. deletes everything local (every Dexie table: cases, photos, outbox, drafts, session, ...),
 *   4. tells the server (POST /api/me/wiped: marks the device wiped and signs it out),
 *   5. shows the sign-in screen with WIPE_NOTICE.
 *
 * Items the server has already refused (failed / attention) do not hold the wipe up: the server has
 * answered about them and no resend can change that, while a lost phone must not keep its data.
 */
import { ref } from 'vue'
import type { Dexie } from 'dexie'
import type { ApiClient } from '../core/api'

export const WIPE_HEADER = 'Fengqiao-Wipe'
export const WIPE_NOTICE = '管理员已清除此设备上的数据（已发送的记录都在服务器上）'
/** Shown on the sign-in screen after a wipe (it outranks "device revoked", which follows from it). */
export const wipeNotice = ref('')
/** Shown while a wipe waits for unsent records to go (e.g. on the outbox or home screen). */
export const wipePending = ref(false)

/** Attempts closer together than this are skipped: every answer carries the header. */
export const WIPE_RETRY_MS = 30_000

export interface WipeDeps {
  api: Pick<ApiClient, 'observe' | 'post'>
  db: Pick<Dexie, 'tables' | 'transaction'>
  /** Sends the outbox now (forced); resolves when the run ends, whatever its outcome. */
  pushOutbox: () => Promise<void>
  /** This user's records not yet accepted by the server that a resend could still deliver. */
  unsentCount: () => Promise<number>
  /** Forget the session on this phone and go to the sign-in screen. */
  endSession: () => Promise<void>
  /** Local keys other than IndexedDB to forget (e.g. the last username). */
  clearStorage?: () => void
  now?: () => number
}

export type WipeOutcome = 'wiped' | 'waiting' | 'skipped'

export class DeviceWipe {
  private running: Promise<WipeOutcome> | null = null
  private lastAttempt = -Infinity
  private readonly now: () => number

  constructor(private readonly deps: WipeDeps) {
    this.now = deps.now ?? Date.now
  }

  /** Watches the API's answers for the header; returns the unsubscribe. */
  install(): () => void {
    return this.deps.api.observe((res) => {
      if (res.headers.get(WIPE_HEADER)?.toLowerCase() === 'requested') {
        // Not inside the request that brought the header: let it finish first.
        setTimeout(() => void this.run(), 0)
      }
    })
  }

  /** One attempt (single-flight, at most one per WIPE_RETRY_MS unless forced). */
  run(force = false): Promise<WipeOutcome> {
    if (this.running) return this.running
    if (!force && this.now() - this.lastAttempt < WIPE_RETRY_MS) return Promise.resolve('skipped')
    this.lastAttempt = this.now()
    this.running = this.attempt().finally(() => {
      this.running = null
    })
    return this.running
  }

  private async attempt(): Promise<WipeOutcome> {
    wipePending.value = true
    try {
      await this.deps.pushOutbox()
    } catch {
      /* counted below: whatever did not go stays */
    }
    if ((await this.deps.unsentCount()) > 0) return 'waiting'
    const { db } = this.deps
    await clearAll(db)
    this.deps.clearStorage?.()
    try {
      await this.deps.api.post<void>('/me/wiped')
    } catch {
      // Offline or already signed out: the data is gone either way; the administrator sees
      // "wipe requested" without "wiped" until the device is revoked.
    }
    wipePending.value = false
    wipeNotice.value = WIPE_NOTICE
    await this.deps.endSession()
    // Once more, now that no one is signed in: a sync that was already under way may have written.
    await clearAll(db)
    return 'wiped'
  }
}

async function clearAll(db: WipeDeps['db']): Promise<void> {
  await db.transaction('rw', db.tables, async () => {
    await Promise.all(db.tables.map((t) => t.clear()))
  })
}

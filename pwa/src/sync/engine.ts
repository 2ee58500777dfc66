/**
 * The sync engine: replays the outbox to the server and pulls what changed, safely under any
 * network. Plain TypeScript (no Vue) so it is unit-tested with a fake server.
 *
 * Rules (DESIGN.md, Offline sync):
 * - An item is marked sent only after the server's final success answer for it. A cut at any moment
 *   leaves it `waiting`; the resend carries the same op_id (and a case the same UUID), so the server
 *   answers `duplicate` instead of applying it twice.
 * - Photos go first, by content hash; an operation waits for its photos.
 * - 401 token_expired: the client refreshes and retries; device revoked, 429, 5xx, a 404/405 from
 *   /api/sync/*, offline: nothing is dropped, the engine stops and tries again later with exponential
 *   backoff (or Retry-After).
 * - Operations go in the phone's order; batches are small so that a weak link gets some through.
 */
import { ApiError, MSG_DEVICE_REVOKED, NetworkError, AUTH_DEVICE_REVOKED } from '../core/errors'
import { db, getMeta, setMeta } from '../core/db'
import { PhotoRejected, uploadPhoto, type RawApi } from './photos'
import type { OutboxItem, PushResult, SyncStatus } from './types'

export interface EngineApi extends RawApi {
  ensureFresh(): Promise<void>
  readonly signedIn: boolean
}

export interface Puller {
  /** Pulls changes and reference data; throws NetworkError/ApiError like the rest. */
  pull(api: EngineApi): Promise<void>
}

export interface EngineOptions {
  api: EngineApi
  userId: () => string | number | null
  puller?: Puller
  now?: () => number
  onStatus?: (s: SyncStatus) => void
  /** Called after items changed state (the UI reloads its lists). */
  onItems?: () => void
  /** Called with each item the server confirmed (to refresh local copies). */
  onApplied?: (item: OutboxItem, result: PushResult, body: unknown) => Promise<void> | void
  batchSize?: number
  random?: () => number
}

export const BACKOFF_BASE_MS = 5_000
export const BACKOFF_MAX_MS = 5 * 60_000

/** Delay before the n-th retry (n ≥ 1), with ±20 % jitter so phones don't retry in step. */
export function backoffMs(n: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, n - 1))
  return Math.round(base * (0.8 + 0.4 * random()))
}

/** A 404/405 from /api/sync/*: the server always has both, so it is a wrong address or a proxy in the way. */
export function syncEndpointMissing(status: number): string {
  return `同步接口不可用（HTTP ${status}），稍后自动重试`
}

/** Why the run stopped early: a reason every unsent item keeps (never a reason to drop one). */
class Stop extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | null = null,
    readonly code = '',
  ) {
    super(message)
  }
}

/** How each push status is shown and whether the item is finished. */
function outcome(r: PushResult): { state: OutboxItem['state'] | 'retry'; note: string } {
  const status = r.status === 'duplicate' && r.original_status ? r.original_status : r.status
  // Same case id, different content: a person has to look (the server keeps its copy).
  if (r.code === 'case.id_conflict') return { state: 'attention', note: r.message || '服务器上已有同一编号但内容不同的案件，请联系乡镇综治中心' }
  switch (status) {
    case 'retry':
      return { state: 'retry', note: r.message || '服务器暂未处理，稍后自动重发' }
    case 'applied':
    case 'duplicate':
    case 'pending':
      // e.g. a case logged for another township: its number and where it went.
      // A replay repeats it (the first answer may have been lost on the way).
      return { state: 'done', note: (r.status === 'applied' || r.status === 'duplicate') && r.message ? r.message : '' }
    case 'deferred':
      return { state: 'done', note: '服务器已收到，待相关登记到达后处理' }
    case 'conflict':
      // The server kept both values in the case's log and flagged it for the township to settle.
      return { state: 'done', note: '与另一台设备的修改冲突：已按最后送达的保存，请乡镇综治中心核对' }
    default:
      return { state: 'failed', note: r.message || '服务器拒绝了此项' }
  }
}

export class SyncEngine {
  private running: Promise<void> | null = null
  private rerun: Promise<void> | null = null
  private failures = 0
  private status: SyncStatus = { running: false, lastSyncAt: null, lastError: '', pending: 0, attention: 0, progress: null, nextRunAt: null }
  private readonly o: Required<Pick<EngineOptions, 'now' | 'batchSize' | 'random'>> & EngineOptions

  constructor(opts: EngineOptions) {
    this.o = { now: Date.now, batchSize: 5, random: Math.random, ...opts }
  }

  get state(): SyncStatus {
    return { ...this.status }
  }

  /** Time to wait before the next automatic run after failures (0 when the last run was fine). */
  get nextDelayMs(): number {
    return this.failures ? backoffMs(this.failures, this.o.random) : 0
  }

  /** One run (single-flight: a second call while running waits for the same run). */
  run(opts: { force?: boolean } = {}): Promise<void> {
    if (this.running) {
      // Asked again mid-run (e.g. a note saved while the pull runs): one more run follows this one,
      // so the new item does not wait for the next timer.
      this.rerun ??= this.running.then(() => {
        this.rerun = null
        return this.run(opts)
      })
      return this.rerun
    }
    this.running = this.doRun(opts.force ?? false).finally(() => {
      this.running = null
    })
    return this.running
  }

  async loadStatus(): Promise<void> {
    this.status.lastSyncAt = await getMeta<number | null>('lastSyncAt', null)
    await this.count()
    this.emit()
  }

  private emit(patch: Partial<SyncStatus> = {}): void {
    Object.assign(this.status, patch)
    this.o.onStatus?.({ ...this.status })
  }

  private async count(): Promise<void> {
    const uid = this.o.userId()
    const rows = await db.outbox.where('state').anyOf(['waiting', 'sending', 'failed', 'attention']).toArray()
    const mine = rows.filter((r) => uid === null || r.userId === uid)
    this.status.pending = mine.length
    this.status.attention = mine.filter((r) => r.state === 'attention' || r.state === 'failed').length
  }

  private async doRun(force: boolean): Promise<void> {
    const uid = this.o.userId()
    if (uid === null || !this.o.api.signedIn) return
    this.emit({ running: true, lastError: '', progress: null })
    // Items left `sending` by a closed app were never confirmed: they are simply waiting again.
    await db.outbox.where('state').equals('sending').modify({ state: 'waiting' })
    try {
      await this.o.api.ensureFresh() // refresh the token before replaying anything
      await this.pushAll(uid, force)
      if (this.o.puller) await this.o.puller.pull(this.o.api)
      this.failures = 0
      const now = this.o.now()
      await setMeta('lastSyncAt', now)
      this.emit({ lastSyncAt: now, nextRunAt: null })
    } catch (e) {
      this.failures++
      const stop = this.explain(e)
      const delay = stop.retryAfterMs ?? backoffMs(this.failures, this.o.random)
      this.emit({ lastError: stop.message, nextRunAt: this.o.now() + delay })
    } finally {
      await db.outbox.where('state').equals('sending').modify({ state: 'waiting' })
      await this.count()
      this.emit({ running: false, progress: null })
      this.o.onItems?.()
    }
  }

  private explain(e: unknown): Stop {
    if (e instanceof Stop) return e
    if (e instanceof NetworkError) return new Stop(e.timedOut ? '网络太慢，稍后自动重试' : '没有网络，联网后自动发送')
    if (e instanceof ApiError) {
      if (e.code === AUTH_DEVICE_REVOKED) return new Stop(MSG_DEVICE_REVOKED + '；未发送的记录已保留在本机', null, e.code)
      if (e.status === 401) return new Stop('登录已过期，请重新登录；未发送的记录已保留在本机', null, e.code)
      if (e.status === 429) return new Stop('服务器繁忙，稍后自动重试', (e.retryAfter ?? 30) * 1000, e.code)
      return new Stop(e.message, null, e.code)
    }
    console.warn('sync: unexpected error', e)
    return new Stop('同步出错，稍后自动重试')
  }

  private async due(uid: string | number, force: boolean): Promise<OutboxItem[]> {
    const now = this.o.now()
    const rows = await db.outbox.where('state').equals('waiting').toArray()
    return rows.filter((r) => r.userId === uid && (force || r.nextAttemptAt <= now)).sort((a, b) => a.seq - b.seq)
  }

  private async pushAll(uid: string | number, force: boolean): Promise<void> {
    for (let guard = 0; guard < 1000; guard++) {
      const due = await this.due(uid, force)
      if (!due.length) return
      // A run of consecutive operations the sync endpoint takes, or one that has its own endpoint.
      const viaSync = SYNC_TYPES.has(due[0].type)
      const items = viaSync ? takeWhile(due, (i) => SYNC_TYPES.has(i.type)).slice(0, this.o.batchSize) : due.slice(0, 1)
      await this.uploadPhotos(items)
      const ready = await this.withPhotos(items)
      if (!ready.length) return
      await db.outbox.bulkUpdate(ready.map((i) => ({ key: i.id, changes: { state: 'sending' as const, updatedAt: this.o.now() } })))
      this.o.onItems?.()
      if (viaSync) await this.settle(ready, await this.pushBatch(ready))
      else await this.pushToOwnEndpoint(ready[0])
      this.o.onItems?.()
    }
  }

  /** Items whose photos are all on the server (the others wait, in order). */
  private async withPhotos(items: OutboxItem[]): Promise<OutboxItem[]> {
    const out: OutboxItem[] = []
    for (const item of items) {
      const rows = await db.photos.bulkGet(item.photos)
      if (rows.every((r) => !r || r.uploaded === 1)) out.push(item)
      else break // keep the order: later items wait for this one
    }
    return out
  }

  private async uploadPhotos(items: OutboxItem[]): Promise<void> {
    const shas = [...new Set(items.flatMap((i) => i.photos))]
    const rows = (await db.photos.bulkGet(shas)).filter((r) => r && r.uploaded === 0)
    if (!rows.length) return
    const total = rows.reduce((s, r) => s + r!.bytes, 0) || 1
    let done = 0
    for (const row of rows) {
      const owner = items.find((i) => i.photos.includes(row!.sha256))!
      try {
        await uploadPhoto(this.o.api, row!, (f) => {
          this.emit({ progress: (done + f * row!.bytes) / total })
        })
        await db.photos.update(row!.sha256, { uploaded: 1 })
      } catch (e) {
        if (e instanceof PhotoRejected) {
          // The server will never take these bytes: say so on the item; the rest of it still goes.
          const photos = owner.photos.filter((p) => p !== row!.sha256)
          const payload = { ...owner.payload }
          if (Array.isArray(payload.photos)) payload.photos = (payload.photos as string[]).filter((p) => p !== row!.sha256)
          owner.photos = photos
          owner.payload = payload
          await db.outbox.update(owner.id, { photos, payload, lastError: `一张照片无法上传（${e.message}），已从此项移除` })
          continue
        }
        await this.markRetry(items, e)
        throw e
      }
      done += row!.bytes
      this.emit({ progress: done / total })
    }
  }

  private async markRetry(items: OutboxItem[], e: unknown): Promise<void> {
    const stop = this.explain(e)
    const next = this.o.now() + (stop.retryAfterMs ?? backoffMs(this.failures + 1, this.o.random))
    await db.outbox.bulkUpdate(
      items.map((i) => ({
        key: i.id,
        changes: { state: 'waiting' as const, attempts: i.attempts + 1, lastError: stop.message, lastCode: stop.code, nextAttemptAt: next, updatedAt: this.o.now() },
      })),
    )
  }

  /** POST /api/sync/push. */
  private async pushBatch(items: OutboxItem[]): Promise<PushResult[]> {
    const ops = items.map((i) => ({
      op_id: i.id,
      type: i.type,
      entity_id: i.entityId,
      base_version: i.baseVersion,
      prev_op_id: i.prevOpId ?? null,
      payload: i.payload,
      client_time: i.clientTime,
    }))
    let res: Response
    try {
      res = await this.o.api.raw('POST', '/sync/push', { body: { ops } })
    } catch (e) {
      await this.markRetry(items, e)
      throw e
    }
    if (!res.ok) {
      const err = await ApiError.fromResponse(res)
      if (res.status === 404 || res.status === 405) {
        // Not an answer about these ops: they all stay unsent and go again with a later run.
        const stop = new Stop(syncEndpointMissing(res.status) + '；未发送的记录已保留在本机', null, err.code)
        await this.markRetry(items, stop)
        throw stop
      }
      if (res.status >= 500 || res.status === 429 || res.status === 408) {
        await this.markRetry(items, err)
        throw err
      }
      // The whole batch was refused (e.g. 400 on a malformed op): fail each item with the reason.
      await db.outbox.bulkUpdate(
        items.map((i) => ({ key: i.id, changes: { state: 'failed' as const, attempts: i.attempts + 1, lastError: err.message, lastCode: err.code, updatedAt: this.o.now() } })),
      )
      return []
    }
    const body = (await res.json()) as { results?: PushResult[] }
    return body.results ?? []
  }

  private async settle(items: OutboxItem[], results: PushResult[]): Promise<void> {
    const byId = new Map(results.map((r) => [r.op_id, r]))
    for (const item of items) {
      const r = byId.get(item.id)
      if (!r) {
        // Not answered: not confirmed, so it stays waiting.
        await db.outbox.update(item.id, { state: 'waiting', updatedAt: this.o.now() })
        continue
      }
      await this.finish(item, r, r)
    }
  }

  private async finish(item: OutboxItem, r: PushResult, body: unknown): Promise<void> {
    const { state, note } = outcome(r)
    const now = this.o.now()
    if (state === 'retry') {
      // Nothing was stored: it stays in the outbox and goes again with the next run.
      await db.outbox.update(item.id, { state: 'waiting', attempts: item.attempts + 1, lastError: note, lastCode: r.code ?? '', nextAttemptAt: now + backoffMs(item.attempts + 1, this.o.random), updatedAt: now })
      return
    }
    await db.outbox.update(item.id, {
      state,
      attempts: item.attempts + 1,
      lastError: state === 'done' ? note : note || r.code || '',
      lastCode: r.code ?? '',
      sentAt: state === 'done' ? now : null,
      updatedAt: now,
      progress: 1,
      result: { status: r.status, code: r.code ?? null, server_version: r.server_version ?? null },
    })
    if (state === 'done') await this.o.onApplied?.({ ...item, state }, r, body)
  }

  /** An operation /api/sync/push does not take, through its own idempotent endpoint. */
  private async pushToOwnEndpoint(item: OutboxItem): Promise<void> {
    const route = ownRoute(item)
    if (!route) {
      // Only an item stored by another version of the app can get here: kept, and shown.
      await this.finish(item, { op_id: item.id, status: 'rejected', code: 'sync.unknown_type', message: `此版本无法发送此类记录（${item.type}）` }, null)
      return
    }
    let res: Response
    try {
      res = await this.o.api.raw('POST', route, { body: item.payload })
    } catch (e) {
      await this.markRetry([item], e)
      throw e
    }
    let body: unknown = null
    try {
      body = await res.clone().json()
    } catch {
      /* not JSON */
    }
    if (res.ok) {
      await this.finish(item, { op_id: item.id, status: 'applied', server_version: (body as { version?: number })?.version ?? null }, body)
      return
    }
    const err = await ApiError.fromResponse(res)
    if (res.status >= 500 || res.status === 429 || res.status === 408) {
      await this.markRetry([item], err)
      throw err
    }
    await this.finish(item, { op_id: item.id, status: 'rejected', code: err.code, message: err.message }, body)
  }
}

/** Operation types that POST /api/sync/push applies (all that this version makes); an item of another
 * type, stored by an older version of the app, goes to its own endpoint (ownRoute). */
export const SYNC_TYPES = new Set(['case.create', 'case.update', 'case.note', 'case.action', 'visit.record', 'screening.record'])

function takeWhile<T>(xs: T[], ok: (x: T) => boolean): T[] {
  const out: T[] = []
  for (const x of xs) {
    if (!ok(x)) break
    out.push(x)
  }
  return out
}

/** The endpoint of an operation that is not among SYNC_TYPES. */
function ownRoute(item: OutboxItem): string | null {
  void item
  return null
}

/**
 * The app's sync: one engine, a reactive status for the screens, and the triggers: on start, when
 * the network comes back, when the app comes to the front, every minute while open, on a message
 * from the service worker (Background Sync), and right after something is saved.
 */
import { reactive, readonly } from 'vue'
import { api, session } from '../core/session'
import { db } from '../core/db'
import { SyncEngine } from './engine'
import { DataPuller, caseRecord, dropLocal } from './pull'
import { keepsOfflineCopy } from './offline'
import { prunePhotos, pruneSent } from './outbox'
import type { SyncStatus } from './types'
import type { CaseView } from '../cases/types'

const state = reactive<SyncStatus & { tick: number }>({
  running: false,
  lastSyncAt: null,
  lastError: '',
  pending: 0,
  attention: 0,
  progress: null,
  nextRunAt: null,
  /** Bumped whenever local data changed, so views reload from IndexedDB. */
  tick: 0,
})
export const sync = readonly(state)

export function touch(): void {
  state.tick++
}

export const engine = new SyncEngine({
  api,
  userId: () => session.user?.id ?? null,
  puller: new DataPuller(() => keepsOfflineCopy(session.user)),
  onStatus: (s) => Object.assign(state, s),
  onItems: touch,
  async onApplied(item, result, body) {
    if (result.code === 'case.created_elsewhere') {
      // Logged where this user does not work: the server keeps it for that township; the phone's
      // copy goes (the sent item keeps the number and where it went).
      await db.cases.delete(item.entityId)
      return
    }
    if (item.type.startsWith('case.')) {
      const unsent = await db.outbox.where('entityId').equals(item.entityId).filter((i) => i.state !== 'done').count()
      const prev = await db.cases.get(item.entityId)
      // Once nothing of this case is left in the outbox, its local echoes give way to the server's view.
      const base = prev && !unsent ? dropLocal(prev) : prev
      if (base && prev) await db.cases.put({ ...base, localOnly: false })
      const view = body && typeof body === 'object' && 'number' in body ? (body as CaseView) : null
      if (view) await db.cases.put({ ...caseRecord(view, 'events' in view, base), localPhotos: prev?.localPhotos ?? [] })
      else await refreshCase(item.entityId).catch(() => {})
    }
    if (item.type === 'visit.record') await db.visits.update(item.entityId, { state: 'done' })
  },
})

/** GET /api/cases/{id} into the local copy (full detail). */
export async function refreshCase(id: string): Promise<void> {
  const view = await api.get<CaseView>(`/cases/${id}`)
  const prev = await db.cases.get(id)
  await db.cases.put({ ...caseRecord(view, true, prev), localPhotos: prev?.localPhotos ?? [] })
  touch()
}

let timer: ReturnType<typeof setTimeout> | null = null
let started = false

/** Runs a sync now (and schedules the next one). `force` also retries items waiting for backoff. */
export async function syncNow(force = false): Promise<void> {
  if (!session.user) return
  await engine.run({ force })
  touch()
  schedule()
}

function schedule(): void {
  if (timer) clearTimeout(timer)
  // After failures: the backoff delay. Otherwise: every minute while unsent items remain, else 5.
  const delay = engine.nextDelayMs || (state.pending ? 60_000 : 5 * 60_000)
  timer = setTimeout(() => {
    if (typeof document === 'undefined' || document.visibilityState === 'visible') void syncNow()
    else schedule()
  }, delay)
}

/** After saving to the outbox: send at once when online, and ask for Background Sync as a fallback. */
export async function afterEnqueue(): Promise<void> {
  await engine.loadStatus()
  touch()
  void registerBackgroundSync()
  if (navigator.onLine) void syncNow(true)
}

async function registerBackgroundSync(): Promise<void> {
  try {
    const reg = await navigator.serviceWorker?.ready
    const s = (reg as ServiceWorkerRegistration & { sync?: { register(tag: string): Promise<void> } })?.sync
    await s?.register('fengqiao-outbox')
  } catch {
    /* not supported (Firefox, Safari) or not allowed: the other triggers still send */
  }
}

/** Sets up the triggers once and runs a first sync; false when already started. */
export function startSync(): boolean {
  if (started || typeof window === 'undefined') return false
  started = true
  // Ask the browser not to evict IndexedDB (unsent cases and photos live there).
  void navigator.storage?.persist?.().catch(() => false)
  void engine.loadStatus()
  void pruneSent()
  void prunePhotos()
  window.addEventListener('online', () => void syncNow(true))
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void syncNow()
  })
  navigator.serviceWorker?.addEventListener('message', (e: MessageEvent) => {
    if (e.data?.type === 'SYNC_NOW') void syncNow(true)
    if (e.data?.type === 'PUSH') void syncNow()
    if (e.data?.type === 'PUSH_RESUBSCRIBED') void api.post('/push/subscriptions', e.data.subscription).catch(() => {})
    if (e.data?.type === 'NAVIGATE' && typeof e.data.url === 'string') window.location.assign(e.data.url)
  })
  void syncNow()
  return true
}
